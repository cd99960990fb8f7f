// The viewer page, assembled: start() makes every part once, for one page, and wires them.
//
//   connection.js   MQTT over WebSocket to the brokers: failover, backoff, which topics to hold
//   feed.js         what comes in (MQTT and HTTP history), handed to stream.js, which decides
//                   what to render and what to fetch
//   commentlist.js  the comments on screen (render.js builds each one)
//   actions.js      the buttons of a comment: thread, reply, react, the moderator's menu
//   composer.js     the posting form; signin.js and session.js who is reading
//   livebar.js      live reactions; panels.js the moderator's review queue and settings
//   replay.js       an ended video: a clock, a seek bar and its comments at their pos_ms
//   volume.js       when to follow the sampled feed instead of every comment (feed.js counts)
//   http.js         every HTTP request; notices.js every message in words
//
// main.js calls start() with the browser's MQTT.js; nothing runs when a module is imported.

import { CommentActions } from "./actions.js";
import { CommentList } from "./commentlist.js";
import { Composer } from "./composer.js";
import { Connection } from "./connection.js";
import { Feed } from "./feed.js";
import { createHttp } from "./http.js";
import { LiveBar } from "./livebar.js";
import { isModerator } from "./moderation.js";
import { Notices } from "./notices.js";
import { setupPanels } from "./panels.js";
import { CommentReactions, LiveTotals } from "./reactions.js";
import { Replay } from "./replay.js";
import { Session } from "./session.js";
import { SignIn } from "./signin.js";
import { Stream } from "./stream.js";
import { FULL_AGAIN, SAMPLE, SAMPLE_NOTE } from "./volume.js";

/** Start the page in `doc` (the window `win`); `mqtt`: MQTT.js. Returns the parts, for a console. */
export function start({ doc, win, mqtt }) {
  const $ = (id) => doc.getElementById(id);
  const config = JSON.parse($("viewer-config").textContent);
  const storage = win.sessionStorage;
  const http = createHttp();
  const stream = new Stream();
  const reactions = new CommentReactions();
  const session = new Session(storage);
  const notices = new Notices({ toast: $("toast"), status: $("compose-status"), announcer: $("announcer") });
  const say = (message) => notices.say(message);

  const list = new CommentList({ doc, reactions, say, hooks: { pinned: () => actions.refreshOpenMenus() } });
  const signIn = new SignIn({
    doc,
    config,
    http,
    session,
    notices,
    hooks: {
      changed(current) {
        if (current === null || !isModerator(current.roles)) panels.close();
        actions.closeAllMenus();
        composer.showClosed();
        composer.showSlowMode();
        composer.update();
        actions.loadMine();
      },
    },
  });
  const composer = new Composer({
    doc,
    config,
    http,
    session,
    notices,
    signIn,
    hooks: { posted: (parentId) => actions.openThread(parentId) },
  });
  const feed = new Feed({
    config,
    http,
    stream,
    reactions,
    hooks: {
      render: (ops) => list.enqueue(ops),
      reactionsChanged: (id) => list.renderReactions(id),
      chatState(state) {
        composer.showChatState(state);
        liveBar.showViewers(state);
        if (state.status === "ended") showReplay();
      },
      liveReactions: (video, retained) => liveBar.onSnapshot(video, retained),
      follow(mode) {
        // too busy to show every comment: the sampled feed, said in words (volume.js)
        const sampled = mode === SAMPLE;
        $("sample-note").hidden = !sampled;
        $("sample-note").textContent = sampled ? SAMPLE_NOTE : ""; // role=status: said politely
        if (!sampled) say(FULL_AGAIN);
        connection.follow(sampled ? config.topics.sample : config.topics.comments, () => feed.followed(mode));
      },
    },
  });
  const actions = new CommentActions({
    doc,
    config,
    http,
    session,
    signIn,
    notices,
    list,
    feed,
    stream,
    reactions,
    composer,
    storage,
  });
  const liveBar = new LiveBar({
    doc,
    config,
    http,
    session,
    signIn,
    live: new LiveTotals(),
    reducedMotion: win.matchMedia("(prefers-reduced-motion: reduce)"),
    failed: (what, result) => actions.failed(what, result),
  });
  const panels = setupPanels({
    doc,
    config,
    http,
    session: () => session.current,
    notify: (message, isError) => notices.toast(message, isError),
    expired: (message) => signIn.signOut(message),
  });
  const connection = new Connection({
    mqtt,
    urls: config.brokerUrls,
    topics: config.topics,
    hooks: {
      status(state, text) {
        $("connection").dataset.state = state;
        $("connection-text").textContent = text;
      },
      say,
      live: (again) => feed.live(again),
      message: (topic, payload, retained) => feed.receive(topic, payload, retained),
    },
  });

  // An ended video (at load, or ended while watched) is shown as its replay instead of the stream.
  let replay = null;
  async function showReplay() {
    if (replay !== null) return;
    replay = "loading";
    let video;
    try {
      video = await http.getJSON(config.api.video); // started_ts and ended_ts
    } catch {
      replay = null; // the next state message tries again
      return;
    }
    replay = new Replay({ doc, win, http, url: `${config.api.video}/replay`, video });
    for (const part of doc.querySelectorAll(".stream-wrap, .live-bar")) part.hidden = true;
    replay.show();
  }

  list.bind();
  actions.bind();
  liveBar.bind();
  composer.bind();
  signIn.bind();
  win.addEventListener("online", () => connection.retryNow());
  feed.loadVideoState();
  connection.connect();
  return { config, stream, session, connection, feed, list, composer, replay: () => replay };
}
