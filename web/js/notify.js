// @ts-check
// Toasts, the notifications inbox, and the browser's own notifications for
// reminders that fire while the page is in the background.

import { api } from "./api.js";
import { $, announce, clear, h } from "./dom.js";
import { icon } from "./icons.js";
import { describeWhen, relativeAgo } from "./time.js";

export class Toaster {
  constructor(root) {
    this.root = root;
  }

  /** tone: info | success | error | reminder. Returns a function that dismisses it. */
  show({ title, body = "", tone = "info", actions = [], timeout }) {
    const close = () => {
      clearTimeout(timer);
      el.classList.add("leaving");
      setTimeout(() => el.remove(), 180);
    };
    const buttons = actions.map((a) => h("button", {
      type: "button", class: a.primary ? "primary small" : "ghost small",
      onclick: () => { a.onClick(); close(); },
    }, a.label));
    const el = h("div", { class: `toast toast-${tone}`, role: tone === "error" ? "alert" : "status" },
      h("div", { class: "toast-icon", "aria-hidden": "true" },
        icon(tone === "reminder" ? "bell" : tone === "error" ? "x" : tone === "success" ? "check" : "clock")),
      h("div", { class: "toast-text" }, h("strong", { class: "toast-title" }, title),
        body ? h("p", { class: "toast-body" }, body) : null,
        buttons.length ? h("div", { class: "toast-actions" }, buttons) : null),
      h("button", { type: "button", class: "icon-button toast-close", "aria-label": "Dismiss", onclick: () => close() }, icon("x")));
    this.root.append(el);
    const wait = timeout ?? (tone === "reminder" ? 15_000 : tone === "error" ? 8000 : 4000);
    const timer = wait > 0 ? setTimeout(close, wait) : 0;
    return close;
  }
}

export class Inbox {
  constructor({ button, panel, toaster, onOpenTask, getZone }) {
    this.getZone = getZone;
    this.button = button;
    this.panel = panel;
    this.toaster = toaster;
    this.onOpenTask = onOpenTask;
    this.items = [];
    this.unread = 0;
    this.seen = new Set();
    this.list = $("#inbox-list", panel);
    this.badge = $(".badge", button);
    this.permissionButton = $("#inbox-desktop", panel);
    button.addEventListener("click", () => this.toggle());
    $("#inbox-read-all", panel).addEventListener("click", () => this.markAllRead());
    this.permissionButton.addEventListener("click", () => this.askPermission());
    panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { this.toggle(false); button.focus(); }
    });
    document.addEventListener("click", (e) => {
      if (!this.panel.hidden && !this.panel.contains(e.target) && !this.button.contains(e.target)) this.toggle(false);
    });
    this.syncPermission();
  }

  async load() {
    try {
      const page = await api("/api/notifications?limit=30");
      this.items = page.items;
      for (const n of page.items) this.seen.add(n.id);
      const unread = await api("/api/notifications?unread=true&limit=1");
      this.unread = unread.total;
    } catch {
      return;
    }
    this.draw();
  }

  toggle(force) {
    const open = force ?? this.panel.hidden;
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open) {
      this.syncPermission();
      this.load();
      this.panel.querySelector("button")?.focus();
    }
  }

  draw() {
    this.badge.textContent = this.unread > 99 ? "99+" : String(this.unread);
    this.badge.hidden = this.unread === 0;
    document.title = this.unread ? `(${this.unread}) todo` : "todo";
    this.button.setAttribute("aria-label", this.unread ? `Notifications, ${this.unread} unread` : "Notifications");
    clear(this.list);
    if (!this.items.length) {
      this.list.append(h("li", { class: "inbox-empty muted" }, "No notifications yet. Reminders you set show up here."));
      return;
    }
    for (const n of this.items) {
      const unread = !n.read_at;
      const open = h("button", { type: "button", class: "note-open", onclick: () => this.open(n) },
        h("strong", {}, n.title), h("span", { class: "note-body" }, this.bodyOf(n)),
        h("time", { class: "muted small", datetime: n.created_at }, relativeAgo(n.created_at)));
      // The name starts with the visible words, so "click Mark read" works by voice.
      const read = unread ? h("button", {
        type: "button", class: "ghost small note-read", onclick: () => this.markRead(n),
      }, "Mark read", h("span", { class: "sr-only" }, ` “${n.title}”`)) : null;
      this.list.append(h("li", { class: `note${unread ? " unread" : ""}`, "data-id": n.id }, open, read));
    }
  }

  /**
   * A reminder's text with its due time written here, in the reader's zone and
   * time format, like the board's; the server's sentence otherwise.
   */
  bodyOf(n) {
    return n.due_at ? `Due ${describeWhen(n.due_at, this.getZone())}` : n.body;
  }

  /** A notification pushed over the live feed. */
  receive(n) {
    if (!n || !n.id || this.seen.has(n.id)) return;
    this.seen.add(n.id);
    this.items = [n, ...this.items.filter((x) => x.id !== n.id)].slice(0, 50);
    if (!n.read_at) this.unread += 1;
    this.draw();
    const actions = [];
    if (n.task_id) actions.push({ label: "Show task", primary: true, onClick: () => this.open(n) });
    actions.push({ label: "Mark read", onClick: () => this.markRead(n) });
    this.toaster.show({ title: n.title, body: this.bodyOf(n), tone: "reminder", actions });
    announce(`Reminder: ${n.title}`);
    this.desktop(n);
  }

  desktop(n) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (document.visibilityState === "visible" && document.hasFocus()) return;
    try {
      const shown = new Notification(n.title, { body: this.bodyOf(n), tag: n.id });
      shown.onclick = () => { window.focus(); this.open(n); shown.close(); };
    } catch {
      // Some browsers allow notifications only from a service worker; the toast is there anyway.
    }
  }

  syncPermission() {
    const supported = "Notification" in window;
    this.permissionButton.hidden = !supported || Notification.permission !== "default";
  }

  async askPermission() {
    try { await Notification.requestPermission(); } catch { /* dismissed */ }
    this.syncPermission();
    if (Notification.permission === "granted") announce("Desktop notifications are on.");
  }

  open(n) {
    if (!n.read_at) this.markRead(n);
    this.toggle(false);
    if (n.task_id) this.onOpenTask(n.task_id);
  }

  async markRead(n) {
    if (n.read_at) return;
    n.read_at = new Date().toISOString();
    this.unread = Math.max(0, this.unread - 1);
    this.draw();
    try {
      const saved = await api(`/api/notifications/${n.id}/read`, { method: "POST" });
      Object.assign(n, saved);
    } catch {
      n.read_at = null;
      this.unread += 1;
      this.draw();
    }
  }

  async markAllRead() {
    await Promise.all(this.items.filter((n) => !n.read_at).map((n) => this.markRead(n)));
    await this.load();
  }
}
