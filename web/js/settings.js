// @ts-check
// Account settings in a dialog: the display name, the time zone and how clock
// times are written. Saved with PATCH /api/auth/me; the page applies the
// answer at once (the board's times, the greeting, the account menu).

import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { browserZone, localeUses12Hour } from "./time.js";

/**
 * The account as GET/PATCH /api/auth/me answer it.
 * @typedef {object} Me
 * @property {string} id
 * @property {string} email
 * @property {string | null} display_name
 * @property {string} timezone
 * @property {"auto" | "12h" | "24h"} time_format
 */

function zoneNames() {
  try {
    return /** @type {any} */ (Intl).supportedValuesOf("timeZone");
  } catch {
    return [];
  }
}

export class SettingsPanel {
  /**
   * @param {{ getUser: () => Me, onSaved: (me: Me) => void }} options
   */
  constructor({ getUser, onSaved }) {
    this.getUser = getUser;
    this.onSaved = onSaved;
    /** @type {HTMLElement | null} */
    this.returnFocus = null;
    this.dialog = this.render();
    document.body.append(this.dialog);
  }

  render() {
    /**
     * @param {string} id @param {string} label @param {HTMLElement} control @param {string} help
     */
    const field = (id, label, control, help) => {
      const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
      control.setAttribute("aria-describedby", `${id}-help ${id}-error`);
      return h("div", { class: "field" }, h("label", { for: id }, label), control,
        h("p", { class: "help", id: `${id}-help` }, help), error);
    };
    this.name = /** @type {HTMLInputElement} */ (h("input", {
      id: "settings-name", name: "display_name", maxlength: "100", autocomplete: "name",
    }));
    this.zone = /** @type {HTMLInputElement} */ (h("input", {
      id: "settings-zone", name: "timezone", list: "settings-zones", autocomplete: "off", spellcheck: "false",
    }));
    const zones = h("datalist", { id: "settings-zones" }, zoneNames().map((z) => h("option", { value: z })));
    const example = localeUses12Hour() ? "5:00 PM" : "17:00";
    this.format = /** @type {HTMLSelectElement} */ (h("select", { id: "settings-time-format", name: "time_format" },
      h("option", { value: "auto" }, `Automatic, as this browser's language writes it (${example})`),
      h("option", { value: "12h" }, "12-hour (5:00 PM)"),
      h("option", { value: "24h" }, "24-hour (17:00)")));
    this.errorBox = h("p", { class: "form-error", role: "alert", hidden: true });
    this.saveButton = h("button", { type: "submit", class: "primary" }, "Save");
    const form = h("form", { class: "task-form settings-form", novalidate: true },
      h("header", { class: "dialog-head" }, h("h2", { id: "settings-heading" }, "Settings"),
        h("button", { type: "button", class: "icon-button", "aria-label": "Close", onclick: () => this.close() }, "✕")),
      this.errorBox,
      field("settings-name", "Your name", this.name, "How the assistant greets you. Leave it empty to go without."),
      field("settings-zone", "Time zone", this.zone,
        `Times on the board, and times you say or type without a zone, are in this zone. This device is in ${browserZone()}.`),
      zones,
      field("settings-time-format", "Time format", this.format, "Used on the board, in the task form, the chat and reminders."),
      h("footer", { class: "dialog-foot" }, h("div", { class: "left" }),
        h("div", { class: "right" },
          h("button", { type: "button", class: "ghost", onclick: () => this.close() }, "Cancel"),
          this.saveButton)));
    form.addEventListener("submit", (e) => { e.preventDefault(); this.save(); });
    const dialog = h("dialog", { class: "task-dialog settings-dialog", "aria-labelledby": "settings-heading" }, form);
    dialog.addEventListener("close", () => { this.returnFocus?.focus?.(); });
    return /** @type {HTMLDialogElement} */ (dialog);
  }

  open() {
    const me = this.getUser();
    this.returnFocus = /** @type {HTMLElement | null} */ (document.activeElement);
    this.name.value = me.display_name || "";
    this.zone.value = me.timezone;
    this.format.value = me.time_format || "auto";
    this.showErrors(null);
    if (!this.dialog.open) this.dialog.showModal();
    this.name.focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  /** What changed, as PATCH /api/auth/me takes it. */
  changes() {
    const me = this.getUser();
    /** @type {Record<string, string | null>} */
    const out = {};
    const name = this.name.value.trim() || null;
    if (name !== (me.display_name || null)) out.display_name = name;
    const zone = this.zone.value.trim();
    if (zone !== me.timezone) out.timezone = zone;
    if (this.format.value !== (me.time_format || "auto")) out.time_format = this.format.value;
    return out;
  }

  /** @param {ApiError | null} err */
  showErrors(err) {
    for (const el of this.dialog.querySelectorAll(".field-error")) {
      el.textContent = "";
      /** @type {HTMLElement} */ (el).hidden = true;
    }
    for (const input of [this.name, this.zone, this.format]) input.removeAttribute("aria-invalid");
    this.errorBox.hidden = !err;
    this.errorBox.textContent = err ? err.message : "";
    if (!err) return;
    /** @type {Record<string, HTMLElement>} */
    const controls = { display_name: this.name, timezone: this.zone, time_format: this.format };
    let first = null;
    for (const [name, message] of Object.entries(err.fields || {})) {
      const control = controls[name];
      if (!control) continue;
      const box = /** @type {HTMLElement} */ (this.dialog.querySelector(`#${control.id}-error`));
      box.textContent = message;
      box.hidden = false;
      control.setAttribute("aria-invalid", "true");
      first = first || control;
    }
    if (first) {
      this.errorBox.textContent = "Check the field marked below.";
      first.focus();
    }
  }

  async save() {
    const body = this.changes();
    if (!Object.keys(body).length) {
      this.close();
      return;
    }
    this.saveButton.setAttribute("disabled", "");
    try {
      const me = await api("/api/auth/me", { method: "PATCH", body });
      this.onSaved(me);
      this.close();
    } catch (err) {
      this.showErrors(err instanceof ApiError ? err : new ApiError(0, { detail: String(err) }));
    } finally {
      this.saveButton.removeAttribute("disabled");
    }
  }
}
