// The login form both pages show when the REST API answers 401: it resolves once the
// operator is logged in, so the page can retry what it was doing.

import { hostLoginUrl, logIn } from "./api.js";
import { _ } from "./i18n.js";

/** Show the form in `container` (a <form> of the page) until a login succeeds; on a host
 * with a login page of its own (Wok), go there instead. */
export function askLogin(container) {
  const hostLogin = hostLoginUrl();
  if (hostLogin) {
    window.top.location.assign(hostLogin); // the page is left: nothing to resolve
    return new Promise(() => {});
  }
  const form = container;
  const user = form.querySelector("[name=username]");
  const password = form.querySelector("[name=password]");
  const error = form.querySelector(".login-error");
  form.hidden = false;
  error.textContent = "";
  user.focus();
  return new Promise((resolve) => {
    form.onsubmit = async (event) => {
      event.preventDefault();
      error.textContent = "";
      try {
        await logIn(user.value, password.value);
        password.value = "";
        form.hidden = true;
        form.onsubmit = null;
        resolve();
      } catch (failure) {
        error.textContent = failure.reason || _("The login failed.");
        password.select();
      }
    };
  });
}
