// @ts-check
// The task form (new and edit) in a modal dialog: title, notes, priority,
// tags, due time, reminder picker and the recurrence editor.

import { ApiError, newId, tasksApi } from "./api.js";
import { announce, h } from "./dom.js";
import { RecurrenceEditor } from "./recurrence.js";
import {
  instantToLocalInput, localInputToInstant, occurrenceText, timeOfDay, toLocalInput, zonedParts,
} from "./time.js";

const PRIORITIES = [["none", "None"], ["low", "Low"], ["medium", "Medium"], ["high", "High"]];
const BEFORE = [[0, "At the due time"], [5, "5 minutes before"], [10, "10 minutes before"],
  [15, "15 minutes before"], [30, "30 minutes before"], [60, "1 hour before"],
  [120, "2 hours before"], [1440, "1 day before"], [2880, "2 days before"]];

export function parseTags(text) {
  const tags = (text || "").split(/[\s,]+/).map((t) => t.replace(/^#/, "").toLowerCase()).filter(Boolean);
  return [...new Set(tags)];
}

export class TaskEditor {
  constructor({ store, toaster, getUser }) {
    this.store = store;
    this.toaster = toaster;
    this.getUser = getUser;
    this.task = null;
    this.dialog = this.render();
    document.body.append(this.dialog);
  }

  zone() {
    return (this.task && this.task.timezone) || this.getUser().timezone;
  }

  render() {
    const f = (id, label, control, help) => h("div", { class: "field" },
      h("label", { for: id }, label), control, help ? h("p", { class: "help", id: `${id}-help` }, help) : null);

    this.heading = h("h2", { id: "te-heading" }, "New task");
    this.zoneNote = h("p", { class: "muted small" });
    this.errorBox = h("div", { class: "form-error", role: "alert", hidden: true });

    this.title = h("input", { id: "te-title", name: "title", required: true, maxlength: "500", autocomplete: "off" });
    this.notes = h("textarea", { id: "te-notes", name: "description", rows: "3", maxlength: "10000" });
    this.priority = PRIORITIES.map(([value, label]) => h("span", { class: `prio-choice prio-${value}` },
      h("input", { type: "radio", name: "priority", id: `te-priority-${value}`, value }),
      h("label", { for: `te-priority-${value}` }, label)));
    this.tags = h("input", {
      id: "te-tags", name: "tags", autocomplete: "off", placeholder: "errands, home", "aria-describedby": "te-tags-help",
    });

    this.due = h("input", { id: "te-due", name: "due_at", type: "datetime-local" });
    this.due.addEventListener("input", () => this.dueChanged());
    const quick = (label, make) => h("button", {
      type: "button", class: "chip-button",
      onclick: () => { this.due.value = make(); this.dueChanged(); },
    }, label);
    this.dueHint = h("p", { class: "help", id: "te-due-help" });
    this.due.setAttribute("aria-describedby", "te-due-help");
    const at = (days, hour, minute = 0) => () => {
      const now = zonedParts(new Date(), this.zone());
      const d = new Date(Date.UTC(now.year, now.month - 1, now.day + days));
      const pad = (n) => String(n).padStart(2, "0");
      return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(hour)}:${pad(minute)}`;
    };
    // Their clock times are written when the form opens, in the account's format.
    this.quickToday = quick("", at(0, 18));
    this.quickTomorrow = quick("", at(1, 9));
    const dueRow = h("div", { class: "field" },
      h("label", { for: "te-due" }, "Due"),
      h("div", { class: "input-with-actions" }, this.due,
        h("button", { type: "button", class: "ghost small", onclick: () => { this.due.value = ""; this.dueChanged(); } }, "Clear")),
      this.dueHint,
      h("div", { class: "quick-picks", role: "group", "aria-label": "Quick due dates" },
        this.quickToday, this.quickTomorrow, quick("In a week", at(7, 9))));

    this.remindMode = h("select", { id: "te-remind-mode", name: "remind_mode" },
      h("option", { value: "none" }, "No reminder"),
      h("option", { value: "at" }, "At a time"),
      h("option", { value: "before" }, "Before it is due"));
    this.remindAt = h("input", { id: "te-remind-at", type: "datetime-local", "aria-label": "Remind at" });
    this.remindBefore = h("select", { id: "te-remind-before", "aria-label": "How long before" },
      BEFORE.map(([m, label]) => h("option", { value: String(m) }, label)));
    this.remindHint = h("p", { class: "help", id: "te-remind-help" });
    for (const el of [this.remindMode, this.remindAt, this.remindBefore]) {
      el.addEventListener("input", () => this.syncReminder());
    }
    const remindRow = h("div", { class: "field" },
      h("label", { for: "te-remind-mode" }, "Reminder"),
      h("div", { class: "input-row" }, this.remindMode, this.remindAt, this.remindBefore),
      this.remindHint);

    this.recurrence = new RecurrenceEditor({
      getStart: () => this.due.value,
      getZone: () => this.zone(),
      onNeedStart: () => {
        this.due.value = at(1, 9)();
        this.dueChanged();
      },
    });

    this.saveButton = h("button", { type: "submit", class: "primary" }, "Save");
    this.skipButton = h("button", { type: "button", class: "ghost", onclick: () => this.skip() }, "Skip this occurrence");
    this.deleteButton = h("button", { type: "button", class: "danger-ghost", onclick: () => this.remove() }, "Delete");
    this.form = h("form", { class: "task-form", novalidate: true },
      h("header", { class: "dialog-head" }, this.heading,
        h("button", { type: "button", class: "icon-button", "aria-label": "Close", onclick: () => this.close() }, "✕")),
      this.zoneNote, this.errorBox,
      f("te-title", "Title", this.title),
      f("te-notes", "Notes", this.notes),
      h("fieldset", { class: "priority-picker" }, h("legend", {}, "Priority"), h("div", { class: "segmented-radio" }, this.priority)),
      f("te-tags", "Tags", this.tags, "Separate tags with commas or spaces."),
      h("div", { class: "two-col" }, dueRow, remindRow),
      this.recurrence.root,
      h("footer", { class: "dialog-foot" },
        h("div", { class: "left" }, this.deleteButton, this.skipButton),
        h("div", { class: "right" },
          h("button", { type: "button", class: "ghost", onclick: () => this.close() }, "Cancel"),
          this.saveButton)));
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.save(); });
    const dialog = h("dialog", { class: "task-dialog", "aria-labelledby": "te-heading" }, this.form);
    dialog.addEventListener("close", () => { this.returnFocus?.focus?.(); });
    return dialog;
  }

  dueChanged() {
    const due = localInputToInstant(this.due.value, this.zone());
    this.dueHint.textContent = due ? occurrenceText(due, this.zone()) : "";
    this.recurrence.startChanged();
    this.syncReminder();
  }

  /**
   * @param {object | null} [task] the task to edit; none: a new one
   * @param {{ preset?: object }} [options] fields a new task starts with
   */
  open(task = null, { preset } = {}) {
    this.task = task;
    // Kept while the form is open: "Add task" pressed again after an error the
    // server did act on finds that task instead of adding a second one.
    this.newTaskId = task ? null : newId();
    /** @type {HTMLElement | null} */
    this.returnFocus = /** @type {HTMLElement | null} */ (document.activeElement);
    const zone = this.zone();
    this.errorBox.hidden = true;
    this.heading.textContent = task ? "Edit task" : "New task";
    this.zoneNote.textContent = `Times are in ${zone}.`;
    this.title.value = task ? task.title : "";
    this.notes.value = task ? task.description || "" : "";
    const priority = task ? task.priority : "none";
    for (const wrap of this.priority) {
      const radio = wrap.querySelector("input");
      radio.checked = radio.value === priority;
    }
    this.tags.value = task ? task.tags.join(", ") : "";
    this.due.value = task ? toLocalInput(task.due_at, zone) : "";
    const hour = (n) => timeOfDay(new Date(Date.UTC(2000, 0, 1, n)), "UTC");
    this.quickToday.textContent = `Today ${hour(18)}`;
    this.quickTomorrow.textContent = `Tomorrow ${hour(9)}`;
    const due = localInputToInstant(this.due.value, zone);
    this.dueHint.textContent = due ? occurrenceText(due, zone) : "";
    this.loadReminder(task);
    this.recurrence.load(task ? task.recurrence_rule : null, task ? task.repeat_from : "due");
    if (preset) this.recurrence.setPreset(preset);
    this.deleteButton.hidden = !task;
    this.skipButton.hidden = !(task && task.recurrence_rule && task.status === "active");
    this.saveButton.textContent = task ? "Save changes" : "Add task";
    if (!this.dialog.open) this.dialog.showModal();
    this.title.focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  loadReminder(task) {
    const zone = this.zone();
    this.remindMode.value = "none";
    this.remindBefore.value = "15";
    this.remindAt.value = "";
    if (task && task.remind_at) {
      const offset = task.due_at ? (Date.parse(task.due_at) - Date.parse(task.remind_at)) / 60_000 : null;
      if (offset !== null && BEFORE.some(([m]) => m === offset)) {
        this.remindMode.value = "before";
        this.remindBefore.value = String(offset);
      } else {
        this.remindMode.value = "at";
      }
      this.remindAt.value = toLocalInput(task.remind_at, zone);
    }
    this.syncReminder();
  }

  /** The reminder as the API takes it, or null; undefined when it cannot be worked out. */
  reminderValue() {
    const mode = this.remindMode.value;
    if (mode === "none") return null;
    if (mode === "at") return this.remindAt.value || undefined;
    const due = localInputToInstant(this.due.value, this.zone());
    if (!due) return undefined;
    return new Date(due.getTime() - Number(this.remindBefore.value) * 60_000).toISOString();
  }

  syncReminder() {
    const mode = this.remindMode.value;
    this.remindAt.hidden = mode !== "at";
    this.remindBefore.hidden = mode !== "before";
    this.remindHint.textContent = "";
    if (mode === "before") {
      if (!this.due.value) this.remindHint.textContent = "Set a due time first.";
      else {
        const value = this.reminderValue();
        if (value) this.remindHint.textContent = `At ${occurrenceText(value, this.zone())}.`;
      }
    }
    if (mode === "at" && !this.remindAt.value) {
      const base = localInputToInstant(this.due.value, this.zone());
      this.remindAt.value = base ? this.due.value : instantToLocalInput(new Date(Date.now() + 3_600_000), this.zone());
    }
  }

  fields() {
    const priority = this.priority.map((w) => w.querySelector("input")).find((r) => r.checked);
    const remind = this.reminderValue();
    if (remind === undefined) {
      throw new ApiError(422, { detail: "Choose when to be reminded (a reminder before the due time needs a due time)." });
    }
    return {
      title: this.title.value.trim(),
      description: this.notes.value.trim() ? this.notes.value : null,
      priority: priority ? priority.value : "none",
      tags: parseTags(this.tags.value),
      due_at: this.due.value || null,
      remind_at: remind,
      ...this.recurrence.value(),
    };
  }

  /** Only what changed, so an edit does not overwrite what it did not touch. */
  changes(task, fields) {
    const zone = this.zone();
    const out = {};
    if (fields.title !== task.title) out.title = fields.title;
    if ((fields.description || null) !== (task.description || null)) out.description = fields.description;
    if (fields.priority !== task.priority) out.priority = fields.priority;
    if (fields.tags.join(",") !== task.tags.join(",")) out.tags = fields.tags;
    if ((fields.due_at || "") !== toLocalInput(task.due_at, zone)) out.due_at = fields.due_at;
    // Compared to the minute: the pickers do not show seconds.
    const minute = (v) => {
      if (!v) return "";
      const absolute = /(Z|[+-]\d\d:\d\d)$/i.test(v);
      return toLocalInput(absolute ? v : localInputToInstant(v, zone)?.toISOString(), zone);
    };
    const followsDue = "due_at" in out && this.remindMode.value === "before" && fields.remind_at;
    if (minute(fields.remind_at) !== minute(task.remind_at) || followsDue) out.remind_at = fields.remind_at;
    if ((fields.recurrence_rule || null) !== (task.recurrence_rule || null)) out.recurrence_rule = fields.recurrence_rule;
    if (fields.repeat_from !== task.repeat_from && (fields.recurrence_rule || task.recurrence_rule)) {
      out.repeat_from = fields.repeat_from;
    }
    return out;
  }

  showError(err) {
    this.errorBox.hidden = false;
    this.errorBox.textContent = err.message;
    const first = Object.keys(err.fields || {})[0];
    const target = { title: this.title, due_at: this.due, remind_at: this.remindMode, tags: this.tags,
      recurrence_rule: this.recurrence.presetSelect, description: this.notes }[first];
    (target || this.errorBox).focus?.();
  }

  async save() {
    if (!this.title.value.trim()) {
      this.showError(new ApiError(422, { detail: "Give the task a title." }));
      this.title.focus();
      return;
    }
    this.saveButton.disabled = true;
    try {
      const fields = this.fields();
      if (this.task) {
        const changes = this.changes(this.task, fields);
        if (Object.keys(changes).length) {
          const updated = await tasksApi.update(this.task.id, changes, this.task.version);
          this.store.upsert(updated);
          announce(`Saved “${updated.title}”.`);
        }
      } else {
        const created = await tasksApi.create({ ...fields, id: this.newTaskId, timezone: this.zone() });
        this.store.upsert(created, { created: true });
        announce(`Added “${created.title}”.`);
      }
      this.close();
    } catch (err) {
      const added = err.status === 409 && !this.task && this.newTaskId
        ? await tasksApi.get(this.newTaskId).catch(() => null) : null;
      if (added) {
        // The first "Add task" did add it (its answer was lost) and the form was
        // changed since: show the task as added, to be saved as an edit.
        this.store.upsert(added, { created: true });
        this.open(added);
        this.showError(new ApiError(409, { detail: "This task was already added. The form now shows it as it was saved — change it and save again." }));
      } else if (err.status === 412 && this.task) {
        const latest = await tasksApi.get(this.task.id).catch(() => null);
        if (latest) {
          this.store.upsert(latest);
          this.open(latest);
        }
        this.showError(new ApiError(412, { detail: "This task was changed somewhere else. The form now shows the latest version — check it and save again." }));
      } else {
        this.showError(err);
      }
    } finally {
      this.saveButton.disabled = false;
    }
  }

  async skip() {
    if (!this.task) return;
    try {
      const moved = await tasksApi.skip(this.task.id, this.task.version);
      this.store.upsert(moved);
      this.toaster.show({ title: "Skipped", body: `“${moved.title}” moves to its next occurrence.`, tone: "success" });
      this.close();
    } catch (err) {
      this.showError(err);
    }
  }

  async remove() {
    if (!this.task) return;
    if (this.deleteButton.dataset.armed !== "1") {
      this.deleteButton.dataset.armed = "1";
      this.deleteButton.textContent = "Really delete?";
      setTimeout(() => { delete this.deleteButton.dataset.armed; this.deleteButton.textContent = "Delete"; }, 4000);
      return;
    }
    try {
      await tasksApi.remove(this.task.id, this.task.version);
      this.store.remove(this.task.id, this.task.version);
      announce(`Deleted “${this.task.title}”.`);
      this.close();
    } catch (err) {
      this.showError(err);
    }
  }
}
