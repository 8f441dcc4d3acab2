// @ts-check
// Web Push: a switch in the notifications panel that subscribes this browser, so
// reminders arrive while the page is closed. The service worker (/sw.js) shows them.

import { api } from "./api.js";
import { announce, h } from "./dom.js";

export const WORKER_URL = "/sw.js";
const PUSH = "/api/notifications/push";

/** base64url (the server's VAPID public key) → the bytes `subscribe()` takes. */
export function base64UrlToBytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/**
 * What the server stores of a browser's subscription (`PushSubscription.toJSON()`).
 * @param {PushSubscriptionJSON} json
 */
export function subscriptionBody(json) {
  return {
    endpoint: json.endpoint,
    expirationTime: json.expirationTime ?? null,
    keys: { p256dh: json.keys?.p256dh, auth: json.keys?.auth },
  };
}

/** @param {PushSubscriptionJSON} json */
export function saveSubscription(json) {
  return api(`${PUSH}/subscriptions`, { method: "POST", body: subscriptionBody(json) });
}

/** @param {string} endpoint */
export function forgetSubscription(endpoint) {
  return api(`${PUSH}/subscriptions?endpoint=${encodeURIComponent(endpoint)}`, { method: "DELETE" });
}

/**
 * Signing out: this browser stops getting the account's reminders. The server forgets the
 * subscription and the browser drops it at its push service (so even when the server
 * cannot be reached, the push service answers 410 to the next message and the server
 * removes it then). True when there was a subscription.
 * @param {ServiceWorkerRegistration | null} registration
 */
export async function forgetBrowser(registration) {
  const subscription = await registration?.pushManager.getSubscription();
  if (!subscription) return false;
  try {
    await forgetSubscription(subscription.endpoint);
  } catch {
    // Unreachable, or already gone there: unsubscribing below is enough.
  }
  await subscription.unsubscribe();
  return true;
}

export function supported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

export class PushSwitch {
  /** @param {HTMLElement} root an empty element in the notifications panel */
  constructor(root) {
    this.root = root;
    /** @type {ServiceWorkerRegistration | null} */
    this.registration = null;
    this.input = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", role: "switch", id: "push-switch" }));
    this.status = h("p", { class: "muted small", id: "push-status", role: "status" });
    root.append(
      h("label", { class: "push-switch", for: "push-switch" }, this.input, " Remind me even when this page is closed"),
      this.status,
    );
    this.input.addEventListener("change", () => this.input.checked ? this.enable() : this.disable());
  }

  say(text) {
    this.status.textContent = text;
  }

  async start() {
    if (!supported()) {
      this.root.hidden = true;
      return;
    }
    this.root.hidden = false;
    try {
      this.registration = await navigator.serviceWorker.register(WORKER_URL, { scope: "/" });
      const current = await this.registration.pushManager.getSubscription();
      this.input.checked = Boolean(current);
    } catch (err) {
      this.input.disabled = true;
      this.say(`Push notifications are not available here: ${err.message}`);
    }
  }

  async enable() {
    this.input.disabled = true;
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        throw new Error("notifications are blocked for this site in the browser's settings");
      }
      const { public_key: key } = await api(`${PUSH}/key`);
      const registration = this.registration || await navigator.serviceWorker.register(WORKER_URL, { scope: "/" });
      let subscription;
      try {
        subscription = await registration.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: base64UrlToBytes(key),
        });
      } catch (err) {
        throw new Error(`the browser could not subscribe at its push service (${err.message})`);
      }
      await saveSubscription(subscription.toJSON());
      this.say("Reminders will reach this browser while the page is closed.");
      announce("Push notifications are on.");
    } catch (err) {
      this.input.checked = false;
      this.say(`Push notifications could not be turned on: ${err.message}`);
    } finally {
      this.input.disabled = false;
    }
  }

  /** Before signing out (see `forgetBrowser`). */
  forgetThisBrowser() {
    return forgetBrowser(this.registration);
  }

  async disable() {
    this.input.disabled = true;
    try {
      const subscription = await this.registration?.pushManager.getSubscription();
      if (subscription) {
        await forgetSubscription(subscription.endpoint).catch((err) => {
          if (err.status !== 404) throw err;
        });
        await subscription.unsubscribe();
      }
      this.say("");
      announce("Push notifications are off.");
    } catch (err) {
      this.input.checked = true;
      this.say(`Push notifications could not be turned off: ${err.message}`);
    } finally {
      this.input.disabled = false;
    }
  }
}
