// The page's service worker: shows the reminders the server sends by Web Push
// while no page of the app is open. Served at /sw.js, so its scope is the whole app.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch {
    message = { title: event.data.text() };
  }
  const title = message.title || "Reminder";
  // The tag is the reminder's event id: a message the server sent again (delivery is
  // at least once) replaces the notification instead of showing a second one.
  event.waitUntil(self.registration.showNotification(title, {
    body: message.body || "",
    tag: message.event_id || undefined,
    icon: "/static/icon.svg",
    data: { task_id: message.task_id || null },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
    if (open) return open.focus();
    return self.clients.openWindow("/");
  })());
});
