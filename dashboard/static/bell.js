// The header: the bell (unread badge, dropdown of the newest unread notifications, kept live
// by the server's event stream, polling every 60 s while the stream is down), the opt-in
// desktop alerts for critical items, and Sign out.
import { API, CHANGED, api, el, priorityLabel, safeHref, timeElement } from "/static/api.js";

const STREAM = API + "/stream";
const LOGOUT = "/api/v1/auth/logout";
const LOGIN_PAGE = "/admin/login";
const DESKTOP_KEY = "gateway.desktop-critical";
const POLL_MS = 60000;
const RECENT_LIMIT = 10;

const bell = document.getElementById("bell");
const badge = document.getElementById("bell-badge");
const panel = document.getElementById("bell-panel");
const list = document.getElementById("bell-list");
const empty = document.getElementById("bell-empty");
const markAll = document.getElementById("bell-mark-all");
const desktopToggle = document.getElementById("desktop-toggle");
const desktopBox = document.getElementById("desktop-critical");
const desktopStatus = document.getElementById("desktop-status");
const logoutButton = document.getElementById("logout");
const baseTitle = document.title;

let shown = [];
let pollTimer = null;
let refetchQueued = false;

function setCount(count) {
  const n = Number(count) || 0;
  badge.textContent = n > 99 ? "99+" : String(n);
  badge.hidden = n === 0;
  bell.setAttribute("aria-label", n === 0 ? "Notifications" : `Notifications, ${n} unread`);
  document.title = n > 0 ? `(${n > 99 ? "99+" : n}) ${baseTitle}` : baseTitle;
}

function item(notification) {
  const href = safeHref(notification.action_url);
  const title = href
    ? el("a", { className: "bell-title", href }, notification.title)
    : el("span", { className: "bell-title" }, notification.title);
  const read = el("button", {
    type: "button",
    className: "link-button mark-read",
    "aria-label": "Mark read: " + notification.title,
  }, "Mark read");
  read.addEventListener("click", () => markRead(notification.id));
  return el("li", { className: "bell-item", dataset: { id: String(notification.id) } },
    priorityLabel(notification.priority),
    el("div", { className: "bell-text" }, title, timeElement(notification.created_at)),
    read);
}

function render(items, count) {
  shown = items;
  list.replaceChildren(...items.map(item));
  empty.hidden = items.length > 0;
  markAll.disabled = items.length === 0;
  setCount(count);
}

async function refresh() {
  try {
    const data = await api(`${API}/recent?limit=${RECENT_LIMIT}`);
    render(data.items, data.unread_count);
  } catch (error) {
    console.warn("notifications: refresh failed", error);
  }
}

// Several events in a burst cause one refetch.
function queueRefresh() {
  if (refetchQueued) return;
  refetchQueued = true;
  setTimeout(() => { refetchQueued = false; refresh(); }, 50);
}

function changed() {
  queueRefresh();
  document.dispatchEvent(new CustomEvent(CHANGED));
}

async function markRead(id) {
  await api(`${API}/${id}/read`, { method: "PUT" });
  changed();
}

async function markAllShown() {
  if (shown.length === 0) return;
  // Only what is on screen: anything newer than the newest shown stays unread.
  const upTo = Math.max(...shown.map((n) => n.id));
  await api(`${API}/mark-all-read`, { method: "PUT", body: { up_to_id: upTo } });
  changed();
}

function open() {
  panel.hidden = false;
  bell.setAttribute("aria-expanded", "true");
  refresh();
}

function close({ focus = false } = {}) {
  panel.hidden = true;
  bell.setAttribute("aria-expanded", "false");
  if (focus) bell.focus();
}

bell.addEventListener("click", () => (panel.hidden ? open() : close()));
markAll.addEventListener("click", markAllShown);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !panel.hidden) close({ focus: true });
});
document.addEventListener("click", (event) => {
  if (!panel.hidden && !panel.contains(event.target) && !bell.contains(event.target)) close();
});

// -- desktop alerts: opt-in, stored in localStorage; text only (title and body).

function desktopSupported() {
  return "Notification" in window;
}

function desktopEnabled() {
  return desktopSupported() && Notification.permission === "granted"
    && localStorage.getItem(DESKTOP_KEY) === "on";
}

async function desktopAlert(path, kind) {
  if (!desktopEnabled()) return;
  try {
    const item = await api(path);
    const body = kind === "alert" ? (item.description ?? "") : item.message;
    new Notification(String(item.title), { body: String(body).slice(0, 300), tag: `${kind}-${item.id}` });
  } catch (error) {
    console.warn("desktop alert failed", error);
  }
}

async function toggleDesktop() {
  desktopStatus.textContent = "";
  if (!desktopBox.checked) {
    localStorage.removeItem(DESKTOP_KEY);
    return;
  }
  let permission = Notification.permission;
  if (permission === "default") permission = await Notification.requestPermission();
  if (permission === "granted") {
    localStorage.setItem(DESKTOP_KEY, "on");
  } else {
    desktopBox.checked = false;
    localStorage.removeItem(DESKTOP_KEY);
    desktopStatus.textContent = "The browser blocks notifications for this site.";
  }
}

if (desktopSupported()) {
  desktopToggle.hidden = false;
  desktopBox.checked = desktopEnabled();
  desktopBox.addEventListener("change", toggleDesktop);
}

// -- sign out

logoutButton.addEventListener("click", async () => {
  logoutButton.disabled = true;
  try {
    await api(LOGOUT, { method: "POST" });
    window.location.assign(LOGIN_PAGE);
  } catch (error) {
    console.warn("sign out failed", error);
    logoutButton.disabled = false;
  }
});

function startPolling() {
  if (pollTimer === null) pollTimer = setInterval(refresh, POLL_MS);
}

function stopPolling() {
  if (pollTimer !== null) clearInterval(pollTimer);
  pollTimer = null;
}

function connect() {
  if (!("EventSource" in window)) {
    startPolling();
    return;
  }
  const source = new EventSource(STREAM);
  // Every (re)connection starts with hello: the count is current, the list is refetched.
  source.addEventListener("hello", (event) => {
    stopPolling();
    setCount(JSON.parse(event.data).unread_count);
    changed();
  });
  source.addEventListener("unread_count", (event) => {
    setCount(JSON.parse(event.data).unread_count);
  });
  source.addEventListener("notification.created", (event) => {
    const data = JSON.parse(event.data);
    if (data.priority === "critical") desktopAlert(`${API}/${Number(data.id)}`, "notification");
  });
  source.addEventListener("alert.created", (event) => {
    const data = JSON.parse(event.data);
    if (data.severity === "critical") desktopAlert(`${API}/alerts/${Number(data.id)}`, "alert");
  });
  for (const kind of [
    "notification.created", "notification.read", "notification.unread",
    "notification.deleted", "notifications.read",
    "alert.created", "alert.incremented", "alert.resolved", "resync",
  ]) {
    source.addEventListener(kind, changed);
  }
  source.addEventListener("error", () => {
    startPolling();
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, POLL_MS);
  });
  window.addEventListener("pagehide", () => source.close());
}

refresh();
connect();
