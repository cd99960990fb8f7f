// The moderator's panels: the review queue (held comments: approve or reject) and the chat
// settings. Both are modal <dialog>s; the rules live in moderation.js. User text only through
// textContent.

import { el as makeEl } from "./dom.js";
import { describeActionFailure, settingsPatch } from "./moderation.js";

/** `http`: http.js's; `session()`: the signed-in reader or null; `notify(message, isError)`: a
 * toast on the page; `expired(message)`: the token was refused (sign out). */
export function setupPanels({ doc, config, http, session, notify, expired }) {
  const $ = (id) => doc.getElementById(id);
  const el = (tag, className, text) => makeEl(doc, tag, className, text);
  const review = $("review-dialog");
  const settings = $("settings-dialog");
  let reviewLoading = false;
  let termsEdited = false;

  for (const dialog of [review, settings]) {
    dialog.addEventListener("click", (event) => {
      if (event.target.closest("[data-close]")) dialog.close();
      else if (event.target === dialog && outside(dialog, event)) dialog.close(); // on the backdrop
    });
  }

  function outside(dialog, event) {
    const r = dialog.getBoundingClientRect();
    return event.clientX < r.left || event.clientX > r.right || event.clientY < r.top || event.clientY > r.bottom;
  }

  function token() {
    return session()?.token ?? null;
  }

  function failed(what, result, status) {
    if (result.status === 401) {
      review.close();
      settings.close();
      expired(describeActionFailure(what, 401));
      return;
    }
    status.textContent = describeActionFailure(what, result.status, result.error);
    status.classList.add("error");
  }

  function setStatus(node, message) {
    node.textContent = message;
    node.classList.remove("error");
  }

  // -- review queue ---------------------------------------------------------------------------

  function showCount(n) {
    const badge = $("review-count");
    badge.textContent = String(n);
    badge.hidden = n === 0;
    $("open-review").setAttribute("aria-label", n ? `Review queue, ${n} waiting` : "Review queue");
  }

  async function loadReview() {
    if (reviewLoading) return;
    reviewLoading = true;
    const status = $("review-status");
    setStatus(status, "Loading…");
    $("review-refresh").disabled = true;
    const result = await http.request(config.api.review, { token: token() });
    reviewLoading = false;
    $("review-refresh").disabled = false;
    if (!result.ok || !Array.isArray(result.body?.comments)) {
      failed("review", result, status);
      return;
    }
    setStatus(status, "");
    renderReview(result.body.comments);
  }

  function renderReview(comments) {
    const list = $("review-list");
    list.replaceChildren(...comments.filter((c) => c && typeof c.id === "string").map(reviewItem));
    $("review-empty").hidden = list.childElementCount > 0;
    showCount(list.childElementCount);
  }

  function reviewItem(comment) {
    const item = el("li", "review-item");
    item.dataset.id = comment.id;
    const name = typeof comment.user?.name === "string" && comment.user.name ? comment.user.name : "someone";
    const meta = el("p", "meta");
    meta.append(el("span", "author", name));
    if (Number.isFinite(comment.ts) && comment.ts > 0) {
      const when = new Date(comment.ts);
      const time = el("time", "when", when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
      time.dateTime = when.toISOString();
      meta.append(time);
    }
    if (comment.parent_id) meta.append(el("span", "tag", "reply"));
    const text = el("p", "text", typeof comment.text === "string" ? comment.text : "");
    const actions = el("div", "row review-actions");
    const approve = el("button", "approve", "Approve");
    approve.type = "button";
    approve.setAttribute("aria-label", `Approve ${name}'s comment`);
    const reject = el("button", "reject", "Reject");
    reject.type = "button";
    reject.setAttribute("aria-label", `Reject ${name}'s comment`);
    actions.append(approve, reject);
    item.append(meta, text, actions);
    return item;
  }

  $("review-list").addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    const item = button?.closest(".review-item");
    if (!button || !item) return;
    const what = button.classList.contains("approve") ? "approve" : "reject";
    for (const b of item.querySelectorAll("button")) b.disabled = true;
    const status = $("review-status");
    setStatus(status, what === "approve" ? "Approving…" : "Rejecting…");
    const result = await http.request(`${config.api.comment}${encodeURIComponent(item.dataset.id)}/${what}`, {
      method: "POST",
      token: token(),
      body: {},
    });
    if (!result.ok) {
      for (const b of item.querySelectorAll("button")) b.disabled = false;
      failed(what, result, status);
      return;
    }
    // keep the focus in the list: on the next item's first button, else on Refresh
    const next = item.nextElementSibling ?? item.previousElementSibling;
    item.remove();
    const left = $("review-list").childElementCount;
    $("review-empty").hidden = left > 0;
    showCount(left);
    setStatus(status, what === "approve" ? "Approved: it is now in the chat." : "Rejected.");
    (next?.querySelector("button") ?? $("review-refresh")).focus();
  });

  $("review-refresh").addEventListener("click", loadReview);
  $("open-review").addEventListener("click", () => {
    review.showModal();
    loadReview();
  });

  // -- settings -------------------------------------------------------------------------------

  async function loadSettings() {
    const status = $("settings-status");
    setStatus(status, "Loading the current settings…");
    $("settings-save").disabled = true;
    const result = await http.request(config.api.settings, { token: token() }); // moderators only: terms included
    if (!result.ok || result.body === null) {
      failed("load", result, status);
      return;
    }
    const current = result.body;
    $(current.chat === "closed" ? "set-chat-closed" : "set-chat-open").checked = true;
    $("set-slow").value = String(Number.isSafeInteger(current.slow_mode_s) ? current.slow_mode_s : 0);
    $("set-hold").checked = Boolean(current.hold_for_review);
    $("set-reports").value = Number.isSafeInteger(current.reports_to_hold) ? String(current.reports_to_hold) : "";
    $("set-terms").value = Array.isArray(current.blocked_terms) ? current.blocked_terms.join("\n") : "";
    termsEdited = false;
    setStatus(status, "");
    $("settings-save").disabled = false;
  }

  $("set-terms").addEventListener("input", () => {
    termsEdited = true;
  });

  $("open-settings").addEventListener("click", () => {
    settings.showModal();
    loadSettings();
  });

  $("settings-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = $("settings-status");
    const { patch, error } = settingsPatch({
      chat: $("set-chat-closed").checked ? "closed" : $("set-chat-open").checked ? "open" : "",
      slowModeS: $("set-slow").value,
      holdForReview: $("set-hold").checked,
      termsText: $("set-terms").value,
      termsEdited,
      reportsToHold: $("set-reports").value,
    });
    if (error) {
      status.textContent = error;
      status.classList.add("error");
      return;
    }
    $("settings-save").disabled = true;
    setStatus(status, "Saving…");
    const result = await http.request(config.api.settings, { method: "PATCH", token: token(), body: patch });
    $("settings-save").disabled = false;
    if (!result.ok) {
      failed("settings", result, status);
      return;
    }
    setStatus(status, "");
    settings.close();
    notify("Chat settings saved.");
  });

  return {
    /** Close the panels (on signing out). */
    close() {
      review.close();
      settings.close();
      showCount(0);
    },
  };
}
