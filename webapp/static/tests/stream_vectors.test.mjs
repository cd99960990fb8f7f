// The shared cases of the client rules (tests/vectors/stream.json) run against the page's
// stream.js; tests/unit/test_stream_vectors.py runs the same cases against the Python library's
// Sequencer. The file's `about` says what a case is.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { Stream } from "../stream.js";

const VECTORS = JSON.parse(readFileSync(new URL("../../../tests/vectors/stream.json", import.meta.url), "utf8"));
const DEFAULTS = VECTORS.comment_defaults;

const full = (raw) => (raw !== null && typeof raw === "object" && !Array.isArray(raw) ? { ...DEFAULTS, ...raw } : raw);
const fullEvent = (raw) => (raw !== null && typeof raw === "object" && raw.comment && typeof raw.comment === "object" ? { ...raw, comment: full(raw.comment) } : raw);

/** The page as the operations build it: the top-level comments in DOM order (each "add" goes
 * before the id it names), the stream's replies of those, and what was delivered how often. */
class Screen {
  constructor(stream) {
    this.stream = stream;
    this.list = []; // top-level ids, as the page's <ol> has them
    this.seqs = new Map();
    this.added = new Map(); // id -> times added
    this.removed = new Map(); // id -> times removed
  }

  apply(ops) {
    for (const op of ops) {
      if (op.op === "add") {
        const id = op.comment.id;
        const times = (this.added.get(id) ?? 0) + 1;
        this.added.set(id, times);
        assert.ok(times <= (this.removed.get(id) ?? 0) + 1, `${id} delivered twice`);
        assert.ok(!this.list.includes(id), `${id} is on screen twice`);
        const at = op.before === null ? -1 : this.list.indexOf(op.before);
        if (at < 0) this.list.push(id);
        else this.list.splice(at, 0, id);
        this.seqs.set(id, op.comment.seq);
      } else if (op.op === "remove") {
        const at = this.list.indexOf(op.id);
        if (at >= 0) {
          this.list.splice(at, 1);
          this.removed.set(op.id, (this.removed.get(op.id) ?? 0) + 1);
        }
      }
    }
  }

  /** Top-level comments and their replies, in seq order (the top-level ones keep the DOM's order). */
  shown() {
    const seqOf = (id) => this.seqs.get(id);
    const tops = [...this.list];
    for (let i = 1; i < tops.length; i += 1) {
      assert.ok(seqOf(tops[i - 1]) < seqOf(tops[i]), `out of seq order on screen: ${tops}`);
    }
    const replies = [...this.stream.replies].filter(([, r]) => this.list.includes(r.parentId)).sort((a, b) => a[1].seq - b[1].seq);
    const out = [];
    let r = 0;
    for (const id of tops) {
      while (r < replies.length && replies[r][1].seq < seqOf(id)) out.push(replies[r++][0]);
      out.push(id);
    }
    while (r < replies.length) out.push(replies[r++][0]);
    return out;
  }
}

function run(testCase) {
  const limit = testCase.page_size ?? 200;
  const history = (testCase.history ?? []).map(full).sort((a, b) => a.seq - b.seq);
  const stream = new Stream();
  const screen = new Screen(stream);
  const gapAfter = () => (stream.resync ? stream.lastSeq : stream.gap === null ? null : stream.gap[0]);
  for (const step of testCase.steps) {
    if ("recent" in step) {
      const snapshot = Array.isArray(step.recent.comments) ? { ...step.recent, comments: step.recent.comments.map(full) } : step.recent;
      screen.apply(stream.onRecent(snapshot, { retained: step.retained ?? true }));
    } else if ("events" in step) {
      screen.apply(stream.onEvents(Array.isArray(step.events) ? step.events.map(fullEvent) : step.events));
    } else if ("reconnect" in step) {
      stream.reconnected();
    } else if ("serve" in step) {
      for (let n = 0; ; n += 1) {
        assert.ok(n < 1000, "history requests never end");
        const request = stream.takeBackfill();
        if (request === null) break;
        const page = history.filter((c) => c.seq > request.afterSeq).slice(0, limit);
        screen.apply(stream.onBackfill(request, page, limit));
      }
    } else if ("expect" in step) {
      const want = step.expect;
      if ("shown" in want) assert.deepEqual(screen.shown(), want.shown, "shown");
      if ("last_seq" in want) assert.equal(stream.lastSeq, want.last_seq, "last_seq");
      if ("pinned" in want) assert.equal(stream.pinned?.id ?? null, want.pinned, "pinned");
      if ("gap_after" in want) assert.equal(gapAfter(), want.gap_after, "gap_after");
    } else {
      assert.fail(`unknown step ${JSON.stringify(step)}`);
    }
  }
}

describe("shared stream vectors (tests/vectors/stream.json)", () => {
  for (const testCase of VECTORS.cases) {
    it(testCase.name, () => run(testCase));
  }
});
