import assert from "node:assert/strict";
import { test } from "node:test";

import { newId } from "../js/api.js";

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("a new task id is a random version 4 UUID", () => {
  const ids = new Set(Array.from({ length: 200 }, newId));
  assert.equal(ids.size, 200);
  for (const id of ids) assert.match(id, V4);
});

test("without randomUUID (plain http off localhost) the id is still a version 4 UUID", (t) => {
  // An own property hides the prototype's method; deleting it brings it back.
  Object.defineProperty(globalThis.crypto, "randomUUID", { value: undefined, configurable: true });
  t.after(() => delete globalThis.crypto.randomUUID);
  assert.equal(typeof crypto.randomUUID, "undefined");
  const ids = new Set(Array.from({ length: 200 }, newId));
  assert.equal(ids.size, 200);
  for (const id of ids) assert.match(id, V4);
});
