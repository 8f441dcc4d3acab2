// @ts-check
// The task board: search, filters, sort, and the list with inline complete,
// edit and delete. Changes show at once (optimistically) and are reconciled
// with the server's answer and its live events by version.

import { tasksApi } from "./api.js";
import { $, announce, debounce, h } from "./dom.js";
import { icon } from "./icons.js";
import { parseTags } from "./editor.js";
import { describeRule } from "./recurrence.js";
import { describeDue, describeWhen, fullDateTime, getTimeFormat } from "./time.js";

const PAGE = 100;
const PRIORITY_LABEL = { high: "High", medium: "Medium", low: "Low" };
const DEFAULT_FILTERS = {
  q: "", status: "all", priority: [], tags: [], due_after: "", due_before: "",
  is_recurring: "", sort_by: "", sort_order: "desc",
};

export class Board {
  constructor(root, { store, editor, toaster, getUser }) {
    this.root = root;
    this.store = store;
    this.editor = editor;
    this.toaster = toaster;
    this.getUser = getUser;
    this.filters = { ...DEFAULT_FILTERS };
    this.limit = PAGE;
    this.loading = null;
    this.rows = new Map();
    this.queues = new Map();
    this.loaded = false;
    this.render();
    this.store.addEventListener("change", () => this.scheduleDraw());
    // Which tasks match the filters and their order are the server's answer:
    // after a live change, ask again.
    this.store.addEventListener("stale", debounce(() => { if (this.loaded) this.refresh(); }, 150));
    // Relative words ("in 2 h", "overdue 5 min") age: redraw every minute.
    this.clock = setInterval(() => this.scheduleDraw(), 60_000);
  }

  zone() {
    return this.getUser().timezone;
  }

  render() {
    const r = this.root;
    this.search = $("#task-search", r);
    this.search.addEventListener("input", debounce(() => this.setFilter({ q: this.search.value.trim() }), 250));
    for (const button of r.querySelectorAll("[data-status]")) {
      button.addEventListener("click", () => this.setFilter({ status: button.dataset.status }));
    }
    this.filtersToggle = $("#filters-toggle", r);
    this.filtersPanel = $("#filters-panel", r);
    this.filtersToggle.addEventListener("click", () => {
      const open = this.filtersPanel.hidden;
      this.filtersPanel.hidden = !open;
      this.filtersToggle.setAttribute("aria-expanded", String(open));
      if (open) this.filtersPanel.querySelector("input,select")?.focus();
    });
    this.filtersPanel.addEventListener("input", debounce(() => this.readFilterPanel(), 200));
    $("#filters-clear", r).addEventListener("click", () => {
      this.filters = { ...DEFAULT_FILTERS, status: this.filters.status, q: this.filters.q };
      this.writeFilterPanel();
      this.refresh();
    });
    this.sortSelect = $("#sort-by", r);
    this.sortSelect.addEventListener("change", () => {
      const [by, order] = this.sortSelect.value.split(":");
      this.setFilter({ sort_by: by, sort_order: order || "desc" });
    });
    $("#new-task", r).addEventListener("click", () => this.editor.open(null));
    this.list = $("#task-list", r);
    this.doneList = $("#done-list", r);
    this.doneGroup = $("#done-group", r);
    this.doneCount = $("#done-count", r);
    this.empty = $("#board-empty", r);
    this.count = $("#task-count", r);
    this.more = $("#load-more", r);
    this.more.addEventListener("click", () => { this.limit += PAGE; this.refresh(); });
    this.errorLine = $("#board-error", r);
    this.writeFilterPanel();
  }

  readFilterPanel() {
    const p = this.filtersPanel;
    this.filters.priority = [...p.querySelectorAll("input[name=priority]:checked")].map((i) => i.value);
    this.filters.tags = parseTags($("#filter-tags", p).value);
    this.filters.due_after = $("#filter-due-after", p).value;
    this.filters.due_before = $("#filter-due-before", p).value;
    this.filters.is_recurring = $("#filter-recurring", p).value;
    this.updateFilterBadge();
    this.refresh();
  }

  writeFilterPanel() {
    const p = this.filtersPanel;
    for (const box of p.querySelectorAll("input[name=priority]")) box.checked = this.filters.priority.includes(box.value);
    $("#filter-tags", p).value = this.filters.tags.join(", ");
    $("#filter-due-after", p).value = this.filters.due_after;
    $("#filter-due-before", p).value = this.filters.due_before;
    $("#filter-recurring", p).value = this.filters.is_recurring;
    this.search.value = this.filters.q;
    this.sortSelect.value = this.filters.sort_by ? `${this.filters.sort_by}:${this.filters.sort_order}` : "";
    this.updateFilterBadge();
  }

  activeFilterCount() {
    const f = this.filters;
    return [f.priority.length, f.tags.length, f.due_after, f.due_before, f.is_recurring].filter(Boolean).length;
  }

  updateFilterBadge() {
    const n = this.activeFilterCount();
    const badge = $(".badge", this.filtersToggle);
    badge.textContent = n ? String(n) : "";
    badge.hidden = !n;
    this.filtersToggle.setAttribute("aria-label", n ? `Filters, ${n} active` : "Filters");
    for (const button of this.root.querySelectorAll("[data-status]")) {
      button.setAttribute("aria-pressed", String(button.dataset.status === this.filters.status));
    }
  }

  setFilter(change) {
    Object.assign(this.filters, change);
    this.limit = PAGE;
    this.updateFilterBadge();
    this.refresh();
  }

  /** Show only tasks with this tag (a click on a tag). */
  filterByTag(tag) {
    if (!this.filters.tags.includes(tag)) this.filters.tags = [...this.filters.tags, tag];
    this.writeFilterPanel();
    this.refresh();
  }

  params() {
    const f = this.filters;
    return {
      q: f.q, status: f.status, priority: f.priority, tags: f.tags,
      due_after: f.due_after, due_before: f.due_before, is_recurring: f.is_recurring,
      sort_by: f.sort_by, sort_order: f.sort_by ? f.sort_order : "", limit: this.limit,
    };
  }

  /** Fetch the list again (filters changed, or catching up after a reconnect). */
  async refresh() {
    if (this.loading) this.loading.abort();
    const controller = new AbortController();
    this.loading = controller;
    const startedAt = this.store.changeCounter;
    this.root.setAttribute("aria-busy", "true");
    try {
      const page = await tasksApi.list(this.params(), controller.signal);
      if (controller !== this.loading) return;
      this.store.load(page, startedAt);
      this.hasMore = page.total > page.items.length;
      this.errorLine.hidden = true;
      this.loaded = true;
    } catch (err) {
      if (err.name === "AbortError") return;
      this.errorLine.hidden = false;
      this.errorLine.textContent = `Could not load tasks: ${err.message}`;
    } finally {
      if (controller === this.loading) {
        this.loading = null;
        this.root.removeAttribute("aria-busy");
        this.scheduleDraw();
      }
    }
  }

  scheduleDraw() {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => { this.drawPending = false; this.draw(); });
  }

  draw() {
    // Keep keyboard focus on the same control of the same task, even when the
    // task moves (completed tasks go to their own list).
    const active = /** @type {HTMLElement | null} */ (document.activeElement);
    /** @type {HTMLElement | null} */
    const focusedRow = active && active.closest ? active.closest("li.task") : null;
    const keep = focusedRow && this.root.contains(focusedRow)
      ? { id: focusedRow.dataset.id, role: active.dataset.role } : null;
    this.drawLists();
    if (keep && !this.root.contains(document.activeElement)) {
      const li = document.getElementById(`task-${keep.id}`);
      /** @type {HTMLElement | null} */
      const target = li && (li.querySelector(`[data-role="${keep.role}"]`) || li.querySelector("[data-role=title]"));
      target?.focus({ preventScroll: true });
    }
  }

  drawLists() {
    const tasks = this.store.view();
    const active = tasks.filter((t) => t.status === "active");
    const done = tasks.filter((t) => t.status === "completed");
    const split = this.filters.status === "all";
    this.reconcile(this.list, split ? active : tasks);
    this.reconcile(this.doneList, split ? done : []);
    this.doneGroup.hidden = !split || done.length === 0;
    this.doneCount.textContent = String(done.length);
    const filtered = this.filters.q || this.activeFilterCount() || this.filters.status !== "all";
    this.empty.hidden = tasks.length > 0 || !this.loaded;
    $(".empty-title", this.empty).textContent = filtered ? "No tasks match" : "Nothing to do yet";
    $(".empty-body", this.empty).textContent = filtered
      ? "Try other words or clear the filters."
      : "Tell the assistant what is on your mind — “buy milk tomorrow at 5pm #errands” — or add one here.";
    this.count.textContent = split ? `${active.length} open` : `${tasks.length}`;
    this.more.hidden = !this.hasMore;
  }

  /** Keep one element per task; rebuild a row only when its task changed. */
  reconcile(list, tasks) {
    const wanted = new Set(tasks.map((t) => t.id));
    for (const li of [...list.children]) {
      if (!wanted.has(li.dataset.id)) li.remove();
    }
    let previous = null;
    for (const task of tasks) {
      let li = this.rows.get(task.id);
      // A row is redrawn when its task changes, a minute passes, or the account's
      // zone or time format does.
      const key = `${task.version}|${task._pending ? 1 : 0}|${task.status}|${Math.floor(Date.now() / 60_000)}`
        + `|${this.zone()}|${getTimeFormat()}`;
      if (!li || li.dataset.key !== key) {
        const fresh = this.row(task);
        fresh.dataset.key = key;
        if (li) {
          const focused = li.contains(document.activeElement)
            ? /** @type {HTMLElement} */ (document.activeElement).dataset.role : null;
          li.replaceWith(fresh);
          if (focused) /** @type {HTMLElement | null} */ (fresh.querySelector(`[data-role="${focused}"]`))?.focus();
        }
        li = fresh;
        this.rows.set(task.id, li);
      }
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (li.parentNode !== list || expected !== li) {
        const focused = li.contains(document.activeElement)
          ? /** @type {HTMLElement} */ (document.activeElement) : null;
        if (previous) previous.after(li);
        else list.prepend(li);
        focused?.focus();
      }
      previous = li;
    }
    for (const id of [...this.rows.keys()]) {
      if (!this.store.tasks.has(id)) this.rows.delete(id);
    }
  }

  row(task) {
    const zone = this.zone();
    const done = task.status === "completed";
    const check = h("input", {
      type: "checkbox", class: "task-check", checked: done, "data-role": "check",
      "aria-label": done ? `Reopen “${task.title}”` : `Complete “${task.title}”`,
    });
    check.addEventListener("change", () => (done ? this.reopen(task.id) : this.complete(task.id)));

    const meta = h("div", { class: "task-meta" });
    if (task.priority !== "none") {
      meta.append(h("span", { class: `prio-badge prio-${task.priority}` }, PRIORITY_LABEL[task.priority]));
    }
    const due = describeDue(task.due_at, zone, { completed: done });
    if (due) {
      meta.append(h("span", { class: `due due-${due.tone}` }, icon("clock"),
        h("time", { datetime: task.due_at, title: fullDateTime(task.due_at, zone) }, due.text)));
    }
    if (task.remind_at && !done) {
      meta.append(h("span", { class: "remind", title: `Reminder: ${fullDateTime(task.remind_at, zone)}` },
        icon("bell"), h("span", { class: "sr-only" }, "Reminder "),
        h("time", { datetime: task.remind_at }, describeWhen(task.remind_at, zone))));
    }
    if (task.recurrence_rule) {
      meta.append(h("span", { class: "repeat", title: task.recurrence_rule }, icon("repeat"),
        h("span", { class: "sr-only" }, "Repeats "),
        describeRule(task.recurrence_rule) + (task.repeat_from === "completion" ? " after done" : "")));
    }
    for (const tag of task.tags) {
      meta.append(h("button", {
        type: "button", class: "tag", "aria-label": `Show only tag ${tag}`, onclick: () => this.filterByTag(tag),
      }, `#${tag}`));
    }

    const title = h("button", {
      type: "button", class: "task-title", "data-role": "title", onclick: () => this.editor.open(this.store.get(task.id)),
      "aria-label": `Edit “${task.title}”`,
    }, task.title);

    const actions = h("div", { class: "task-actions" });
    if (task.recurrence_rule && !done) {
      actions.append(h("button", {
        type: "button", class: "icon-button", "data-role": "skip", title: "Skip this occurrence",
        "aria-label": `Skip this occurrence of “${task.title}”`, onclick: () => this.skip(task.id),
      }, icon("skip")));
    }
    actions.append(h("button", {
      type: "button", class: "icon-button", "data-role": "edit", title: "Edit",
      "aria-label": `Edit “${task.title}” details`, onclick: () => this.editor.open(this.store.get(task.id)),
    }, icon("edit")));
    const del = h("button", {
      type: "button", class: "icon-button icon-danger", "data-role": "delete", title: "Delete",
      "aria-label": `Delete “${task.title}”`,
    }, icon("trash"), h("span", { class: "confirm-label" }, "Delete?"));
    del.addEventListener("click", () => this.armDelete(del, task.id));
    actions.append(del);

    return h("li", {
      class: `task prio-${task.priority}${done ? " done" : ""}${task._pending ? " pending" : ""}${due && due.tone === "overdue" ? " overdue" : ""}`,
      id: `task-${task.id}`, "data-id": task.id,
    }, check, h("div", { class: "task-main" }, title, task.description ? h("p", { class: "task-notes" }, task.description) : null, meta), actions);
  }

  armDelete(button, id) {
    if (button.dataset.armed === "1") {
      this.remove(id);
      return;
    }
    button.dataset.armed = "1";
    button.classList.add("armed");
    button.setAttribute("aria-label", "Press again to delete");
    announce("Press delete again to confirm.");
    setTimeout(() => {
      if (!button.isConnected) return;
      delete button.dataset.armed;
      button.classList.remove("armed");
    }, 4000);
  }

  /**
   * Show `patch` at once, then run `call` with the server's latest version.
   * Actions on one task run one after another, so a quick second click is
   * based on the first one's result instead of failing as stale.
   */
  act(id, patch, call, doneMessage) {
    if (!this.store.get(id)) return Promise.resolve();
    this.store.optimistic(id, patch);
    const run = () => this.perform(id, patch, call, doneMessage);
    const queued = (this.queues.get(id) || Promise.resolve()).then(run);
    this.queues.set(id, queued);
    queued.finally(() => { if (this.queues.get(id) === queued) this.queues.delete(id); });
    return queued;
  }

  async perform(id, patch, call, doneMessage) {
    const before = this.store.tasks.get(id);
    if (!before) return;
    const undo = this.store.optimistic(id, patch);
    try {
      const result = await call(before);
      if (result) this.store.upsert(result);
      else this.store.settle(id);
      if (doneMessage) announce(doneMessage(before));
    } catch (err) {
      undo();
      if (err.status === 412 || err.status === 404) {
        const latest = await tasksApi.get(id).catch(() => null);
        if (latest) this.store.upsert(latest);
        else this.store.remove(id);
        this.toaster.show({ title: "Changed elsewhere", body: "That task was changed in another window; this is its latest state.", tone: "info" });
      } else {
        this.toaster.show({ title: "That did not work", body: err.message, tone: "error" });
      }
    }
  }

  complete(id) {
    return this.act(id, { status: "completed", completed_at: new Date().toISOString() },
      (t) => tasksApi.complete(id, t.version), (t) => `Completed “${t.title}”.`);
  }

  reopen(id) {
    return this.act(id, { status: "active", completed_at: null },
      (t) => tasksApi.reopen(id, t.version), (t) => `Reopened “${t.title}”.`);
  }

  skip(id) {
    return this.act(id, {}, (t) => tasksApi.skip(id, t.version), (t) => `Skipped to the next “${t.title}”.`);
  }

  remove(id) {
    return this.act(id, { _deleted: true }, async (task) => {
      await tasksApi.remove(id, task.version);
      this.store.remove(id, task.version);
      return null;
    }, (t) => `Deleted “${t.title}”.`);
  }

  /** Bring a task into view (a chip in the chat links here). */
  async reveal(id) {
    let li = document.getElementById(`task-${id}`);
    if (!li) {
      const task = await tasksApi.get(id).catch(() => null);
      if (!task) {
        this.toaster.show({ title: "Not found", body: "That task no longer exists.", tone: "info" });
        return;
      }
      this.store.upsert(task);
      this.draw();
      li = document.getElementById(`task-${id}`);
      if (!li) {
        this.editor.open(task);
        return;
      }
    }
    li.scrollIntoView({ block: "center", behavior: "smooth" });
    li.classList.remove("flash");
    void li.offsetWidth; // restart the animation
    li.classList.add("flash");
    /** @type {HTMLElement | null} */ (li.querySelector("[data-role=title]"))?.focus({ preventScroll: true });
  }
}

