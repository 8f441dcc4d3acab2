import assert from "node:assert/strict";
import { test } from "node:test";

import { base64UrlToBytes, subscriptionBody } from "../js/push.js";

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
