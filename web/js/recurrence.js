// @ts-check
// Recurrence: presets <-> RRULE bodies, plain-language descriptions, and the
// editor with its live preview of the next occurrences (from the API, which
// owns RFC 5545 — nothing here expands a rule).

import { tasksApi } from "./api.js";
import { clear, debounce, h } from "./dom.js";
import { occurrenceText, parseLocalInput, wallToInstant } from "./time.js";

export const DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const DAY_NAMES = {
  MO: "Monday", TU: "Tuesday", WE: "Wednesday", TH: "Thursday",
  FR: "Friday", SA: "Saturday", SU: "Sunday",
};
const SHORT = { MO: "Mon", TU: "Tue", WE: "Wed", TH: "Thu", FR: "Fri", SA: "Sat", SU: "Sun" };
const ORDINALS = { 1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", "-1": "last" };
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];
const UNITS = { DAILY: "day", WEEKLY: "week", MONTHLY: "month", YEARLY: "year" };
const WEEKDAYS = "MO,TU,WE,TH,FR";

/**
 * @typedef {object} StartFacts the calendar facts of a start that presets are built on
 * @property {number} year
 * @property {number} month
 * @property {number} day
 * @property {number} hour
 * @property {number} minute
 * @property {number} second
 * @property {string} weekday "MO" … "SU"
 * @property {number} nth which of its weekday in the month (1-5)
 * @property {boolean} isLast the last of its weekday in the month
 */

/**
 * @typedef {object} RuleState what the recurrence editor shows
 * @property {string} preset one of PRESETS
 * @property {number} interval
 * @property {string[]} days BYDAY codes for "weekly"
 * @property {string} custom the rule text for "custom"
 * @property {"never" | "count" | "until"} end
 * @property {number} count
 * @property {string} until "YYYY-MM-DD"
 */

/**
 * The parts of an RRULE, keys and values upper-cased.
 * @param {string | null | undefined} rule
 * @returns {Record<string, string>}
 */
export function parseRuleText(rule) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const part of (rule || "").replace(/^RRULE:/i, "").split(";")) {
    const [key, value] = part.split("=");
    if (key && value !== undefined) out[key.trim().toUpperCase()] = value.trim().toUpperCase();
  }
  return out;
}

/** @param {number} n */
function ordinalDay(n) {
  const s = ["th", "st", "nd", "rd"];
  const v = n % 100;
  return `${n}${s[(v - 20) % 10] || s[v] || s[0]}`;
}

/**
 * The calendar facts of a start "YYYY-MM-DDTHH:MM" that presets are built on.
 * @param {string | null | undefined} startValue
 * @returns {StartFacts | null}
 */
export function startFacts(startValue) {
  const p = parseLocalInput(startValue);
  if (!p) return null;
  const weekdayIndex = new Date(Date.UTC(p.year, p.month - 1, p.day)).getUTCDay();
  const day = DAYS[(weekdayIndex + 6) % 7];
  const daysInMonth = new Date(Date.UTC(p.year, p.month, 0)).getUTCDate();
  return {
    ...p, weekday: day, nth: Math.ceil(p.day / 7), isLast: p.day + 7 > daysInMonth,
  };
}

export const PRESETS = ["none", "daily", "weekdays", "weekly", "monthly-day", "monthly-nth",
  "monthly-last", "yearly", "custom"];

/**
 * @param {string} preset
 * @param {StartFacts | null} facts
 * @param {string[]} [days]
 * @returns {string}
 */
export function presetLabel(preset, facts, days = []) {
  const wd = facts ? DAY_NAMES[facts.weekday] : "the same weekday";
  if (preset === "weekly" && days.length && !(facts && days.length === 1 && days[0] === facts.weekday)) {
    return `Weekly on ${DAYS.filter((d) => days.includes(d)).map((d) => SHORT[d]).join(", ")}`;
  }
  switch (preset) {
    case "none": return "Does not repeat";
    case "daily": return "Daily";
    case "weekdays": return "Every weekday (Mon–Fri)";
    case "weekly": return facts ? `Weekly on ${wd}` : "Weekly";
    case "monthly-day": return facts ? `Monthly on the ${ordinalDay(facts.day)}` : "Monthly on the same day";
    case "monthly-nth": return facts ? `Monthly on the ${ORDINALS[facts.nth]} ${wd}` : "Monthly on the Nth weekday";
    case "monthly-last": return facts ? `Monthly on the last ${wd}` : "Monthly on the last weekday";
    case "yearly": return facts ? `Yearly on ${facts.day} ${MONTHS[facts.month - 1]}` : "Yearly";
    default: return "Custom rule…";
  }
}

/** @param {string} dateValue @param {string} zone */
function untilUtc(dateValue, zone) {
  const p = parseLocalInput(dateValue);
  if (!p) return null;
  const instant = wallToInstant({ ...p, hour: 23, minute: 59, second: 59 }, zone);
  return instant.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * The RRULE body of an editor state (null when it does not repeat).
 * @param {RuleState} state
 * @param {string | null | undefined} startValue
 * @param {string} zone
 * @returns {string | null}
 */
export function buildRule(state, startValue, zone) {
  const facts = startFacts(startValue);
  const every = state.interval > 1 ? `;INTERVAL=${state.interval}` : "";
  let rule;
  switch (state.preset) {
    case "none": return null;
    case "custom": {
      const text = (state.custom || "").trim().replace(/^RRULE:/i, "");
      return text || null;
    }
    case "daily": rule = `FREQ=DAILY${every}`; break;
    case "weekdays": rule = `FREQ=WEEKLY;BYDAY=${WEEKDAYS}`; break;
    case "weekly": {
      const days = state.days.length ? state.days : facts ? [facts.weekday] : [];
      const ordered = DAYS.filter((d) => days.includes(d));
      rule = `FREQ=WEEKLY${every}${ordered.length ? `;BYDAY=${ordered.join(",")}` : ""}`;
      break;
    }
    case "monthly-day":
      rule = `FREQ=MONTHLY${every}${facts ? `;BYMONTHDAY=${facts.day}` : ""}`;
      break;
    case "monthly-nth":
      rule = `FREQ=MONTHLY${every}${facts ? `;BYDAY=${facts.nth}${facts.weekday}` : ""}`;
      break;
    case "monthly-last":
      rule = `FREQ=MONTHLY${every}${facts ? `;BYDAY=-1${facts.weekday}` : ""}`;
      break;
    case "yearly":
      rule = `FREQ=YEARLY${every}${facts ? `;BYMONTH=${facts.month};BYMONTHDAY=${facts.day}` : ""}`;
      break;
    default: return null;
  }
  if (state.end === "count" && state.count > 0) rule += `;COUNT=${state.count}`;
  if (state.end === "until" && state.until) {
    const until = untilUtc(state.until, zone);
    if (until) rule += `;UNTIL=${until}`;
  }
  return rule;
}

/**
 * The editor state that reproduces `rule` (a preset when one fits, else custom).
 * @param {string | null | undefined} rule
 * @param {string | null | undefined} [startValue]
 * @returns {RuleState}
 */
export function stateFromRule(rule, startValue) {
  /** @type {RuleState} */
  const base = { preset: "none", interval: 1, days: [], custom: "", end: "never", count: 10, until: "" };
  if (!rule) return base;
  const r = parseRuleText(rule);
  const facts = startFacts(startValue);
  const custom = { ...base, preset: "custom", custom: rule };
  const known = new Set(["FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "COUNT", "UNTIL"]);
  if (Object.keys(r).some((k) => !known.has(k))) return custom;
  const state = { ...base, interval: Number(r.INTERVAL || 1) };
  if (r.COUNT) Object.assign(state, { end: "count", count: Number(r.COUNT) });
  if (r.UNTIL) {
    const m = /^(\d{4})(\d{2})(\d{2})/.exec(r.UNTIL);
    if (!m) return custom;
    Object.assign(state, { end: "until", until: `${m[1]}-${m[2]}-${m[3]}` });
  }
  const byday = r.BYDAY ? r.BYDAY.split(",") : [];
  if (r.FREQ === "DAILY" && !r.BYDAY && !r.BYMONTHDAY && !r.BYMONTH) return { ...state, preset: "daily" };
  if (r.FREQ === "WEEKLY" && !r.BYMONTHDAY && !r.BYMONTH) {
    if (r.BYDAY === WEEKDAYS && state.interval === 1) return { ...state, preset: "weekdays" };
    if (byday.every((d) => DAYS.includes(d))) return { ...state, preset: "weekly", days: byday };
  }
  if (r.FREQ === "MONTHLY" && !r.BYMONTH && facts) {
    if (r.BYMONTHDAY && !r.BYDAY && Number(r.BYMONTHDAY) === facts.day) return { ...state, preset: "monthly-day" };
    if (r.BYDAY === `${facts.nth}${facts.weekday}` || r.BYDAY === `+${facts.nth}${facts.weekday}`) {
      return { ...state, preset: "monthly-nth" };
    }
    if (r.BYDAY === `-1${facts.weekday}`) return { ...state, preset: "monthly-last" };
  }
  if (r.FREQ === "YEARLY" && !r.BYDAY && facts) {
    const sameDay = (!r.BYMONTH || Number(r.BYMONTH) === facts.month)
      && (!r.BYMONTHDAY || Number(r.BYMONTHDAY) === facts.day);
    if (sameDay) return { ...state, preset: "yearly" };
  }
  return custom;
}

/**
 * "weekly on Mon, Wed", "monthly on the last Fri", "every 2 days" …
 * @param {string | null | undefined} rule
 * @returns {string}
 */
export function describeRule(rule) {
  if (!rule) return "";
  const r = parseRuleText(rule);
  const unit = UNITS[r.FREQ];
  if (!unit) return "repeats";
  const n = Number(r.INTERVAL || 1);
  let text = n > 1 ? `every ${n} ${unit}s` : { day: "daily", week: "weekly", month: "monthly", year: "yearly" }[unit];
  const days = r.BYDAY ? r.BYDAY.split(",") : [];
  if (r.FREQ === "WEEKLY" && r.BYDAY === WEEKDAYS && n === 1) text = "weekdays";
  else if (days.length) {
    const named = days.map((d) => {
      const m = /^([+-]?\d+)?([A-Z]{2})$/.exec(d);
      if (!m) return d;
      const ord = m[1] ? `${ORDINALS[Number(m[1])] || m[1]} ` : "";
      return `${ord}${SHORT[m[2]] || m[2]}`;
    });
    text += ` on ${/\d/.test(r.BYDAY) ? "the " : ""}${named.join(", ")}`;
  } else if (r.BYMONTHDAY) {
    const months = r.BYMONTH ? ` ${MONTHS[Number(r.BYMONTH) - 1]?.slice(0, 3) || ""}` : "";
    text += r.BYMONTH ? ` on ${r.BYMONTHDAY}${months}` : ` on the ${ordinalDay(Number(r.BYMONTHDAY))}`;
  }
  if (r.COUNT) text += `, ${r.COUNT} times`;
  if (r.UNTIL) text += `, until ${r.UNTIL.slice(0, 4)}-${r.UNTIL.slice(4, 6)}-${r.UNTIL.slice(6, 8)}`;
  return text;
}

let editorCount = 0;

/**
 * The recurrence part of the task form. `getStart()` gives the due time
 * ("YYYY-MM-DDTHH:MM", wall-clock in the task's zone); `getZone()` the zone.
 */
export class RecurrenceEditor {
  constructor({ getStart, getZone, onNeedStart }) {
    this.getStart = getStart;
    this.getZone = getZone;
    this.onNeedStart = onNeedStart;
    this.state = stateFromRule(null);
    this.repeatFrom = "due";
    this.seq = 0;
    this.abort = null;
    this.preview = debounce(() => this.refreshPreview(), 200);
    this.id = `rec${++editorCount}`;
    this.root = this.render();
  }

  render() {
    const id = this.id;
    this.presetSelect = h("select", { id: `${id}-preset`, name: "preset" });
    this.presetSelect.addEventListener("change", () => {
      const before = this.rule();
      this.state.preset = this.presetSelect.value;
      if (this.state.preset !== "none" && !this.getStart()) this.onNeedStart?.();
      if (this.state.preset === "custom" && !this.state.custom) {
        // Start the custom rule from what was chosen, so it can be tweaked.
        this.state.custom = before || "FREQ=DAILY";
      }
      this.sync();
    });

    this.intervalInput = h("input", {
      id: `${id}-interval`, type: "number", min: "1", max: "999", value: "1", inputmode: "numeric",
    });
    this.intervalInput.addEventListener("input", () => {
      this.state.interval = Math.max(1, Math.min(999, Number(this.intervalInput.value) || 1));
      this.sync({ keepInputs: true });
    });
    this.intervalUnit = h("span", { class: "unit" }, "days");
    this.intervalRow = h("div", { class: "field-inline rec-interval" },
      h("label", { for: `${id}-interval` }, "Every"), this.intervalInput, this.intervalUnit);

    this.dayBoxes = [];
    const toggles = DAYS.map((d) => {
      const box = h("input", { type: "checkbox", id: `${id}-day-${d}`, value: d });
      box.addEventListener("change", () => {
        this.state.days = this.dayBoxes.filter((b) => b.checked).map((b) => b.value);
        this.sync({ keepInputs: true });
      });
      this.dayBoxes.push(box);
      return h("span", { class: "day-toggle" }, box,
        h("label", { for: `${id}-day-${d}`, title: DAY_NAMES[d] },
          h("span", { "aria-hidden": "true" }, SHORT[d].slice(0, 2)),
          h("span", { class: "sr-only" }, DAY_NAMES[d])));
    });
    this.daysRow = h("fieldset", { class: "rec-days" },
      h("legend", {}, "On these days"), h("div", { class: "day-toggles" }, toggles));

    this.customInput = h("input", {
      id: `${id}-custom`, type: "text", spellcheck: "false", autocomplete: "off",
      placeholder: "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", "aria-describedby": `${id}-custom-help`,
    });
    this.customInput.addEventListener("input", () => {
      this.state.custom = this.customInput.value;
      this.sync({ keepInputs: true });
    });
    this.customRow = h("div", { class: "field rec-custom" },
      h("label", { for: `${id}-custom` }, "RRULE (RFC 5545)"), this.customInput,
      h("p", { class: "help", id: `${id}-custom-help` },
        "For example FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1 — the first Monday of every month."));

    this.endSelect = h("select", { id: `${id}-end` },
      h("option", { value: "never" }, "Never"),
      h("option", { value: "count" }, "After a number of times"),
      h("option", { value: "until" }, "On a date"));
    this.countInput = h("input", { id: `${id}-count`, type: "number", min: "1", max: "999", value: "10", "aria-label": "Number of times" });
    this.untilInput = h("input", { id: `${id}-until`, type: "date", "aria-label": "Last date" });
    for (const el of [this.endSelect, this.countInput, this.untilInput]) {
      el.addEventListener("input", () => {
        this.state.end = this.endSelect.value;
        this.state.count = Math.max(1, Number(this.countInput.value) || 1);
        this.state.until = this.untilInput.value;
        this.sync({ keepInputs: true });
      });
    }
    this.endRow = h("div", { class: "field-inline rec-end" },
      h("label", { for: `${id}-end` }, "Ends"), this.endSelect, this.countInput, this.untilInput);

    this.fromDue = h("input", { type: "radio", name: `${id}-from`, id: `${id}-from-due`, value: "due", checked: true });
    this.fromCompletion = h("input", { type: "radio", name: `${id}-from`, id: `${id}-from-completion`, value: "completion" });
    this.fromNote = h("p", { class: "help", id: `${id}-from-help` });
    for (const el of [this.fromDue, this.fromCompletion]) {
      el.addEventListener("change", () => {
        this.repeatFrom = this.fromCompletion.checked ? "completion" : "due";
        this.syncFromNote();
      });
    }
    this.fromRow = h("fieldset", { class: "rec-from segmented-radio", "aria-describedby": `${id}-from-help` },
      h("legend", {}, "Next one counts from"),
      h("span", {}, this.fromDue, h("label", { for: `${id}-from-due` }, "the due date")),
      h("span", {}, this.fromCompletion, h("label", { for: `${id}-from-completion` }, "when I complete it")),
      this.fromNote);

    this.ruleText = h("code", { class: "rule-text" });
    this.previewList = h("ol", { class: "occurrences" });
    this.previewNote = h("p", { class: "preview-note", role: "status" });
    this.previewBox = h("div", { class: "rec-preview", "aria-live": "polite" },
      h("p", { class: "rule-line" }, h("span", { class: "muted" }, "Rule "), this.ruleText),
      h("h3", { id: `${id}-preview-heading` }, "Next 5 occurrences"),
      this.previewList, this.previewNote);
    this.previewList.setAttribute("aria-labelledby", `${id}-preview-heading`);

    this.details = h("div", { class: "rec-details" },
      this.intervalRow, this.daysRow, this.customRow, this.endRow, this.fromRow, this.previewBox);
    return h("fieldset", { class: "recurrence" },
      h("legend", {}, "Repeat"),
      h("div", { class: "field" }, h("label", { for: `${id}-preset` }, "Repeats"), this.presetSelect),
      this.details);
  }

  syncFromNote() {
    this.fromNote.textContent = this.repeatFrom === "completion"
      ? "The next one is set when you complete this one, counted from that moment. The dates below assume you finish each on time."
      : "The next one follows the schedule, however late this one is done.";
  }

  /** Load a task's rule (or none). */
  load(rule, repeatFrom = "due") {
    this.state = stateFromRule(rule, this.getStart());
    this.repeatFrom = repeatFrom || "due";
    this.fromDue.checked = this.repeatFrom !== "completion";
    this.fromCompletion.checked = this.repeatFrom === "completion";
    this.syncFromNote();
    this.sync();
  }

  setPreset(preset) {
    this.state.preset = preset;
    this.sync();
  }

  /** The start moved: relabel the presets, rebuild the rule, preview again. */
  startChanged() {
    this.sync({ keepInputs: true });
  }

  rule() {
    return buildRule(this.state, this.getStart(), this.getZone());
  }

  value() {
    return { recurrence_rule: this.rule(), repeat_from: this.repeatFrom };
  }

  sync({ keepInputs = false } = {}) {
    const s = this.state;
    const facts = startFacts(this.getStart());
    clear(this.presetSelect);
    for (const preset of PRESETS) {
      this.presetSelect.append(h("option", { value: preset, selected: preset === s.preset }, presetLabel(preset, facts, s.days)));
    }
    this.presetSelect.value = s.preset;
    const repeats = s.preset !== "none";
    this.details.hidden = !repeats;
    const freq = { daily: "DAILY", weekly: "WEEKLY", "monthly-day": "MONTHLY", "monthly-nth": "MONTHLY", "monthly-last": "MONTHLY", yearly: "YEARLY" }[s.preset];
    this.intervalRow.hidden = !freq;
    if (freq) {
      const unit = UNITS[freq];
      this.intervalUnit.textContent = s.interval === 1 ? unit : `${unit}s`;
    }
    this.daysRow.hidden = s.preset !== "weekly";
    if (s.preset === "weekly") {
      const days = s.days.length ? s.days : facts ? [facts.weekday] : [];
      for (const box of this.dayBoxes) box.checked = days.includes(box.value);
    }
    this.customRow.hidden = s.preset !== "custom";
    this.endRow.hidden = !repeats || s.preset === "custom";
    if (!keepInputs) {
      this.intervalInput.value = String(s.interval);
      this.customInput.value = s.custom;
      this.endSelect.value = s.end;
      this.countInput.value = String(s.count);
      this.untilInput.value = s.until;
    }
    this.countInput.hidden = s.end !== "count";
    this.untilInput.hidden = s.end !== "until";
    const rule = this.rule();
    this.ruleText.textContent = rule || "—";
    if (repeats) this.preview();
    else this.preview.cancel();
  }

  async refreshPreview() {
    const rule = this.rule();
    const start = this.getStart();
    const seq = ++this.seq;
    if (this.abort) this.abort.abort();
    clear(this.previewList);
    this.previewNote.className = "preview-note";
    if (!rule) {
      this.previewNote.textContent = "Write a rule to see when it repeats.";
      return;
    }
    if (!start) {
      this.previewNote.textContent = "Set a due date: the first occurrence starts there.";
      return;
    }
    this.previewNote.textContent = "Working it out…";
    this.abort = new AbortController();
    try {
      const zone = this.getZone();
      const body = await tasksApi.preview(rule, start, zone, 5, this.abort.signal);
      if (seq !== this.seq) return;
      clear(this.previewList);
      for (const when of body.occurrences) {
        this.previewList.append(h("li", {}, h("time", { datetime: when }, occurrenceText(when, zone))));
      }
      this.previewNote.textContent = body.occurrences.length
        ? body.occurrences.length < 5 ? "The series ends there." : ""
        : "This rule never occurs after the start.";
    } catch (err) {
      if (err.name === "AbortError" || seq !== this.seq) return;
      this.previewNote.className = "preview-note error";
      this.previewNote.textContent = err.message;
    }
  }
}
