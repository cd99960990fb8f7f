// Signing in and out on the page: the development sign-in form (when the server offers it), the
// token form (when it does not), the sign-out button, and what the page shows for who is reading
// (the app's role, the moderator's tools, the composer). The session itself is session.js.

import { isModerator, tokenClaims } from "./moderation.js";
import { requestDevToken } from "./session.js";

export class SignIn {
  /** `hooks.changed(current)`: after the view is updated for a new session (or none). */
  constructor({ doc, config, http, session, notices, hooks }) {
    this.$ = (id) => doc.getElementById(id);
    this.devToken = config.api.devToken;
    this.http = http;
    this.session = session;
    this.notices = notices;
    this.hooks = hooks;
  }

  /** Listen to the forms, and show who is reading. */
  bind() {
    const $ = this.$;
    $("sign-in").addEventListener("submit", (event) => {
      event.preventDefault();
      this.signInDev();
    });
    $("token-sign-in").addEventListener("submit", (event) => {
      event.preventDefault();
      this.signInWithToken();
    });
    $("sign-out").addEventListener("click", () => this.signOut(""));
    this.session.onChange(() => this.show());
    this.show();
  }

  async signInDev() {
    const $ = this.$;
    const name = $("sign-in-name").value.trim();
    if (!name) {
      this.notices.status("Type a name to sign in.", true);
      return;
    }
    const got = await requestDevToken(this.http, this.devToken, { name, moderator: $("sign-in-moderator").checked });
    if (got.error) {
      this.notices.status(got.error, true);
      return;
    }
    this.session.set({ token: got.token, name });
    this.notices.status("");
    $("compose-text").focus();
  }

  signInWithToken() {
    const $ = this.$;
    const token = $("token-input").value.trim();
    const name = tokenClaims(token)?.name ?? null;
    if (name === null) {
      this.notices.status("That does not look like a token.", true);
      return;
    }
    $("token-input").value = "";
    this.session.set({ token, name });
    this.notices.status("");
  }

  /** Sign out, saying why (`message`, "" for a sign-out asked for), and offer to sign in again. */
  signOut(message) {
    this.session.set(null);
    this.notices.status(message, Boolean(message));
    this.focusSignIn();
  }

  /** Whether the reader is signed in; if not, say so and take them to the sign-in. */
  need(message) {
    if (this.session.signedIn) return true;
    this.notices.status(message, true);
    this.focusSignIn();
    return false;
  }

  focusSignIn() {
    (this.devToken ? this.$("sign-in-name") : this.$("token-input")).focus();
  }

  show() {
    const $ = this.$;
    const current = this.session.current;
    const signedIn = current !== null;
    const moderator = signedIn && isModerator(current.roles);
    $("app").dataset.role = moderator ? "moderator" : signedIn ? "viewer" : "anonymous";
    $("mod-tools").hidden = !moderator;
    $("compose").hidden = !signedIn;
    $("sign-in").hidden = signedIn || !this.devToken;
    $("token-sign-in").hidden = signedIn || Boolean(this.devToken);
    if (signedIn) $("who-text").textContent = `Signed in as ${current.name}.`;
    this.hooks.changed(current);
  }
}
