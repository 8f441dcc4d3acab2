// @ts-check
// The page: signs in, then wires the chat, the board, the live feed and the
// notifications together.

import { api, credentials, UNAUTHORIZED } from "./api.js";
import { showSignIn } from "./auth.js";
import { Board } from "./board.js";
import { ChatPane } from "./chat.js";
import { startConnections } from "./connect.js";
import { $, announce } from "./dom.js";
import { TaskEditor } from "./editor.js";
import { LiveFeed } from "./live.js";
import { Inbox, Toaster } from "./notify.js";
import { PushSwitch } from "./push.js";
import { SettingsPanel } from "./settings.js";
import { TaskStore } from "./store.js";
import { browserZone, isKnownZone, setTimeFormat } from "./time.js";

const THEME_KEY = "todo.theme";
let user = null;
let started = null;

function applyTheme(theme) {
  const root = document.documentElement;
  if (theme === "light" || theme === "dark") root.dataset.theme = theme;
  else delete root.dataset.theme;
  const dark = theme === "dark" || (!theme && matchMedia("(prefers-color-scheme: dark)").matches);
  const button = $("#theme-toggle");
  if (button) {
    button.setAttribute("aria-pressed", String(dark));
    button.setAttribute("aria-label", dark ? "Use the light theme" : "Use the dark theme");
  }
}

function initTheme() {
  let saved = null;
  try { saved = localStorage.getItem(THEME_KEY); } catch { /* private mode */ }
  applyTheme(saved);
  $("#theme-toggle").addEventListener("click", () => {
    const dark = $("#theme-toggle").getAttribute("aria-pressed") === "true";
    const next = dark ? "light" : "dark";
    try { localStorage.setItem(THEME_KEY, next); } catch { /* private mode */ }
    applyTheme(next);
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    let current = null;
    try { current = localStorage.getItem(THEME_KEY); } catch { /* private mode */ }
    applyTheme(current);
  });
}

function setView(view) {
  document.body.dataset.view = view;
  for (const tab of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-view-tab]"))) {
    tab.setAttribute("aria-pressed", String(tab.dataset.viewTab === view));
  }
}

const STATUS_TEXT = {
  connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline",
};

/** The account as the server says it is: shown in the menu, read by every pane. */
function applyUser(me) {
  user = { ...me, timezone: isKnownZone(me.timezone) ? me.timezone : browserZone() };
  setTimeFormat(user.time_format);
  $("#account-name").textContent = user.display_name || user.email;
  $("#account-email").textContent = user.email;
  $("#account-zone").textContent = user.timezone;
  $("#account-initial").textContent = (user.display_name || user.email || "?").trim()[0].toUpperCase();
}

function start(me) {
  applyUser(me);
  const getUser = () => user;
  $("#signin").hidden = true;
  $("#app").hidden = false;

  if (started) {
    // Signed in again (possibly as someone else): start from a clean page.
    location.reload();
    return;
  }
  const toaster = new Toaster($("#toasts"));
  const store = new TaskStore();
  const editor = new TaskEditor({ store, toaster, getUser });
  const board = new Board($("#board"), { store, editor, toaster, getUser });
  const reveal = (id) => {
    if (matchMedia("(max-width: 760px)").matches) setView("board");
    board.reveal(id);
  };
  const chat = new ChatPane($("#chat"), { store, onReveal: reveal, getUser });
  const inbox = new Inbox({
    button: $("#inbox-button"), panel: $("#inbox-panel"), toaster, onOpenTask: reveal,
    getZone: () => user.timezone,
  });
  const push = new PushSwitch($("#push-settings"));
  push.start();
  const feed = new LiveFeed();
  started = { feed };
  const settings = new SettingsPanel({
    getUser,
    onSaved: (saved) => {
      applyUser(saved);
      board.scheduleDraw();
      inbox.draw();
      chat.greet();
      announce("Settings saved.");
    },
  });

  const conn = $("#conn");
  feed.addEventListener("status", (e) => {
    const { state } = /** @type {CustomEvent} */ (e).detail;
    conn.dataset.state = state;
    $(".conn-label", conn).textContent = STATUS_TEXT[state] || state;
    conn.title = state === "live" ? "Changes from other windows appear here as they happen."
      : "Changes will appear when the connection is back.";
    if (state === "live") document.body.classList.remove("disconnected");
  });
  feed.addEventListener("open", (e) => {
    // Catch up on whatever happened while the socket was down.
    board.refresh();
    if (/** @type {CustomEvent} */ (e).detail.reconnected) {
      inbox.load();
      announce("Connection restored.");
    }
  });
  feed.addEventListener("refused", () => { api("/api/auth/me").catch(() => {}); });
  feed.addEventListener("message", (e) => {
    const { type, data } = /** @type {CustomEvent} */ (e).detail;
    if (type === "notification") {
      inbox.receive(data);
      return;
    }
    const task = data && data.task;
    if (!task) return;
    if (type === "task.deleted") store.remove(task.id, task.version);
    else store.upsert(task, { created: type === "task.created" });
  });

  for (const tab of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-view-tab]"))) {
    tab.addEventListener("click", () => {
      setView(tab.dataset.viewTab);
      if (tab.dataset.viewTab === "chat") chat.focus();
    });
  }
  setView("chat");
  const account = $("details.account");
  document.addEventListener("click", (e) => {
    if (account.open && !account.contains(e.target)) account.open = false;
  });
  account.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && account.open) {
      account.open = false;
      $("summary", account).focus();
    }
  });
  $("#open-settings").addEventListener("click", () => {
    account.open = false;
    settings.open();
  });
  $("#sign-out").addEventListener("click", async () => {
    feed.stop();
    await push.forgetThisBrowser().catch(() => {}); // its reminders stop coming here
    credentials.clear();
    location.reload();
  });
  document.addEventListener("keydown", (e) => {
    // "/" jumps to the composer from anywhere but a text field.
    const t = /** @type {HTMLInputElement} */ (e.target);
    const typing = t.closest("textarea, select, [contenteditable], dialog")
      || (t.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(t.type));
    if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      if (document.body.dataset.view === "board" && matchMedia("(max-width: 760px)").matches) setView("chat");
      chat.focus();
    }
  });

  board.refresh();
  inbox.load();
  feed.start();
  startConnections();
  chat.focus();
}

function signedOut(message = "") {
  if (started) started.feed.stop();
  $("#app").hidden = true;
  showSignIn($("#signin"), { message, onSignedIn: boot });
}

async function boot() {
  if (!credentials.token) {
    signedOut();
    return;
  }
  try {
    start(await api("/api/auth/me"));
  } catch (err) {
    if (err.status === 401) {
      credentials.clear();
      signedOut("You were signed out. Sign in again.");
    } else {
      $("#boot-error").hidden = false;
      $("#boot-error-detail").textContent = err.message;
    }
  }
}

window.addEventListener(UNAUTHORIZED, () => {
  if (!$("#signin").hidden) return;
  credentials.clear();
  signedOut("You were signed out. Sign in again.");
});

initTheme();
boot();
