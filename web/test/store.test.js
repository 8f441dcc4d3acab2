import assert from "node:assert/strict";
import { test } from "node:test";

import { TaskStore } from "../js/store.js";

/** @typedef {import("../js/store.js").Task} Task */

/** @param {string} id @param {Partial<Task>} [fields] @returns {Task} */
function task(id, fields = {}) {
  return {
    id, version: 1, title: id, status: "active", priority: "none", tags: [],
    created_at: "2030-01-01T00:00:00Z", updated_at: "2030-01-01T00:00:00Z", ...fields,
  };
}

/** @param {TaskStore} store */
const ids = (store) => store.view().map((t) => t.id);

test("the view keeps the server's order and filter", () => {
  const store = new TaskStore();
  store.load({ items: [task("b"), task("a"), task("c")], total: 3 }, 0);
  assert.deepEqual(ids(store), ["b", "a", "c"]);
});

test("a task that arrives live shows first and asks for a fresh answer", () => {
  const store = new TaskStore();
  store.load({ items: [task("a"), task("b")], total: 2 }, 0);
  let stale = 0;
  store.addEventListener("stale", () => { stale += 1; });
  store.upsert(task("new"), { created: true });
  assert.deepEqual(ids(store), ["new", "a", "b"]);
  assert.equal(stale, 1);
  // The server's next answer places it (here: last) or leaves it out.
  const asked = store.changeCounter;
  store.load({ items: [task("a"), task("b"), task("new")], total: 3 }, asked);
  assert.deepEqual(ids(store), ["a", "b", "new"]);
  store.load({ items: [task("a")], total: 1 }, store.changeCounter);
  assert.deepEqual(ids(store), ["a"]);
});

test("an older version never overwrites a newer one, and a deleted task stays gone", () => {
  const store = new TaskStore();
  store.load({ items: [task("a", { version: 3, title: "new title" })], total: 1 }, 0);
  assert.equal(store.upsert(task("a", { version: 2, title: "old title" })), false);
  assert.equal(store.get("a")?.title, "new title");
  store.remove("a", 3);
  assert.equal(store.upsert(task("a", { version: 4 })), false);
  assert.deepEqual(ids(store), []);
});

test("a restored task comes back in a later version and then takes changes", () => {
  const store = new TaskStore();
  store.load({ items: [task("a", { version: 3 })], total: 1 }, 0);
  store.remove("a", 3);
  // The creation event arriving late does not bring it back.
  assert.equal(store.upsert(task("a", { version: 3 }), { created: true }), false);
  assert.equal(store.upsert(task("a", { version: 4 }), { created: true }), true);
  assert.equal(store.upsert(task("a", { version: 5, title: "renamed" })), true);
  assert.equal(store.get("a")?.title, "renamed");
  assert.deepEqual(ids(store), ["a"]);
});

test("a change made during a fetch survives the fetch's older answer", () => {
  const store = new TaskStore();
  store.load({ items: [task("a")], total: 1 }, 0);
  const startedAt = store.changeCounter;
  store.upsert(task("b"), { created: true });
  store.load({ items: [task("a")], total: 1 }, startedAt);
  assert.deepEqual(ids(store), ["b", "a"]);
});

test("an optimistic change shows until undone or confirmed", () => {
  const store = new TaskStore();
  store.load({ items: [task("a")], total: 1 }, 0);
  const undo = store.optimistic("a", { title: "renamed" });
  assert.equal(store.get("a")?.title, "renamed");
  assert.equal(store.get("a")?._pending, true);
  undo();
  assert.equal(store.get("a")?.title, "a");
  store.optimistic("a", { _deleted: true });
  assert.deepEqual(ids(store), []);
  store.upsert(task("a", { version: 2 }));
  assert.deepEqual(ids(store), ["a"]);
});
