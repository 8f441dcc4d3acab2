// @ts-check
// The chat pane: sends a message to POST /api/chat and renders its
// Server-Sent Events as they arrive — tokens into the answer, tool calls as
// chips that link to the task, a held destructive action as yes/no buttons —
// plus the list of past conversations.

import { ApiError, api, authHeaders, UNAUTHORIZED } from "./api.js";
import { $, announce, clear, h } from "./dom.js";
import { icon } from "./icons.js";
import { relativeAgo } from "./time.js";

const TOOLS = {
  add_task: ["Adding", "Added", "plus"],
  update_task: ["Changing", "Changed", "edit"],
  complete_task: ["Completing", "Completed", "check"],
  reopen_task: ["Reopening", "Reopened", "reopen"],
  delete_task: ["Deleting", "Deleted", "trash"],
  restore_task: ["Restoring", "Restored", "reopen"],
  undo_last_change: ["Undoing the last change", "Undid", "undo"],
  skip_occurrence: ["Skipping", "Skipped", "skip"],
  set_reminder: ["Setting a reminder on", "Reminder set on", "bell"],
  find_tasks: ["Searching", "Found", "search"],
  get_task: ["Looking up", "Looked up", "search"],
  preview_recurrence: ["Working out the dates", "Worked out the dates", "repeat"],
};
// Tools whose success changes a task: a turn that ran one offers an Undo button.
const CHANGING = new Set(["add_task", "update_task", "complete_task", "reopen_task", "delete_task",
  "skip_occurrence", "set_reminder", "restore_task"]);
// What the Undo button sends: the chat reads it as undoing the conversation's last change.
export const UNDO_MESSAGE = "undo";
const SUGGESTIONS = [
  "buy milk tomorrow at 5pm #errands",
  "remind me to call mom on friday at 6pm",
  "pay rent every month on the 1st, high priority",
  "what is due this week?",
];

/** Server-Sent Events from a fetch body: yields {event, data} (data parsed as JSON when it is). */
export async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let name = "";
  let data = [];
  const dispatch = function* () {
    if (data.length) {
      const text = data.join("\n");
      let parsed = text;
      try { parsed = JSON.parse(text); } catch { /* plain text data */ }
      yield { event: name || "message", data: parsed };
    }
    name = "";
    data = [];
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let text = buffer + value;
      let carry = "";
      // A lone CR at the end may be the first half of CRLF: wait for the next chunk.
      if (text.endsWith("\r")) { carry = "\r"; text = text.slice(0, -1); }
      const lines = text.split(/\r\n|\r|\n/);
      buffer = lines.pop() + carry;
      for (const line of lines) {
        if (line === "") { yield* dispatch(); continue; }
        if (line.startsWith(":")) continue; // a comment keeps the connection alive
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value2 = colon === -1 ? "" : line.slice(colon + 1);
        if (value2.startsWith(" ")) value2 = value2.slice(1);
        if (field === "event") name = value2;
        else if (field === "data") data.push(value2);
      }
    }
    if (buffer.replace(/\r$/, "")) {
      const line = buffer.replace(/\r$/, "");
      if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    yield* dispatch();
  } finally {
    reader.releaseLock();
  }
}

function parseMaybe(value) {
  if (typeof value !== "string") return value;
  try { return JSON.parse(value); } catch { return value; }
}

const isTask = (t) => t && typeof t === "object" && typeof t.id === "string" && typeof t.title === "string";

/** The tasks a tool result speaks of, whatever its exact shape. */
export function tasksIn(result, depth = 0) {
  const r = parseMaybe(result);
  if (typeof r === "string") return tasksNamedIn(r);
  if (!r || typeof r !== "object" || depth > 3) return [];
  if (Array.isArray(r)) return r.flatMap((x) => (isTask(x) ? [x] : tasksIn(x, depth + 1)));
  if (isTask(r)) return [r];
  for (const key of ["task", "items", "tasks", "result", "structuredContent", "structured_content", "content"]) {
    if (key in r) {
      const found = tasksIn(r[key], depth + 1);
      if (found.length) return found;
    }
  }
  return [];
}

/** Saved tool results are text that names tasks as “"Title" [id]”. */
function tasksNamedIn(text) {
  const found = [];
  for (const m of text.matchAll(/"([^"\n]{1,500})" \[([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\]/g)) {
    found.push({ id: m[2], title: m[1] });
  }
  return found;
}

function resultCount(result) {
  const r = parseMaybe(result);
  if (r && typeof r === "object" && typeof r.total === "number") return r.total;
  return null;
}

function resultMessage(result) {
  const r = parseMaybe(result);
  if (typeof r === "string") return r;
  if (r && typeof r === "object") return r.detail || r.error || r.message || r.title || "";
  return "";
}

export class ChatPane {
  constructor(root, { store, onReveal, getUser }) {
    this.root = root;
    this.store = store;
    this.onReveal = onReveal;
    this.getUser = getUser;
    this.conversationId = null;
    // The answer this page last showed: the server then needs not read the conversation back.
    this.lastAnswerId = null;
    this.streaming = null;
    this.log = $("#chat-log", root);
    this.input = $("#composer-input", root);
    this.form = $("#composer", root);
    this.sendButton = $("#send", root);
    this.historyPanel = $("#history", root);
    this.historyList = $("#history-list", root);
    this.historyToggle = $("#history-toggle", root);
    this.bind();
    this.showWelcome();
  }

  bind() {
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (this.streaming) this.stop();
      else this.submit();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        if (!this.streaming) this.submit();
      }
    });
    this.input.addEventListener("input", () => this.autosize());
    $("#new-chat", this.root).addEventListener("click", () => this.newConversation());
    this.historyToggle.addEventListener("click", () => this.toggleHistory());
    this.historyPanel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.toggleHistory(false);
    });
    document.addEventListener("click", (e) => {
      if (!this.historyPanel.hidden && !this.historyPanel.contains(e.target)
          && !this.historyToggle.contains(e.target)) this.toggleHistory(false);
    });
    this.log.addEventListener("click", (e) => {
      const link = e.target.closest("a[data-task-id]");
      if (link) {
        e.preventDefault();
        this.onReveal(link.dataset.taskId);
      }
    });
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
  }

  focus() {
    this.input.focus({ preventScroll: true });
  }

  showWelcome() {
    clear(this.log);
    const name = this.getUser()?.display_name;
    this.log.append(h("div", { class: "welcome" },
      h("div", { class: "welcome-mark", "aria-hidden": "true" }, icon("logo")),
      h("h3", {}, name ? `Hi ${name}, what needs doing?` : "What needs doing?"),
      h("p", { class: "muted" }, "Say it the way you would to a friend. I add it, remember it, and remind you."),
      h("ul", { class: "suggestions", "aria-label": "Try saying" },
        SUGGESTIONS.map((text) => h("li", {}, h("button", {
          type: "button", class: "suggestion",
          onclick: () => { this.input.value = text; this.autosize(); this.focus(); },
        }, text))))));
  }

  /** The welcome reads the account's name: draw it again when that changes. */
  greet() {
    if ($(".welcome", this.log)) this.showWelcome();
  }

  nearBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 120;
  }

  scroll(force = false) {
    if (force || this.stick) this.log.scrollTop = this.log.scrollHeight;
  }

  userMessage(text) {
    $(".welcome", this.log)?.remove();
    const el = h("article", { class: "msg msg-user", "aria-label": "You said" }, h("div", { class: "bubble" }, text));
    this.log.append(el);
    return el;
  }

  assistantMessage() {
    $(".welcome", this.log)?.remove();
    const parts = h("div", { class: "parts" });
    const el = h("article", { class: "msg msg-assistant", "aria-label": "Assistant" },
      h("div", { class: "avatar", "aria-hidden": "true" }, icon("logo")), parts);
    this.log.append(el);
    const turn = {
      el, parts, text: null, chips: null, calls: new Map(), typing: null, changed: false,
      addText: (t) => {
        if (!t) return;
        turn.stopTyping();
        if (!turn.text) {
          turn.text = h("div", { class: "bubble" });
          parts.append(turn.text);
          turn.chips = null;
        }
        turn.text.textContent += t;
      },
      chipRow: () => {
        turn.stopTyping();
        if (!turn.chips) {
          turn.chips = h("div", { class: "chips" });
          parts.append(turn.chips);
          turn.text = null;
        }
        return turn.chips;
      },
      typingDots: () => {
        turn.typing = h("div", { class: "typing", "aria-label": "The assistant is writing" },
          h("span", {}), h("span", {}), h("span", {}));
        parts.append(turn.typing);
      },
      stopTyping: () => { turn.typing?.remove(); turn.typing = null; },
    };
    return turn;
  }

  async submit(textOverride) {
    const text = (textOverride ?? this.input.value).trim();
    if (!text || this.streaming) return;
    if (textOverride === undefined) {
      this.input.value = "";
      this.autosize();
    }
    this.focus();
    await this.send(text);
  }

  stop() {
    this.streaming?.abort();
  }

  setStreaming(controller) {
    this.streaming = controller;
    const busy = Boolean(controller);
    this.log.setAttribute("aria-busy", String(busy));
    this.sendButton.classList.toggle("stop", busy);
    this.sendButton.setAttribute("aria-label", busy ? "Stop the answer" : "Send");
    clear(this.sendButton).append(icon(busy ? "stop" : "send"));
  }

  async send(text) {
    // A new message answers (or drops) any confirmation still on screen.
    const reply = /^(yes|no)\b/i.exec(text.trim());
    for (const card of this.log.querySelectorAll(".confirm-card:not(.resolved)")) {
      this.resolveCard(card, reply ? reply[1].toLowerCase() : null);
    }
    // The Undo button stands for the last change only: a new message retires it.
    for (const actions of this.log.querySelectorAll(".turn-actions")) actions.remove();
    this.userMessage(text);
    const turn = this.assistantMessage();
    turn.typingDots();
    this.stick = true;
    this.scroll(true);
    const controller = new AbortController();
    this.setStreaming(controller);
    let finished = false;
    try {
      const body = { message: text };
      if (this.conversationId) body.conversation_id = this.conversationId;
      if (this.conversationId && this.lastAnswerId) body.last_answer_id = this.lastAnswerId;
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: authHeaders({ "Content-Type": "application/json", Accept: "text/event-stream" }),
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      if (!response.ok) {
        const problem = await response.json().catch(() => null);
        if (response.status === 401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED));
        if (response.status === 404 || response.status === 405) {
          throw new ApiError(response.status, { detail: "The assistant is not available on this server." });
        }
        throw new ApiError(response.status, problem);
      }
      for await (const { event, data } of readEvents(response.body)) {
        this.stick = this.nearBottom();
        this.handle(turn, event, data || {});
        if (event === "done" || event === "error") finished = true;
        this.scroll();
      }
      if (!finished) {
        turn.stopTyping();
        this.errorNote(turn, "The answer was cut off. What was already done shows on the board.");
      }
    } catch (err) {
      turn.stopTyping();
      if (err.name === "AbortError") {
        turn.parts.append(h("p", { class: "note muted" }, "Stopped."));
      } else {
        this.errorNote(turn, err.message || "The answer was cut off.");
      }
    } finally {
      turn.stopTyping();
      this.setStreaming(null);
      turn.el.querySelectorAll(".chip.pending").forEach((chip) => chip.classList.replace("pending", "unknown"));
      const said = [...turn.el.querySelectorAll(".bubble, .confirm-summary")].map((b) => b.textContent).join(" ");
      if (said) announce(said);
      this.scroll();
      this.focus();
    }
  }

  errorNote(turn, message) {
    turn.parts.append(h("p", { class: "note error", role: "alert" }, message));
  }

  handle(turn, event, data) {
    switch (event) {
      case "token":
        turn.addText(typeof data === "string" ? data : data.text);
        break;
      case "tool_call":
        this.toolCall(turn, data);
        break;
      case "tool_result":
        this.toolResult(turn, data);
        break;
      case "confirm":
        this.confirm(turn, data);
        break;
      case "done":
        if (turn.changed) this.offerUndo(turn);
        this.lastAnswerId = data.message_id || null;
        if (data.conversation_id) {
          const isNew = data.conversation_id !== this.conversationId;
          this.conversationId = data.conversation_id;
          if (isNew || !this.historyPanel.hidden) this.loadHistory();
        }
        break;
      case "error":
        this.lastAnswerId = null;
        turn.stopTyping();
        this.errorNote(turn, (data && data.detail) || "Something went wrong.");
        break;
      default:
        break;
    }
  }

  toolCall(turn, call) {
    const [doing, , iconName] = TOOLS[call.name] || [call.name, call.name, "check"];
    const args = parseMaybe(call.arguments) || {};
    const subject = (args && (args.title || args.q)) || "";
    const chip = h("span", { class: "chip pending", "data-tool": call.name, "data-call": call.id || "" },
      icon(iconName), h("span", { class: "verb" }, doing), subject ? h("span", { class: "subject" }, subject) : null,
      h("span", { class: "spinner", "aria-hidden": "true" }));
    turn.chipRow().append(chip);
    turn.calls.set(call.id, { chip, call, args });
  }

  toolResult(turn, result) {
    const entry = turn.calls.get(result.id);
    const call = entry ? entry.call : { name: "", id: result.id };
    const [, done, iconName] = TOOLS[call.name] || ["", "Done", "check"];
    const chip = entry ? entry.chip : h("span", { class: "chip" });
    if (!entry) turn.chipRow().append(chip);
    clear(chip);
    chip.classList.remove("pending");
    if (result.ok === false) {
      chip.classList.add("failed");
      chip.append(icon("x"), h("span", { class: "verb" }, `${done === "Found" ? "Search" : "That"} failed`),
        h("span", { class: "subject" }, resultMessage(result.result) || "the tool reported an error"));
      return;
    }
    chip.classList.add("ok");
    if (CHANGING.has(call.name)) turn.changed = true;
    const tasks = tasksIn(result.result);
    // A restored task comes back under its old id: it counts as created again.
    const created = ["add_task", "restore_task", "undo_last_change"].includes(call.name);
    for (const task of tasks) {
      if (typeof task.version === "number" && task.status) this.store.upsert(task, { created });
    }
    if (call.name === "undo_last_change") {
      const undone = parseMaybe(result.result);
      for (const id of (undone && Array.isArray(undone.removed) ? undone.removed : [])) this.store.remove(id);
    }
    if (call.name === "delete_task") {
      const id = (entry && entry.args && entry.args.task_id) || (tasks[0] && tasks[0].id);
      if (id) this.store.remove(id);
    }
    chip.append(icon(iconName));
    if (call.name === "find_tasks") {
      const total = resultCount(result.result) ?? tasks.length;
      chip.append(h("span", { class: "verb" }, `Found ${total} task${total === 1 ? "" : "s"}`));
      if (tasks.length) {
        const list = h("span", { class: "found" });
        for (const task of tasks.slice(0, 5)) list.append(this.taskLink(task));
        if (tasks.length > 5) list.append(h("span", { class: "muted" }, `+${tasks.length - 5} more`));
        chip.append(list);
      }
      return;
    }
    chip.append(h("span", { class: "verb" }, done));
    const task = tasks[0];
    if (task && call.name !== "delete_task") chip.append(this.taskLink(task));
    else {
      const title = (task && task.title) || (entry && entry.args && entry.args.title) || "";
      if (title) chip.append(h("span", { class: "subject" }, title));
    }
  }

  /** An Undo button under the answer of a turn that changed a task. */
  offerUndo(turn) {
    const button = h("button", { type: "button", class: "ghost undo-last" }, icon("undo"), "Undo");
    button.setAttribute("aria-label", "Undo the last change");
    button.addEventListener("click", () => {
      if (this.streaming) return;
      this.send(UNDO_MESSAGE);
    });
    turn.parts.append(h("div", { class: "turn-actions" }, button));
    turn.text = null;
    turn.chips = null;
  }

  taskLink(task) {
    return h("a", { href: `#task-${task.id}`, class: "chip-link", "data-task-id": task.id }, task.title);
  }

  confirm(turn, data) {
    turn.stopTyping();
    const yes = h("button", { type: "button", class: "danger" }, "Yes");
    const no = h("button", { type: "button", class: "ghost" }, "No");
    const summaryId = `confirm-${Math.random().toString(36).slice(2)}`;
    const card = h("div", { class: "confirm-card", role: "group", "aria-labelledby": summaryId },
      h("p", { class: "confirm-summary", id: summaryId }, data.summary || "Go ahead?"),
      h("div", { class: "confirm-actions" }, yes, no));
    yes.addEventListener("click", () => this.answer(card, "yes"));
    no.addEventListener("click", () => this.answer(card, "no"));
    turn.parts.append(card);
    turn.text = null;
    turn.chips = null;
  }

  answer(card, reply) {
    if (this.streaming || card.classList.contains("resolved")) return;
    this.resolveCard(card, reply);
    this.send(reply);
  }

  resolveCard(card, reply) {
    card.classList.add("resolved");
    const actions = $(".confirm-actions", card);
    clear(actions).append(h("span", { class: "muted" },
      reply === "yes" ? "You said yes." : reply === "no" ? "You said no." : "Not answered."));
  }

  newConversation() {
    if (this.streaming) this.stop();
    this.conversationId = null;
    this.lastAnswerId = null;
    this.showWelcome();
    this.markCurrent();
    this.toggleHistory(false);
    this.focus();
  }

  toggleHistory(force) {
    const open = force ?? this.historyPanel.hidden;
    this.historyPanel.hidden = !open;
    this.historyToggle.setAttribute("aria-expanded", String(open));
    if (open) {
      this.loadHistory();
      (this.historyList.querySelector("button") || this.historyPanel).focus();
    } else if (this.historyPanel.contains(document.activeElement)) {
      this.historyToggle.focus();
    }
  }

  async loadHistory() {
    let items;
    try {
      const body = await api("/api/conversations");
      items = Array.isArray(body) ? body : body.items || body.conversations || [];
    } catch (err) {
      clear(this.historyList).append(h("li", { class: "muted" },
        err.status === 404 ? "No history on this server." : `Could not load: ${err.message}`));
      return;
    }
    clear(this.historyList);
    if (!items.length) {
      this.historyList.append(h("li", { class: "muted empty-history" }, "Your conversations will be listed here."));
      return;
    }
    for (const c of items) {
      const when = c.updated_at || c.last_message_at || c.created_at;
      const title = c.title || c.summary || c.preview || c.first_message || "Conversation";
      this.historyList.append(h("li", {}, h("button", {
        type: "button", class: "history-item", "data-id": c.id, onclick: () => this.openConversation(c.id),
      }, h("span", { class: "history-title" }, title), when ? h("span", { class: "muted small" }, relativeAgo(when)) : null)));
    }
    this.markCurrent();
  }

  markCurrent() {
    for (const button of this.historyList.querySelectorAll("button[data-id]")) {
      if (button.dataset.id === this.conversationId) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  async openConversation(id) {
    if (this.streaming) this.stop();
    let messages;
    try {
      const body = await api(`/api/conversations/${encodeURIComponent(id)}/messages`);
      messages = Array.isArray(body) ? body : body.items || body.messages || [];
    } catch (err) {
      announce(`Could not open the conversation: ${err.message}`);
      return;
    }
    this.conversationId = id;
    const answers = messages.filter((m) => (m.role || m.author) === "assistant" && m.id);
    this.lastAnswerId = answers.length ? answers[answers.length - 1].id : null;
    clear(this.log);
    let turn = null;
    for (const m of messages) {
      const role = m.role || m.author;
      const content = typeof m.content === "string" ? m.content
        : Array.isArray(m.content) ? m.content.map((p) => p.text || "").join("") : m.text || "";
      if (role === "user") {
        this.userMessage(content);
        turn = null;
      } else if (role === "assistant") {
        turn = turn || this.assistantMessage();
        for (const call of m.tool_calls || []) {
          this.toolCall(turn, { id: call.id, name: call.name || call.function?.name, arguments: call.arguments || call.function?.arguments });
        }
        turn.addText(content);
      } else if (role === "tool") {
        turn = turn || this.assistantMessage();
        const callId = m.tool_call_id || m.id;
        if (!turn.calls.has(callId)) this.toolCall(turn, { id: callId, name: m.name || m.tool_name, arguments: m.arguments || {} });
        this.toolResult(turn, { id: callId, ok: m.ok !== false, result: m.result ?? content });
      }
    }
    this.log.querySelectorAll(".chip.pending").forEach((chip) => chip.classList.replace("pending", "unknown"));
    if (!messages.length) this.showWelcome();
    this.markCurrent();
    this.toggleHistory(false);
    this.scroll(true);
    this.focus();
  }
}
