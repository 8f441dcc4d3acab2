// @ts-check
// The board's tasks: what the server last said (by version) plus optimistic
// changes not yet confirmed. An older version never overwrites a newer one,
// and a deleted task does not come back from a late event; only a restore (a
// `task.created` in a later version) brings it back.

/**
 * A task as the server sends it (the fields the board reads; see docs/reference.md).
 * @typedef {object} Task
 * @property {string} id
 * @property {number} version
 * @property {string} title
 * @property {string} [description]
 * @property {"active" | "completed"} status
 * @property {string} priority
 * @property {string[]} tags
 * @property {string | null} [due_at]
 * @property {string | null} [remind_at]
 * @property {string | null} [recurrence_rule]
 * @property {string} created_at
 * @property {string} updated_at
 * @property {boolean} [_pending] shown with a change the server has not confirmed
 */

/** @typedef {{ items: Task[], total: number }} TaskPage */
/** @typedef {{ patch: Record<string, unknown>, baseVersion: number, token: symbol }} Pending */

export class TaskStore extends EventTarget {
  constructor() {
    super();
    /** @type {Map<string, Task>} the server's tasks by id */
    this.tasks = new Map();
    /** @type {Map<string, Pending>} changes shown before the server confirms them */
    this.pending = new Map();
    /** @type {Map<string, number>} id -> version at deletion */
    this.gone = new Map();
    /** @type {string[]} ids in the order the server listed them */
    this.order = [];
    this.total = 0;
    this.changeCounter = 0;
    /** @type {Map<string, number>} id -> changeCounter when an event last changed it */
    this.touched = new Map();
  }

  emit() {
    this.dispatchEvent(new Event("change"));
  }

  /** The server's answer may be out of date: a task changed after it. */
  stale() {
    this.dispatchEvent(new Event("stale"));
  }

  /**
   * Replace the list with a fresh page, keeping anything newer that arrived meanwhile.
   * @param {TaskPage} page
   * @param {number} startedAt `changeCounter` when the request went out
   */
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

  /**
   * A task as the server sent it (REST answer or live event).
   * @param {Task | null | undefined} task
   * @param {{ created?: boolean }} [options]
   * @returns {boolean} whether it changed the store
   */
  upsert(task, { created = false } = {}) {
    if (!task || !task.id) return false;
    const goneAt = this.gone.get(task.id);
    // A deleted task comes back only as created anew (restored), in a later version.
    if (goneAt !== undefined && (!created || task.version <= goneAt)) return false;
    this.gone.delete(task.id);
    const known = this.tasks.get(task.id);
    if (known && known.version > task.version) return false;
    this.tasks.set(task.id, task);
    this.touched.set(task.id, ++this.changeCounter);
    if (!known) this.total += 1;
    const pending = this.pending.get(task.id);
    if (pending && pending.baseVersion < task.version) this.pending.delete(task.id);
    this.emit();
    this.stale();
    return true;
  }

  /** @param {string} id @param {number} [version] */
  remove(id, version = 0) {
    this.gone.set(id, version);
    this.pending.delete(id);
    this.touched.set(id, ++this.changeCounter);
    if (this.tasks.delete(id)) this.total = Math.max(0, this.total - 1);
    this.emit();
    this.stale();
  }

  /**
   * Show a change before the server confirms it; returns an undo.
   * @param {string} id
   * @param {Record<string, unknown>} patch
   * @returns {() => void}
   */
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

  /** @param {string} id */
  settle(id) {
    if (this.pending.delete(id)) this.emit();
  }

  /**
   * @param {string} id
   * @returns {Task | null} the task with any unconfirmed change applied
   */
  get(id) {
    const task = this.tasks.get(id);
    if (!task) return null;
    const pending = this.pending.get(id);
    if (!pending) return task;
    return { ...task, ...pending.patch, _pending: true };
  }

  /** @param {string} id */
  isHidden(id) {
    const pending = this.pending.get(id);
    return Boolean(pending && pending.patch && pending.patch._deleted);
  }

  /**
   * The tasks to show, in the order the server listed them: which tasks match
   * the filters and how they sort is the server's answer alone. A task that
   * arrived live since that answer shows first until the next answer (the
   * board asks again after every live change) places it or leaves it out.
   * @returns {Task[]}
   */
  view() {
    const listed = new Set(this.order);
    const arrived = [...this.tasks.keys()].filter((id) => !listed.has(id)).reverse();
    const items = [];
    for (const id of [...arrived, ...this.order]) {
      if (this.isHidden(id)) continue;
      const task = this.get(id);
      if (task) items.push(task);
    }
    return items;
  }
}
