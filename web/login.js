// The one-time sign-in link (`make run` and `todo login-link` print it): exchange its secret for an
// access token, keep the token where the page looks for it, and open the page.
// The secret is spent on first use and removed from the address bar at once.

const root = document.body;
const endpoint = root.dataset.linkEndpoint;
const status = document.getElementById("status");
const params = new URLSearchParams(location.search);
const secret = params.get("token");
history.replaceState(null, "", "/login");

function fail(message) {
  status.textContent = message;
  status.className = "error";
  document.getElementById("after-error").hidden = false;
  // Only a server with a local user can give a fresh link (`todo login-link`).
  fetch("/api/auth/options")
    .then((res) => (res.ok ? res.json() : {}))
    .then((options) => { document.getElementById("local-hint").hidden = !options.login_link; })
    .catch(() => {});
}

async function signIn() {
  if (!secret) throw new Error("This link has no token. Use the link that `make run` or `todo login-link` printed.");
  const res = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: secret }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.detail || "Sign-in failed.");
  localStorage.setItem("todo.token", body.access_token);
  const me = await (await fetch("/api/auth/me", {
    headers: { Authorization: `Bearer ${body.access_token}` },
  })).json();
  status.textContent = `Signed in as ${me.email}.`;
  const index = await fetch("/", { method: "HEAD" });
  if (index.ok) {
    location.replace("/");
    return;
  }
  document.getElementById("api-only").hidden = false;
}

signIn().catch((err) => fail(err.message));
