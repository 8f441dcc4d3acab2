import assert from "node:assert/strict";
import { test } from "node:test";

import { consentText, hostOf, takeRequestId } from "../js/connect.js";

const request = {
  id: "r1",
  client_id: "c1",
  client_name: "Remote Assistant",
  client_uri: "https://assistant.example/about",
  redirect_uri: "https://assistant.example/callback?x=1",
  scopes: [{ name: "tasks", description: "See, add, change, complete and delete your tasks" }],
  resource: "https://todo.example/mcp",
};

test("the consent names the client, what it may do and where the browser goes", () => {
  const text = consentText(request);
  assert.equal(text.title, "Connect Remote Assistant?");
  assert.deepEqual(text.may, ["See, add, change, complete and delete your tasks"]);
  assert.match(text.where, /assistant\.example/);
  assert.match(text.site, /assistant\.example/);
});

test("an unnamed client is called so, and a client without a site says so", () => {
  const text = consentText({ ...request, client_name: null, client_uri: null });
  assert.equal(text.title, "Connect An unnamed application?");
  assert.equal(text.site, "It gave no website.");
});

test("hostOf keeps text that is not a URL", () => {
  assert.equal(hostOf("http://127.0.0.1:8765/cb"), "127.0.0.1:8765");
  assert.equal(hostOf("not a url"), "not a url");
});

test("the request id is taken from the address bar and removed from it", () => {
  const replaced = [];
  const hist = { replaceState: (_s, _t, url) => replaced.push(url) };
  const loc = { search: "?oauth_request=abc&view=board", pathname: "/", hash: "#x" };
  assert.equal(takeRequestId(loc, hist), "abc");
  assert.deepEqual(replaced, ["/?view=board#x"]);
  assert.equal(takeRequestId({ search: "", pathname: "/", hash: "" }, hist), null);
  assert.equal(replaced.length, 1);
});
