// @ts-check
// The signed-out screen: sign in, create an account, or (in local mode) use the
// one-time link that `make run` or `todo login-link` prints for the local user.

import { api, credentials } from "./api.js";
import { $ } from "./dom.js";
import { browserZone } from "./time.js";

export function showSignIn(root, { message = "", onSignedIn }) {
  root.hidden = false;
  const signin = $("#signin-form", root);
  const register = $("#register-form", root);
  const notice = $("#signin-notice", root);
  const error = $("#signin-error", root);
  notice.textContent = message;
  notice.hidden = !message;
  error.hidden = true;
  $("#register-zone", root).textContent = browserZone();

  const showMode = (mode) => {
    const isRegister = mode === "register";
    signin.hidden = isRegister;
    register.hidden = !isRegister;
    $("#signin-heading", root).textContent = isRegister ? "Create your account" : "Sign in";
    for (const tab of root.querySelectorAll("[data-mode]")) {
      tab.setAttribute("aria-pressed", String(tab.dataset.mode === mode));
    }
    error.hidden = true;
    (isRegister ? $("#register-email", root) : $("#signin-email", root)).focus();
  };
  for (const tab of root.querySelectorAll("[data-mode]")) tab.onclick = () => showMode(tab.dataset.mode);

  const fail = (err) => {
    error.hidden = false;
    error.textContent = err.message;
  };
  const busy = (form, on) => {
    for (const el of form.querySelectorAll("button, input")) el.disabled = on;
  };
  const login = async (email, password) => {
    const token = await api("/api/auth/login", { method: "POST", body: { email, password }, auth: false });
    credentials.save(token.access_token);
    root.hidden = true;
    onSignedIn();
  };

  signin.onsubmit = async (e) => {
    e.preventDefault();
    busy(signin, true);
    try {
      await login($("#signin-email", root).value.trim(), $("#signin-password", root).value);
    } catch (err) {
      fail(err.status === 401 ? new Error("That email and password do not match an account.") : err);
    } finally {
      busy(signin, false);
    }
  };
  register.onsubmit = async (e) => {
    e.preventDefault();
    busy(register, true);
    const email = $("#register-email", root).value.trim();
    const password = $("#register-password", root).value;
    try {
      await api("/api/auth/register", {
        method: "POST", auth: false,
        body: { email, password, display_name: $("#register-name", root).value.trim() || null, timezone: browserZone() },
      });
      await login(email, password);
    } catch (err) {
      fail(err.status === 409 ? new Error("There is already an account with that email. Sign in instead.") : err);
    } finally {
      busy(register, false);
    }
  };
  showMode("signin");
  showLocalHint($("#local-hint", root));
}

/**
 * Unhide `hint` when the server has a local user, whom `todo login-link` signs in.
 * @param {HTMLElement} hint
 */
export async function showLocalHint(hint) {
  try {
    const options = await api("/api/auth/options", { auth: false });
    hint.hidden = !options.login_link;
  } catch {
    hint.hidden = true; // an older server, or none: say nothing
  }
}
