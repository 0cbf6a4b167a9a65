// The sign-in form: posts the credentials with fetch, then goes to the page asked for.
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

function localPath(value) {
  return typeof value === "string" && value.startsWith("/") && !value.startsWith("//")
    && !value.includes("\\") ? value : "/admin/notifications";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const data = new FormData(form);
  let response;
  try {
    response = await fetch("/api/v1/auth/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ email: data.get("email"), password: data.get("password") }),
    });
  } catch {
    error.textContent = "The gateway cannot be reached.";
    error.hidden = false;
    return;
  }
  if (response.ok) {
    window.location.assign(localPath(form.dataset.next));
    return;
  }
  let detail = "Sign-in failed.";
  try {
    const problem = await response.json();
    if (typeof problem.detail === "string") detail = problem.detail;
  } catch { /* keep the generic message */ }
  error.textContent = detail;
  error.hidden = false;
});
