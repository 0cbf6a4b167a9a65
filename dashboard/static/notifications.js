// The notifications page: two tabs (notifications, platform alerts) whose filters live in the
// URL query, so Back and Forward restore them; statistics cards; mark read; resolve alerts.
import {
  API, CHANGED, api, el, priorityLabel, safeHref, severityLabel, timeElement,
} from "/static/api.js";

const ALERTS = API + "/alerts";
const PAGE_SIZE = 50;
const FILTERS = {
  notifications: document.getElementById("notification-filters"),
  alerts: document.getElementById("alert-filters"),
};
const TABS = {
  notifications: document.getElementById("tab-notifications"),
  alerts: document.getElementById("tab-alerts"),
};
const PANELS = {
  notifications: document.getElementById("panel-notifications"),
  alerts: document.getElementById("panel-alerts"),
};
const notificationList = document.getElementById("notification-list");
const notificationEmpty = document.getElementById("notification-empty");
const alertList = document.getElementById("alert-list");
const alertEmpty = document.getElementById("alert-empty");
const markAllButton = document.getElementById("mark-all-read");
const dialog = document.getElementById("resolve-dialog");
const resolveForm = document.getElementById("resolve-form");
const resolveNotes = document.getElementById("resolve-notes");
const resolveSubject = document.getElementById("resolve-subject");

let shownNotifications = [];
let resolving = null;

function state() {
  const query = new URLSearchParams(window.location.search);
  return { tab: query.get("tab") === "alerts" ? "alerts" : "notifications", query };
}

// Copy the URL's query into the tab's filter form, ignoring values the form does not offer.
function fillForm(form, query) {
  for (const select of form.querySelectorAll("select")) {
    const value = query.get(select.name) ?? "";
    select.value = [...select.options].some((o) => o.value === value) ? value : "";
  }
}

function formQuery(form) {
  const query = new URLSearchParams();
  for (const select of form.querySelectorAll("select")) {
    if (select.value) query.set(select.name, select.value);
  }
  return query;
}

function navigate(tab) {
  const query = formQuery(FILTERS[tab]);
  if (tab === "alerts") query.set("tab", "alerts");
  const search = query.toString();
  history.pushState(null, "", window.location.pathname + (search ? "?" + search : ""));
  load();
}

function showTab(tab) {
  for (const name of Object.keys(TABS)) {
    TABS[name].setAttribute("aria-selected", String(name === tab));
    PANELS[name].hidden = name !== tab;
  }
}

function notificationRow(n) {
  const href = safeHref(n.action_url);
  const title = href ? el("a", { href }, n.title) : el("span", {}, n.title);
  const row = el("li", { className: "row" + (n.is_read ? " is-read" : ""), dataset: { id: String(n.id) } },
    el("div", { className: "row-head" },
      priorityLabel(n.priority),
      el("span", { className: "kind" }, n.type.replaceAll("_", " ")),
      el("strong", { className: "row-title" }, title),
      timeElement(n.created_at)),
    el("p", { className: "row-message" }, n.message),
    el("div", { className: "row-foot" },
      el("span", { className: "state" }, n.is_read ? "Read" : "Unread")));
  if (!n.is_read) {
    const button = el("button", { type: "button", className: "mark-read" }, "Mark read");
    button.addEventListener("click", async () => {
      await api(`${API}/${n.id}/read`, { method: "PUT" });
      refreshAll();
    });
    row.querySelector(".row-foot").append(button);
  }
  return row;
}

function alertRow(a) {
  const scope = [...a.affected_stores.map((s) => "store " + s), ...a.affected_systems];
  const row = el("li", { className: "row" + (a.is_resolved ? " is-read" : ""), dataset: { id: String(a.id) } },
    el("div", { className: "row-head" },
      severityLabel(a.severity),
      el("span", { className: "kind" }, a.alert_type),
      el("strong", { className: "row-title" }, a.title),
      el("span", { className: "count" }, `×${a.occurrence_count}`)),
    a.description ? el("p", { className: "row-message" }, a.description) : null,
    el("dl", { className: "facts" },
      el("dt", {}, "First seen"), el("dd", {}, timeElement(a.first_occurred_at, { relative: false })),
      el("dt", {}, "Last seen"), el("dd", {}, timeElement(a.last_occurred_at)),
      el("dt", {}, "Affects"), el("dd", {}, scope.length ? scope.join(", ") : "—"),
      el("dt", {}, "Status"), el("dd", { className: "state" }, a.is_resolved ? "Resolved" : "Active")),
    a.is_resolved && a.resolution_notes ? el("p", { className: "notes" }, a.resolution_notes) : null);
  if (!a.is_resolved) {
    const button = el("button", { type: "button", className: "resolve" }, "Resolve…");
    button.addEventListener("click", () => {
      resolving = a.id;
      resolveSubject.textContent = a.title;
      resolveNotes.value = "";
      dialog.showModal();
    });
    row.append(button);
  }
  return row;
}

function apiQuery(query, names) {
  const out = new URLSearchParams({ limit: String(PAGE_SIZE) });
  for (const name of names) {
    const value = query.get(name);
    if (value) out.set(name, value);
  }
  return out;
}

async function loadNotifications(query) {
  const page = await api(`${API}?${apiQuery(query, ["priority", "type", "is_read"])}`);
  shownNotifications = page.items;
  notificationList.replaceChildren(...page.items.map(notificationRow));
  notificationEmpty.hidden = page.items.length > 0;
  markAllButton.disabled = !page.items.some((n) => !n.is_read);
}

async function loadAlerts(query) {
  const page = await api(`${ALERTS}?${apiQuery(query, ["severity", "is_resolved"])}`);
  alertList.replaceChildren(...page.items.map(alertRow));
  alertEmpty.hidden = page.items.length > 0;
}

async function loadStats() {
  const stats = await api(`${ALERTS}/stats`);
  document.getElementById("stat-unread").textContent = String(stats.unread);
  document.getElementById("stat-active").textContent = String(stats.active_alerts);
  document.getElementById("stat-critical").textContent = String(stats.critical);
  document.getElementById("stat-resolved").textContent = String(stats.resolved_today);
}

async function load() {
  const { tab, query } = state();
  showTab(tab);
  fillForm(FILTERS[tab], query);
  try {
    await (tab === "alerts" ? loadAlerts(query) : loadNotifications(query));
  } catch (error) {
    console.warn("notifications page: load failed", error);
  }
}

async function refreshAll() {
  await Promise.all([load(), loadStats().catch((e) => console.warn("stats failed", e))]);
}

for (const [tab, form] of Object.entries(FILTERS)) {
  form.addEventListener("change", () => navigate(tab));
  form.addEventListener("submit", (event) => event.preventDefault());
}
for (const [tab, button] of Object.entries(TABS)) {
  button.addEventListener("click", () => {
    if (state().tab !== tab) navigate(tab);
  });
}
markAllButton.addEventListener("click", async () => {
  const unread = shownNotifications.filter((n) => !n.is_read);
  if (unread.length === 0) return;
  const { query } = state();
  const body = { up_to_id: Math.max(...unread.map((n) => n.id)) };
  if (query.get("priority")) body.priority = [query.get("priority")];
  if (query.get("type")) body.type = [query.get("type")];
  await api(`${API}/mark-all-read`, { method: "PUT", body });
  refreshAll();
});
document.getElementById("resolve-cancel").addEventListener("click", () => dialog.close());
resolveForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (resolving === null) return;
  const notes = resolveNotes.value.trim();
  const id = resolving;
  resolving = null;
  dialog.close();
  await api(`${ALERTS}/${id}/resolve`, {
    method: "PUT",
    body: notes ? { resolution_notes: notes } : {},
  });
  refreshAll();
});
window.addEventListener("popstate", load);
document.addEventListener(CHANGED, refreshAll);

refreshAll();
