// @ts-check
// The live feed over /ws: reconnects with capped, jittered backoff, answers
// pings, drops duplicate deliveries (at-least-once) by event_id, and tells the
// page when it (re)connects so the page can catch up on what it missed.

import { credentials } from "./api.js";

const MAX_SEEN = 1000;
const BASE_DELAY = 500;
const MAX_DELAY = 8000;
const SILENCE_LIMIT = 75_000; // the server pings every 25 s

export class LiveFeed extends EventTarget {
  constructor() {
    super();
    this.socket = null;
    this.attempt = 0;
    this.timer = 0;
    this.watchdog = 0;
    this.stopped = true;
    this.seen = new Set();
    this.lastChange = "";  // event_id of the last task change: where a reconnect resumes
    this.state = "connecting";
    this.onVisible = () => {
      if (document.visibilityState === "visible") this.reconnectSoon();
    };
    this.onOnline = () => this.reconnectSoon();
    this.onOffline = () => this.setState("offline");
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    document.addEventListener("visibilitychange", this.onVisible);
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.lastChange = "";
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    document.removeEventListener("visibilitychange", this.onVisible);
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close(1000, "signed out");
    }
  }

  setState(state, detail = {}) {
    if (this.state === state && !detail.force) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, ...detail } }));
  }

  connect() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const token = credentials.token;
    if (!token) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    // Resume after the last task change received: the server sends what was
    // missed first (or {"type": "resync"}, and the board refetches on open anyway).
    const since = this.lastChange ? `&since=${encodeURIComponent(this.lastChange)}` : "";
    const url = `${scheme}//${location.host}/ws?token=${encodeURIComponent(token)}${since}`;
    let opened = false;
    let socket;
    try {
      socket = new WebSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    socket.addEventListener("open", () => {
      if (socket !== this.socket) return;
      opened = true;
      const wasRetrying = this.attempt > 0;
      this.attempt = 0;
      this.touch();
      this.setState("live");
      this.dispatchEvent(new CustomEvent("open", { detail: { reconnected: wasRetrying } }));
    });
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      this.touch();
      this.receive(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      clearTimeout(this.watchdog);
      if (this.stopped) return;
      // A refusal before the handshake completes may mean the token expired.
      if (!opened || event.code === 4401) this.dispatchEvent(new CustomEvent("refused"));
      this.scheduleReconnect();
    });
  }

  receive(raw) {
    let message;
    try { message = JSON.parse(raw); } catch { return; }
    if (!message || typeof message !== "object") return;
    if (message.type === "ping") {
      this.send({ type: "pong" });
      return;
    }
    const id = message.event_id;
    if (id) {
      if (this.seen.has(id)) return;
      this.seen.add(id);
      if (this.seen.size > MAX_SEEN) this.seen.delete(this.seen.values().next().value);
      if (typeof message.type === "string" && message.type.startsWith("task.")) this.lastChange = id;
    }
    this.dispatchEvent(new CustomEvent("message", { detail: message }));
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  /** Silence longer than a few missed pings means a dead connection. */
  touch() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      if (this.socket) this.socket.close(4000, "no ping");
    }, SILENCE_LIMIT);
  }

  scheduleReconnect() {
    if (this.stopped) return;
    this.attempt += 1;
    const ceiling = Math.min(MAX_DELAY, BASE_DELAY * 2 ** (this.attempt - 1));
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.setState(navigator.onLine === false ? "offline" : "reconnecting", {
      retryIn: delay, force: true,
    });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Try now instead of waiting out the backoff (tab visible again, network back). */
  reconnectSoon() {
    if (this.stopped || this.socket) return;
    this.attempt = Math.max(this.attempt, 1);
    this.connect();
  }
}
