// @ts-check
// Remote MCP clients connected over OAuth: the consent screen a client sends
// the user to (`/?oauth_request=<id>`, shown once the page has signed them
// in), and the account menu's list of connected clients, each with Revoke.

import { api } from "./api.js";
import { $, clear, h } from "./dom.js";

export const REQUEST_PARAM = "oauth_request";

/**
 * @typedef {object} Scope
 * @property {string} name
 * @property {string} description
 *
 * @typedef {object} AuthorizationRequest
 * @property {string} id
 * @property {string} client_id
 * @property {string | null} client_name
 * @property {string | null} client_uri
 * @property {string} redirect_uri
 * @property {Scope[]} scopes
 * @property {string} resource
 *
 * @typedef {object} ConnectedClient
 * @property {string} id
 * @property {string} client_id
 * @property {string | null} client_name
 * @property {Scope[]} scopes
 * @property {string} created_at
 * @property {string | null} last_used_at
 */

/** The host part of a URL, or the text itself when it is not one. */
export function hostOf(uri) {
  try {
    return new URL(uri).host || uri;
  } catch {
    return uri;
  }
}

/**
 * What the consent screen says, as plain lines (the page renders them as text).
 * @param {AuthorizationRequest} request
 */
export function consentText(request) {
  const name = request.client_name || "An unnamed application";
  return {
    title: `Connect ${name}?`,
    who: `${name} wants to use your tasks as you, through this app's MCP server.`,
    may: request.scopes.map((s) => s.description),
    where: `If you allow it, you go back to ${hostOf(request.redirect_uri)}.`,
    site: request.client_uri ? `Its site: ${hostOf(request.client_uri)}` : "It gave no website.",
  };
}

/** The pending request named in the address bar, removed from it at once. */
export function takeRequestId(loc = location, hist = history) {
  const params = new URLSearchParams(loc.search);
  const id = params.get(REQUEST_PARAM);
  if (id === null) return null;
  params.delete(REQUEST_PARAM);
  const rest = params.toString();
  hist.replaceState(null, "", `${loc.pathname}${rest ? `?${rest}` : ""}${loc.hash}`);
  return id;
}

function dialog(label) {
  const el = /** @type {HTMLDialogElement} */ (h("dialog", { class: "task-dialog connect-dialog", "aria-label": label }));
  document.body.append(el);
  el.addEventListener("close", () => el.remove());
  return el;
}

/** Shows the consent for `requestId`; the browser goes back to the client after the answer. */
export async function showConsent(requestId) {
  const box = dialog("Connect an application");
  box.addEventListener("cancel", (e) => e.preventDefault());  // answer it, do not dismiss it
  /** @type {AuthorizationRequest} */
  let request;
  try {
    request = await api(`/api/oauth/requests/${encodeURIComponent(requestId)}`);
  } catch (err) {
    box.append(
      h("p", { class: "error", role: "alert" },
        err.status === 404 ? "This connection request is unknown, already answered or expired. Start again from the application." : err.message),
      h("div", { class: "dialog-foot" }, h("button", { type: "button", class: "ghost", onclick: () => box.close() }, "Close")),
    );
    box.showModal();
    return;
  }
  const text = consentText(request);
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const answer = async (verdict) => {
    for (const b of box.querySelectorAll("button")) /** @type {HTMLButtonElement} */ (b).disabled = true;
    try {
      const { redirect_to: next } = await api(
        `/api/oauth/requests/${encodeURIComponent(request.id)}/${verdict}`, { method: "POST" },
      );
      location.assign(next);
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
      for (const b of box.querySelectorAll("button")) /** @type {HTMLButtonElement} */ (b).disabled = false;
    }
  };
  box.append(
    h("div", { class: "dialog-head" }, h("h2", {}, text.title)),
    h("p", {}, text.who),
    h("p", {}, "It will be able to:"),
    h("ul", { class: "connect-scopes" }, text.may.map((line) => h("li", {}, line))),
    h("p", { class: "muted small" }, text.site),
    h("p", { class: "muted small" }, text.where),
    h("p", { class: "muted small" }, "You can revoke it any time under Connected apps in the account menu."),
    error,
    h("div", { class: "dialog-foot" },
      h("div", { class: "left" }, h("button", { type: "button", class: "ghost", onclick: () => answer("deny") }, "Deny")),
      h("div", { class: "right" }, h("button", { type: "button", class: "primary", onclick: () => answer("approve") }, "Allow"))),
  );
  box.showModal();
}

/** The user's connected clients, each with Revoke. */
export async function showConnectedClients() {
  const box = dialog("Connected apps");
  const list = h("ul", { class: "connected-clients" });
  const status = h("p", { class: "muted small", role: "status" });
  box.append(
    h("div", { class: "dialog-head" }, h("h2", {}, "Connected apps")),
    h("p", { class: "muted small" }, "Applications you allowed to use your tasks through MCP."),
    status,
    list,
    h("div", { class: "dialog-foot" }, h("button", { type: "button", class: "ghost", onclick: () => box.close() }, "Close")),
  );
  box.showModal();
  const load = async () => {
    clear(list);
    try {
      /** @type {ConnectedClient[]} */
      const clients = await api("/api/oauth/clients");
      status.textContent = clients.length ? "" : "No applications are connected.";
      for (const client of clients) {
        const name = client.client_name || client.client_id;
        const revoke = h("button", {
          type: "button", class: "ghost small", "aria-label": `Revoke ${name}`,
          onclick: async () => {
            revoke.disabled = true;
            try {
              await api(`/api/oauth/clients/${client.id}`, { method: "DELETE" });
              status.textContent = `${name} is disconnected.`;
              await load();
            } catch (err) {
              revoke.disabled = false;
              status.textContent = err.message;
            }
          },
        }, "Revoke");
        const since = new Date(client.created_at).toLocaleDateString();
        list.append(h("li", { dataset: { clientId: client.client_id } },
          h("strong", {}, name), " ", h("span", { class: "muted small" }, `since ${since}`), " ", revoke));
      }
    } catch (err) {
      status.textContent = err.message;
    }
  };
  await load();
}

/** Wires the account menu's entry, and answers a pending request from the address bar. */
export function startConnections() {
  const menu = $(".account-menu");
  const signOut = $("#sign-out");
  if (menu && !$("#connected-apps", menu)) {
    const entry = h("button", { type: "button", id: "connected-apps", class: "ghost wide", onclick: () => showConnectedClients() }, "Connected apps");
    menu.insertBefore(entry, signOut && signOut.parentElement === menu ? signOut : null);
  }
  const requestId = takeRequestId();
  if (requestId) showConsent(requestId);
}
