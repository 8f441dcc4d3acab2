import assert from "node:assert/strict";
import { test } from "node:test";

import { base64UrlToBytes, forgetBrowser, subscriptionBody } from "../js/push.js";

test("base64UrlToBytes reads the server's VAPID key, without padding and with - and _", () => {
  const bytes = Uint8Array.from({ length: 65 }, (_, i) => (i * 37 + 4) % 256);
  const text = Buffer.from(bytes).toString("base64url");
  assert.ok(!text.includes("="));
  assert.deepEqual(base64UrlToBytes(text), bytes);
  assert.deepEqual(base64UrlToBytes("-_8"), Uint8Array.from([0xfb, 0xff]));
});

test("subscriptionBody sends what the server stores and nothing else", () => {
  const json = {
    endpoint: "https://push.example.net/send/abc",
    keys: { p256dh: "BOr", auth: "xyz" },
    extra: "not sent",
  };
  assert.deepEqual(subscriptionBody(json), {
    endpoint: "https://push.example.net/send/abc",
    expirationTime: null,
    keys: { p256dh: "BOr", auth: "xyz" },
  });
  assert.equal(subscriptionBody({ ...json, expirationTime: 1700000000000 }).expirationTime, 1700000000000);
});

/** A registration whose push manager holds `subscription` (or none). */
function registrationWith(subscription) {
  return /** @type {any} */ ({ pushManager: { getSubscription: async () => subscription } });
}

test("forgetBrowser tells the server and drops the browser's subscription", async (t) => {
  const requests = [];
  t.mock.method(globalThis, "fetch", async (url, init) => {
    requests.push([init.method, url]);
    return new Response(null, { status: 204 });
  });
  let dropped = 0;
  const endpoint = "https://push.example.net/send/a b";
  const forgot = await forgetBrowser(registrationWith({ endpoint, unsubscribe: async () => { dropped += 1; return true; } }));
  assert.equal(forgot, true);
  assert.deepEqual(requests, [["DELETE", `/api/notifications/push/subscriptions?endpoint=${encodeURIComponent(endpoint)}`]]);
  assert.equal(dropped, 1);
});

test("forgetBrowser drops the subscription even when the server cannot be reached", async (t) => {
  t.mock.method(globalThis, "fetch", async () => { throw new TypeError("network down"); });
  let dropped = 0;
  const forgot = await forgetBrowser(registrationWith({ endpoint: "https://p.example/x", unsubscribe: async () => { dropped += 1; return true; } }));
  assert.equal(forgot, true);
  assert.equal(dropped, 1);
});

test("forgetBrowser does nothing without a subscription", async (t) => {
  const fetch = t.mock.method(globalThis, "fetch", async () => new Response(null, { status: 204 }));
  assert.equal(await forgetBrowser(registrationWith(null)), false);
  assert.equal(await forgetBrowser(null), false);
  assert.equal(fetch.mock.callCount(), 0);
});
