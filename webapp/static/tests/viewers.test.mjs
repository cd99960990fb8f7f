import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { LiveBar } from "../livebar.js";

function bar() {
  const els = { "viewers-line": { hidden: true, title: "" }, viewers: { textContent: "0" } };
  const doc = { getElementById: (id) => els[id] ?? null };
  const config = { api: { liveReactions: "/api/videos/v1/reactions" } };
  return { liveBar: new LiveBar({ doc, config }), els };
}

describe("LiveBar.showViewers (who is watching)", () => {
  it("shows the state's count once there is one, the peak in the title", () => {
    const { liveBar, els } = bar();
    liveBar.showViewers({ status: "live" }); // an older bridge, or the API before any count
    assert.equal(els["viewers-line"].hidden, true);
    liveBar.showViewers({ viewers: 12, peak_viewers: 30 });
    assert.equal(els["viewers-line"].hidden, false);
    assert.equal(els.viewers.textContent, "12");
    assert.equal(els["viewers-line"].title, "12 watching now, 30 at most so far");
    liveBar.showViewers({ viewers: 12345, peak_viewers: 20000 });
    assert.equal(els.viewers.textContent, "12K");
    liveBar.showViewers({ viewers: -1 });
    liveBar.showViewers({ viewers: "many" });
    assert.equal(els.viewers.textContent, "12K");
  });
});
