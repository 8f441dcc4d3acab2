// @ts-check
// The REST client: bearer token from localStorage, problem+json errors as ApiError.

const TOKEN_KEY = "todo.token";

export const credentials = {
  get token() {
    try { return localStorage.getItem(TOKEN_KEY); } catch { return null; }
  },
  save(token) { localStorage.setItem(TOKEN_KEY, token); },
  clear() { localStorage.removeItem(TOKEN_KEY); },
};

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && (body.detail || body.title)) || `request failed (${status})`;
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.body = body;
    this.fields = Object.fromEntries(
      ((body && body.errors) || []).map((e) => [e.field, e.message]),
    );
  }
}

/** Fired on window when the server no longer accepts the token. */
export const UNAUTHORIZED = "todo:unauthorized";

export function authHeaders(extra = {}) {
  const token = credentials.token;
  return token ? { Authorization: `Bearer ${token}`, ...extra } : { ...extra };
}

/**
 * @typedef {object} RequestOptions
 * @property {string} [method]
 * @property {unknown} [body] sent as JSON
 * @property {number} [ifMatch] the version the change is based on
 * @property {AbortSignal} [signal]
 * @property {boolean} [auth] send the bearer token (default true)
 */

/**
 * @param {string} path
 * @param {RequestOptions} [options]
 * @returns {Promise<any>}
 */
export async function api(path, { method = "GET", body, ifMatch, signal, auth = true } = {}) {
  const headers = auth ? authHeaders({ Accept: "application/json" }) : { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifMatch !== undefined && ifMatch !== null) headers["If-Match"] = `"${ifMatch}"`;
  let response;
  try {
    response = await fetch(path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { detail: "The server cannot be reached. Check your connection." });
  }
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    if (response.status === 401 && auth) window.dispatchEvent(new CustomEvent(UNAUTHORIZED));
    throw new ApiError(response.status, data);
  }
  return data;
}

/** A random UUID (v4): the id of a task this client creates, so that sending the
 * create again after a lost answer finds the task instead of adding it twice.
 * `crypto.randomUUID` needs a secure context; a page served over plain http on a
 * LAN address has only `getRandomValues`. */
export function newId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    search.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const tasksApi = {
  list: (params, signal) => api(`/api/tasks${query(params)}`, { signal }),
  get: (id) => api(`/api/tasks/${id}`),
  create: (fields) => api("/api/tasks", { method: "POST", body: fields }),
  update: (id, fields, version) =>
    api(`/api/tasks/${id}`, { method: "PATCH", body: fields, ifMatch: version }),
  remove: (id, version) => api(`/api/tasks/${id}`, { method: "DELETE", ifMatch: version }),
  complete: (id, version) => api(`/api/tasks/${id}/complete`, { method: "POST", ifMatch: version }),
  reopen: (id, version) => api(`/api/tasks/${id}/reopen`, { method: "POST", ifMatch: version }),
  skip: (id, version) => api(`/api/tasks/${id}/skip`, { method: "POST", ifMatch: version }),
  preview: (rule, start, timezone, count = 5, signal) =>
    api("/api/recurrence/preview", {
      method: "POST", body: { rule, start, timezone, count }, signal,
    }),
};
