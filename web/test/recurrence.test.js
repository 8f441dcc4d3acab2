import assert from "node:assert/strict";
import { test } from "node:test";

import {
  buildRule, describeRule, parseRuleText, presetLabel, startFacts, stateFromRule,
} from "../js/recurrence.js";

const START = "2030-03-29T09:00"; // a Friday, the last one of March

test("startFacts knows the weekday, which one in the month, and whether it is the last", () => {
  const facts = startFacts(START);
  assert.equal(facts?.weekday, "FR");
  assert.equal(facts?.nth, 5);
  assert.equal(facts?.isLast, true);
  assert.equal(startFacts("nonsense"), null);
});

test("parseRuleText upper-cases and drops the RRULE: prefix", () => {
  assert.deepEqual(parseRuleText("rrule:freq=weekly;byday=mo,we"), { FREQ: "WEEKLY", BYDAY: "MO,WE" });
});

test("each preset builds its rule and reads back as the same preset", () => {
  for (const preset of ["daily", "weekdays", "weekly", "monthly-day", "monthly-nth", "monthly-last", "yearly"]) {
    const state = { ...stateFromRule(null), preset };
    const rule = buildRule(state, START, "Europe/Berlin");
    assert.ok(rule, preset);
    assert.equal(stateFromRule(rule, START).preset, preset, `${preset}: ${rule}`);
  }
  assert.equal(buildRule(stateFromRule(null), START, "UTC"), null);
});

test("an end date is the end of that day in the task's zone, in UTC", () => {
  const state = { ...stateFromRule(null), preset: "daily", end: /** @type {"until"} */ ("until"), until: "2030-04-30" };
  assert.equal(buildRule(state, START, "Europe/Berlin"), "FREQ=DAILY;UNTIL=20300430T215959Z");
});

test("a rule with parts no preset has stays custom", () => {
  const state = stateFromRule("FREQ=MONTHLY;BYSETPOS=2;BYDAY=MO,TU", START);
  assert.equal(state.preset, "custom");
  assert.equal(state.custom, "FREQ=MONTHLY;BYSETPOS=2;BYDAY=MO,TU");
});

test("describeRule and presetLabel read as a person says them", () => {
  assert.equal(describeRule("FREQ=WEEKLY;BYDAY=MO,WE"), "weekly on Mon, Wed");
  assert.equal(describeRule("FREQ=MONTHLY;BYDAY=-1FR"), "monthly on the last Fri");
  assert.equal(describeRule("FREQ=DAILY;INTERVAL=2;COUNT=5"), "every 2 days, 5 times");
  assert.equal(describeRule("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"), "weekdays");
  assert.equal(presetLabel("monthly-nth", startFacts("2030-03-15T09:00")), "Monthly on the third Friday");
});
