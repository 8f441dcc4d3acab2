// Expands every recurring component of the calendar read on standard input
// with ical.js, using only the VTIMEZONEs the calendar itself carries.
// Usage: node expand_ical.mjs <ical.js module path> <until, ISO 8601 UTC>
// Prints {"<UID>": ["<UTC instant>", ...], ...} as JSON.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [modulePath, untilText] = process.argv.slice(2);
const { default: ICAL } = await import(pathToFileURL(modulePath).href);

const root = new ICAL.Component(ICAL.parse(readFileSync(0, "utf8")));
for (const vtimezone of root.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(vtimezone);
}
const until = Date.parse(untilText);
/** @type {Record<string, string[]>} */
const found = {};
for (const component of root.getAllSubcomponents()) {
  if (!["vtodo", "vevent"].includes(component.name)) continue;
  if (component.hasProperty("recurrence-id")) continue;
  const dtstart = component.getFirstPropertyValue("dtstart");
  if (!dtstart || !component.hasProperty("rrule")) continue;
  const expansion = new ICAL.RecurExpansion({ component, dtstart });
  const instants = [];
  for (let next = expansion.next(); next; next = expansion.next()) {
    const at = next.toJSDate().getTime();
    if (at > until) break;
    instants.push(new Date(at).toISOString());
  }
  found[String(component.getFirstPropertyValue("uid"))] = instants;
}
process.stdout.write(JSON.stringify(found));
