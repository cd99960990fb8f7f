// What the page tells the reader in words: a toast over the stream (after an action), the status
// line under the composer (posting and signing in), and the screen-reader announcer.

import { BROWSER_TIMERS } from "./timers.js";

export const TOAST_MS = 5000;

export class Notices {
  /** `elements`: {toast, status, announcer}, the template's. */
  constructor({ toast, status, announcer }, timers = BROWSER_TIMERS) {
    this.elements = { toast, status, announcer };
    this.timers = timers;
    this.toastTimer = 0;
  }

  /** A short message over the stream, said politely to screen readers; gone after TOAST_MS. */
  toast(message, isError = false) {
    const toast = this.elements.toast;
    toast.textContent = message;
    toast.classList.toggle("error", isError);
    this.timers.clearTimeout(this.toastTimer);
    this.toastTimer = this.timers.setTimeout(() => {
      toast.textContent = "";
    }, TOAST_MS);
  }

  /** The composer's status line ("" clears it). */
  status(message, isError = false) {
    const status = this.elements.status;
    status.textContent = message;
    status.classList.toggle("error", isError);
  }

  get statusText() {
    return this.elements.status.textContent;
  }

  /** Tell screen-reader users something once, politely. */
  say(message) {
    this.elements.announcer.textContent = message;
  }
}
