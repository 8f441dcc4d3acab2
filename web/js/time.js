// @ts-check
// Dates as people say them, in the user's own zone ("tomorrow 17:00",
// "overdue 2 days"), and the wall-clock <-> instant conversions the editor needs.

/**
 * @typedef {object} ZonedParts the wall-clock fields of an instant in a zone
 * @property {number} year
 * @property {number} month 1-12
 * @property {number} day
 * @property {number} hour 0-23
 * @property {number} minute
 * @property {number} second
 * @property {number} weekday 0 (Sunday) - 6
 */

/**
 * @typedef {object} WallTime a calendar date with an optional time of day
 * @property {number} year
 * @property {number} month 1-12
 * @property {number} day
 * @property {number} [hour]
 * @property {number} [minute]
 * @property {number} [second]
 */

/** @typedef {{ text: string, tone: string }} DueText */

/** @type {Map<string, Intl.DateTimeFormat>} */
const formatters = new Map();

/**
 * How clock times are written everywhere on the page: the account's
 * `time_format` ("auto": the browser's locale decides, "12h", "24h").
 * @typedef {"auto" | "12h" | "24h"} TimeFormat
 */
/** @type {TimeFormat} */
let timeFormat = "auto";

/** @param {string | null | undefined} format the account's time_format */
export function setTimeFormat(format) {
  timeFormat = format === "12h" || format === "24h" ? format : "auto";
}

/** @returns {TimeFormat} */
export function getTimeFormat() {
  return timeFormat;
}

/** @type {Map<string, boolean>} */
const localeCycles = new Map();

/**
 * Whether this browser's locale writes the time of day with AM/PM.
 * @param {string} [locale]
 */
export function localeUses12Hour(locale) {
  let twelve = localeCycles.get(locale || "");
  if (twelve === undefined) {
    const cycle = new Intl.DateTimeFormat(locale, { hour: "numeric" }).resolvedOptions().hourCycle;
    twelve = cycle === "h12" || cycle === "h11";
    localeCycles.set(locale || "", twelve);
  }
  return twelve;
}

/**
 * @param {string} zone
 * @param {Intl.DateTimeFormatOptions} options
 * @param {string} [locale]
 */
function formatter(zone, options, locale) {
  /** @type {Intl.DateTimeFormatOptions} */
  const all = { timeZone: zone, ...options };
  // Every formatter that shows an hour follows the account's choice ("5:00 PM"
  // or "17:00"), unless it fixes its own cycle (the wall-clock arithmetic does).
  if ("hour" in options && !("hourCycle" in options)) {
    const twelve = timeFormat === "12h" || (timeFormat === "auto" && localeUses12Hour(locale));
    all.hour = twelve ? "numeric" : "2-digit";
    if (timeFormat !== "auto") all.hourCycle = twelve ? "h12" : "h23";
  }
  const key = `${locale || ""}|${JSON.stringify(all)}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, all);
    formatters.set(key, f);
  }
  return f;
}

/** @param {string} zone */
export function isKnownZone(zone) {
  try {
    formatter(zone, { hour: "2-digit" });
    return true;
  } catch {
    return false;
  }
}

export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/**
 * The wall-clock fields of an instant in `zone`.
 * @param {Date} date
 * @param {string} zone
 * @returns {ZonedParts}
 */
export function zonedParts(date, zone) {
  const f = formatter(zone, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit", hourCycle: "h23", weekday: "short",
  }, "en-US");
  /** @type {Record<string, string>} */
  const out = {};
  for (const part of f.formatToParts(date)) out[part.type] = part.value;
  const weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  return {
    year: Number(out.year), month: Number(out.month), day: Number(out.day),
    hour: Number(out.hour) % 24, minute: Number(out.minute), second: Number(out.second),
    weekday: weekdays.indexOf(out.weekday),
  };
}

/**
 * Days since the epoch of a calendar date (for whole-day differences).
 * @param {{ year: number, month: number, day: number }} p
 * @returns {number}
 */
export function dayIndex(p) {
  return Math.floor(Date.UTC(p.year, p.month - 1, p.day) / 86_400_000);
}

/** @param {Date} date @param {string} zone */
function offsetMs(date, zone) {
  const p = zonedParts(date, zone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (date.getTime() - date.getMilliseconds());
}

/**
 * The instant of a wall-clock time in `zone` (the earlier one when it occurs twice).
 * @param {WallTime} p
 * @param {string} zone
 * @returns {Date}
 */
export function wallToInstant(p, zone) {
  const guess = Date.UTC(p.year, p.month - 1, p.day, p.hour || 0, p.minute || 0, p.second || 0);
  const first = guess - offsetMs(new Date(guess), zone);
  const second = guess - offsetMs(new Date(first), zone);
  return new Date(Math.min(first, second));
}

/** @param {number} n @param {number} [w] */
const pad = (n, w = 2) => String(n).padStart(w, "0");

/**
 * "YYYY-MM-DDTHH:MM" for <input type="datetime-local">, wall-clock in `zone`.
 * @param {string | null | undefined} value an instant (RFC 3339)
 * @param {string} zone
 * @returns {string}
 */
export function toLocalInput(value, zone) {
  if (!value) return "";
  const p = zonedParts(new Date(value), zone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}

/**
 * @param {string | null | undefined} value "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS]"
 * @returns {Required<WallTime> | null}
 */
export function parseLocalInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(value || "");
  if (!m) return null;
  return {
    year: Number(m[1]), month: Number(m[2]), day: Number(m[3]),
    hour: Number(m[4] || 0), minute: Number(m[5] || 0), second: Number(m[6] || 0),
  };
}

/**
 * The instant of a local input value, read as wall-clock time in `zone`.
 * @param {string | null | undefined} value
 * @param {string} zone
 * @returns {Date | null}
 */
export function localInputToInstant(value, zone) {
  const p = parseLocalInput(value);
  return p ? wallToInstant(p, zone) : null;
}

/** @param {Date} date @param {string} zone */
export function instantToLocalInput(date, zone) {
  return toLocalInput(date.toISOString(), zone);
}

/**
 * The time of day in `zone`, as the account writes it: "17:00" or "5:00 PM".
 * @param {Date | string} date
 * @param {string} zone
 */
export function timeOfDay(date, zone) {
  return formatter(zone, { hour: "numeric", minute: "2-digit" }).format(new Date(date));
}

/** @param {Date} date @param {string} zone @param {Date} now */
function dateWords(date, zone, now) {
  const sameYear = zonedParts(date, zone).year === zonedParts(now, zone).year;
  /** @type {Intl.DateTimeFormatOptions} */
  const opts = sameYear
    ? { day: "numeric", month: "short" }
    : { day: "numeric", month: "short", year: "numeric" };
  return formatter(zone, opts).format(date);
}

/** @param {number} n @param {string} unit */
function plural(n, unit) {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/**
 * How a due time reads on the board: {text, tone} with tone one of
 * "overdue", "today", "soon", "later", "done".
 * A time of 23:59 is a due date without a time of day, so no time is shown.
 * Overdue is the server's rule: not completed and due before now.
 * @param {string | null | undefined} value the due instant (RFC 3339)
 * @param {string} zone
 * @param {{ now?: Date, completed?: boolean }} [options]
 * @returns {DueText | null}
 */
export function describeDue(value, zone, { now = new Date(), completed = false } = {}) {
  if (!value) return null;
  const date = new Date(value);
  const p = zonedParts(date, zone);
  const days = dayIndex(p) - dayIndex(zonedParts(now, zone));
  const dateOnly = p.hour === 23 && p.minute === 59;
  const clock = dateOnly ? "" : ` ${timeOfDay(date, zone)}`;
  if (!completed && date < now) {
    const minutes = Math.floor((now.getTime() - date.getTime()) / 60_000);
    if (days <= -1) return { text: `overdue ${plural(-days, "day")}`, tone: "overdue" };
    if (minutes < 1) return { text: "due now", tone: "overdue" };
    if (minutes < 60) return { text: `overdue ${minutes} min`, tone: "overdue" };
    return { text: `overdue ${Math.floor(minutes / 60)} h`, tone: "overdue" };
  }
  const tone = completed ? "done" : days === 0 ? "today" : days === 1 ? "soon" : "later";
  if (days === 0) return { text: `today${clock}`, tone };
  if (days === 1) return { text: `tomorrow${clock}`, tone };
  if (days === -1) return { text: `yesterday${clock}`, tone };
  if (days > 1 && days < 7) {
    const weekday = formatter(zone, { weekday: "short" }).format(date);
    return { text: `${weekday}${clock}`, tone };
  }
  return { text: `${dateWords(date, zone, now)}${clock}`, tone };
}

/**
 * A reminder reads like a due time, without the "overdue".
 * @param {string | null | undefined} value
 * @param {string} zone
 * @param {Date} [now]
 * @returns {string}
 */
export function describeWhen(value, zone, now = new Date()) {
  const out = describeDue(value, zone, { now, completed: true });
  return out ? out.text : "";
}

/**
 * The full, unambiguous time for tooltips and screen readers.
 * @param {string | null | undefined} value
 * @param {string} zone
 * @returns {string}
 */
export function fullDateTime(value, zone) {
  if (!value) return "";
  return formatter(zone, {
    weekday: "long", day: "numeric", month: "long", year: "numeric",
    hour: "numeric", minute: "2-digit", timeZoneName: "short",
  }).format(new Date(value));
}

/**
 * "Tue 4 Mar 2025, 09:00" for occurrence previews.
 * @param {string | Date} value
 * @param {string} zone
 * @returns {string}
 */
export function occurrenceText(value, zone) {
  return formatter(zone, {
    weekday: "short", day: "numeric", month: "short", year: "numeric",
    hour: "numeric", minute: "2-digit",
  }).format(new Date(value));
}

/**
 * "just now", "5 min ago", "3 h ago", "2 days ago".
 * @param {string} value an instant (RFC 3339)
 * @param {Date} [now]
 * @returns {string}
 */
export function relativeAgo(value, now = new Date()) {
  const seconds = Math.round((now.getTime() - new Date(value).getTime()) / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return `${plural(Math.round(hours / 24), "day")} ago`;
}
