import assert from "node:assert/strict";
import { test } from "node:test";

import {
  dayIndex, describeDue, localInputToInstant, parseLocalInput, relativeAgo, toLocalInput,
  wallToInstant, zonedParts,
} from "../js/time.js";

const NY = "America/New_York";

test("zonedParts reads an instant as the wall clock of a zone", () => {
  const p = zonedParts(new Date("2030-03-04T15:00:00Z"), NY);
  assert.deepEqual(p, { year: 2030, month: 3, day: 4, hour: 10, minute: 0, second: 0, weekday: 1 });
});

test("wallToInstant takes the earlier time when clocks go back", () => {
  // 1:30 happens twice on 3 Nov 2030 in New York: the first is EDT (-04:00).
  assert.equal(wallToInstant({ year: 2030, month: 11, day: 3, hour: 1, minute: 30 }, NY).toISOString(),
    "2030-11-03T05:30:00.000Z");
  assert.equal(wallToInstant({ year: 2030, month: 7, day: 1, hour: 9 }, NY).toISOString(),
    "2030-07-01T13:00:00.000Z");
});

test("a local input round-trips through its instant", () => {
  const instant = localInputToInstant("2030-07-01T09:15", "Europe/Berlin");
  assert.equal(instant?.toISOString(), "2030-07-01T07:15:00.000Z");
  assert.equal(toLocalInput(instant?.toISOString(), "Europe/Berlin"), "2030-07-01T09:15");
  assert.equal(parseLocalInput("not a date"), null);
  assert.equal(toLocalInput(null, NY), "");
});

test("dayIndex counts whole days", () => {
  assert.equal(dayIndex({ year: 2030, month: 3, day: 5 }) - dayIndex({ year: 2030, month: 2, day: 26 }), 7);
});

test("a task due at 09:00 today is overdue at 10:00; tomorrow's is not", () => {
  const now = new Date("2030-03-04T15:00:00Z"); // 10:00 in New York
  assert.deepEqual(describeDue("2030-03-04T09:00:00-05:00", NY, { now }), { text: "overdue 1 h", tone: "overdue" });
  const tomorrow = describeDue("2030-03-05T09:00:00-05:00", NY, { now });
  assert.equal(tomorrow?.tone, "soon");
  // The clock's format is the locale's (or the account's): 09:00 or 9:00 AM.
  assert.match(tomorrow?.text ?? "", /^tomorrow (09:00|9:00\s(AM|am))$/u);
  assert.deepEqual(describeDue("2030-03-02T09:00:00-05:00", NY, { now }), { text: "overdue 2 days", tone: "overdue" });
});

test("a completed task is never overdue", () => {
  const now = new Date("2030-03-04T15:00:00Z");
  const done = describeDue("2030-03-04T09:00:00-05:00", NY, { now, completed: true });
  assert.equal(done?.tone, "done");
  assert.match(done?.text ?? "", /^today (09:00|9:00\s(AM|am))$/u);
});

test("a bare due date (23:59) shows no time of day", () => {
  const now = new Date("2030-03-04T15:00:00Z");
  assert.deepEqual(describeDue("2030-03-05T23:59:00-05:00", NY, { now }), { text: "tomorrow", tone: "soon" });
  assert.equal(describeDue(null, NY, { now }), null);
});

test("relativeAgo", () => {
  const now = new Date("2030-03-04T15:00:00Z");
  assert.equal(relativeAgo("2030-03-04T14:59:30Z", now), "just now");
  assert.equal(relativeAgo("2030-03-04T14:55:00Z", now), "5 min ago");
  assert.equal(relativeAgo("2030-03-02T15:00:00Z", now), "2 days ago");
});

test("the account's time format decides how every time of day is written", async (t) => {
  const { setTimeFormat, timeOfDay, fullDateTime, occurrenceText } = await import("../js/time.js");
  t.after(() => setTimeFormat("auto"));
  const now = new Date("2030-03-04T15:00:00Z");
  const due = "2030-03-05T17:00:00-05:00";
  setTimeFormat("24h");
  assert.equal(describeDue(due, NY, { now })?.text, "tomorrow 17:00");
  assert.match(timeOfDay(due, NY), /^17:00$/);
  assert.match(occurrenceText(due, NY), /17:00/);
  assert.match(fullDateTime(due, NY), /17:00/);
  setTimeFormat("12h");
  const twelve = describeDue(due, NY, { now })?.text ?? "";
  assert.match(twelve, /^tomorrow 5:00\s(PM|pm)$/u);
  assert.doesNotMatch(occurrenceText(due, NY), /17:00/);
  assert.doesNotMatch(fullDateTime(due, NY), /17:00/);
  setTimeFormat("nonsense");
  assert.equal(describeDue(due, NY, { now, completed: true })?.text.startsWith("tomorrow "), true);
});
