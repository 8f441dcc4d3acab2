// The board's tasks: what the server last said (by version) plus optimistic
// changes not yet confirmed. An older version never overwrites a newer one,
// and a deleted task does not come back from a late event.

import { dayIndex, zonedParts } from "./time.js";

const PRIORITY_RANK = { none: 0, low: 1, medium: 2, high: 3 };

export class TaskStore extends EventTarget {
  constructor() {
    super();
    this.tasks = new Map();   // id -> server task
    this.pending = new Map(); // id -> { patch, deleted, token }
    this.gone = new Map();    // id -> version at deletion
    this.order = [];          // ids in the order the server listed them
    this.total = 0;
    this.changeCounter = 0;
    this.touched = new Map(); // id -> changeCounter when an event last changed it
  }

  emit() {
    this.dispatchEvent(new Event("change"));
  }

  /** Replace the list with a fresh page, keeping anything newer that arrived meanwhile. */
  load(page, startedAt) {
    const fresh = new Map();
    for (const task of page.items) {
      const known = this.tasks.get(task.id);
      fresh.set(task.id, known && known.version > task.version ? known : task);
    }
    for (const [id, task] of this.tasks) {
      if (!fresh.has(id) && (this.touched.get(id) || 0) > startedAt) fresh.set(id, task);
    }
    this.tasks = fresh;
    this.order = page.items.map((t) => t.id);
    this.total = page.total;
    this.emit();
  }

  /** A task as the server sent it (REST answer or live event). */
  upsert(task, { created = false } = {}) {
    if (!task || !task.id) return false;
    if (this.gone.has(task.id) && !created) return false;
    const known = this.tasks.get(task.id);
    if (known && known.version > task.version) return false;
    this.tasks.set(task.id, task);
    this.touched.set(task.id, ++this.changeCounter);
    if (!known) this.total += 1;
    const pending = this.pending.get(task.id);
    if (pending && pending.baseVersion < task.version) this.pending.delete(task.id);
    this.emit();
    return true;
  }

  remove(id, version = 0) {
    this.gone.set(id, version);
    this.pending.delete(id);
    this.touched.set(id, ++this.changeCounter);
    if (this.tasks.delete(id)) this.total = Math.max(0, this.total - 1);
    this.emit();
  }

  /** Show a change before the server confirms it; returns an undo. */
  optimistic(id, patch) {
    const base = this.tasks.get(id);
    const token = Symbol(id);
    this.pending.set(id, { patch, baseVersion: base ? base.version : 0, token });
    this.emit();
    return () => {
      const current = this.pending.get(id);
      if (current && current.token === token) {
        this.pending.delete(id);
        this.emit();
      }
    };
  }

  settle(id) {
    if (this.pending.delete(id)) this.emit();
  }

  get(id) {
    const task = this.tasks.get(id);
    if (!task) return null;
    const pending = this.pending.get(id);
    if (!pending) return task;
    return { ...task, ...pending.patch, _pending: true };
  }

  isHidden(id) {
    const pending = this.pending.get(id);
    return Boolean(pending && pending.patch && pending.patch._deleted);
  }

  /** The tasks to show for these filters, sorted like the server sorts them. */
  view(filters, zone) {
    const items = [];
    for (const id of this.tasks.keys()) {
      if (this.isHidden(id)) continue;
      const task = this.get(id);
      if (matches(task, filters, zone)) items.push(task);
    }
    return sortTasks(items, filters, this.order);
  }
}

function words(text) {
  return (text || "").toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

function calendarBound(value, zone) {
  if (!value) return null;
  const [y, m, d] = value.split("-").map(Number);
  return dayIndex({ year: y, month: m, day: d });
}

/** Client-side reading of the list filters, for tasks that arrive live. */
export function matches(task, f, zone) {
  if (f.status && f.status !== "all" && task.status !== f.status) return false;
  if (f.priority && f.priority.length && !f.priority.includes(task.priority)) return false;
  if (f.tags && f.tags.length && !f.tags.every((t) => task.tags.includes(t))) return false;
  if (f.is_recurring === "true" && !task.recurrence_rule) return false;
  if (f.is_recurring === "false" && task.recurrence_rule) return false;
  if (f.due_after || f.due_before) {
    if (!task.due_at) return false;
    const day = dayIndex(zonedParts(new Date(task.due_at), zone));
    const after = calendarBound(f.due_after, zone);
    const before = calendarBound(f.due_before, zone);
    if (after !== null && day < after) return false;
    if (before !== null && day > before) return false;
  }
  if (f.q) {
    const haystack = words(`${task.title} ${task.description || ""}`);
    if (!words(f.q).every((w) => haystack.some((h) => h.startsWith(w)))) return false;
  }
  return true;
}

function sortValue(task, field) {
  switch (field) {
    case "due_at": return task.due_at ? Date.parse(task.due_at) : null;
    case "updated_at": return Date.parse(task.updated_at);
    case "priority": return PRIORITY_RANK[task.priority] || null;
    case "title": return task.title.toLowerCase();
    default: return Date.parse(task.created_at);
  }
}

export function sortTasks(items, f, serverOrder) {
  const field = f.sort_by || "created_at";
  const dir = f.sort_order === "asc" ? 1 : -1;
  if (f.q && !f.sort_by) {
    // Relevance order comes from the server; new arrivals go first.
    const rank = new Map(serverOrder.map((id, i) => [id, i]));
    return items.sort((a, b) => (rank.get(a.id) ?? -1) - (rank.get(b.id) ?? -1));
  }
  return items.sort((a, b) => {
    const x = sortValue(a, field);
    const y = sortValue(b, field);
    if (x === null && y !== null) return 1; // missing values last either way
    if (y === null && x !== null) return -1;
    if (x !== null && y !== null && x !== y) return (x < y ? -1 : 1) * dir;
    const created = Date.parse(b.created_at) - Date.parse(a.created_at);
    return created || (a.id < b.id ? 1 : -1);
  });
}
