// The notifications page: two tabs (notifications, platform alerts) whose filters, page and open
// notification live in the URL query, so links can be shared and Back and Forward restore them;
// statistics cards; search, date range and multi-value filters; paging; a selection to mark read
// or delete; deletion after confirmation; a detail dialog; mark all read; resolving alerts.
import {
  API, CHANGED, api, el, priorityLabel, safeHref, severityLabel, timeElement,
} from "/static/api.js";

const ALERTS = API + "/alerts";
const PAGE_SIZE = 25;
const MAX_PAGE = 1000000;
// Filters whose API query cannot be given to mark-all-read: with them, only the unread
// notifications shown are marked.
const UNBOUNDED_BY_MARK_ALL = ["q", "since", "until"];

const $ = (id) => document.getElementById(id);
const FILTERS = { notifications: $("notification-filters"), alerts: $("alert-filters") };
const TABS = { notifications: $("tab-notifications"), alerts: $("tab-alerts") };
const PANELS = { notifications: $("panel-notifications"), alerts: $("panel-alerts") };
const PAGERS = { notifications: $("notification-pager"), alerts: $("alert-pager") };
const notificationList = $("notification-list");
const notificationEmpty = $("notification-empty");
const alertList = $("alert-list");
const alertEmpty = $("alert-empty");
const pageError = $("page-error");
const markAllButton = $("mark-all-read");
const selectAll = $("select-all");
const selectionCount = $("selection-count");
const readSelected = $("read-selected");
const deleteSelected = $("delete-selected");
const resolveDialog = $("resolve-dialog");
const resolveForm = $("resolve-form");
const resolveNotes = $("resolve-notes");
const resolveSubject = $("resolve-subject");
const deleteDialog = $("delete-dialog");
const deleteForm = $("delete-form");
const deleteSubject = $("delete-subject");
const detailDialog = $("detail-dialog");

let shownNotifications = [];
let selected = new Set();
let resolving = null;
let resolveOpener = null;
let deleting = null; // { ids, opener }
let detail = { id: null, pushed: false, opener: null };
let loadSeq = 0;

// -- the URL ------------------------------------------------------------------------------------

function state() {
  const query = new URLSearchParams(window.location.search);
  const tab = query.get("tab") === "alerts" ? "alerts" : "notifications";
  const page = Math.min(MAX_PAGE, Math.max(1, Math.floor(Number(query.get("page"))) || 1));
  const rawId = query.get("id") ?? "";
  const id = tab === "notifications" && /^[1-9]\d{0,15}$/.test(rawId) ? Number(rawId) : null;
  return { tab, query, page, id };
}

function go(query, { replace = false } = {}) {
  const search = query.toString();
  const url = window.location.pathname + (search ? "?" + search : "");
  if (url === window.location.pathname + window.location.search) return false;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  return true;
}

function withParam(name, value) {
  const query = new URLSearchParams(window.location.search);
  if (value === null) query.delete(name);
  else query.set(name, String(value));
  return query;
}

// The values of `name` in the URL that the form offers (a hand-edited URL cannot break the API).
function offered(form, query, name) {
  const known = new Set([...form.elements].filter((e) => e.name === name).map((e) => e.value));
  return query.getAll(name).filter((value) => known.has(value));
}

// Copy the URL's query into the tab's filter form.
function fillForm(form, query) {
  for (const input of form.elements) {
    if (!input.name) continue;
    if (input.type === "checkbox") {
      input.checked = query.getAll(input.name).includes(input.value);
    } else if (input.tagName === "SELECT") {
      const value = query.get(input.name) ?? "";
      input.value = [...input.options].some((o) => o.value === value) ? value : "";
    } else {
      input.value = query.get(input.name) ?? "";
    }
  }
}

function formQuery(form) {
  const query = new URLSearchParams();
  for (const input of form.elements) {
    if (!input.name) continue;
    if (input.type === "checkbox") {
      if (input.checked) query.append(input.name, input.value);
    } else if (input.value.trim()) {
      query.append(input.name, input.value.trim());
    }
  }
  return query;
}

// A filter change: the tab's form becomes the URL, back on page 1.
function navigate(tab) {
  const query = formQuery(FILTERS[tab]);
  if (tab === "alerts") query.set("tab", "alerts");
  if (go(query)) load({ fill: true });
}

function goToPage(page) {
  const query = withParam("page", page > 1 ? page : null);
  query.delete("id");
  if (go(query)) load({ fill: true });
}

// "2024-06-01" in the URL: the start of that local day, as ISO-8601 UTC; `days` later for the
// end of a range (`until` is exclusive, so the day given is included).
function localDay(value, days = 0) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value ?? "");
  if (!match) return null;
  const date = new Date(2000, Number(match[2]) - 1, Number(match[3]) + days);
  date.setFullYear(Number(match[1]));
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

// -- rendering ----------------------------------------------------------------------------------

function showTab(tab) {
  for (const name of Object.keys(TABS)) {
    TABS[name].setAttribute("aria-selected", String(name === tab));
    TABS[name].tabIndex = name === tab ? 0 : -1;
    PANELS[name].hidden = name !== tab;
  }
}

// Above 10,000 matches PostgreSQL's total is an estimate (total_exact false): say "about",
// and let the next page's existence, not the total, decide whether Next is offered.
function renderPager(tab, page, data) {
  const nav = PAGERS[tab];
  const first = (page - 1) * PAGE_SIZE;
  const shown = data.items.length;
  const total = (data.total_exact ? "" : "about ") + data.total.toLocaleString("en");
  nav.hidden = data.total === 0 && page <= 1;
  nav.querySelector(".pager-status").textContent =
    shown === 0 ? `0 of ${total}` : `${first + 1}–${first + shown} of ${total}`;
  nav.querySelector(".pager-prev").disabled = page <= 1;
  nav.querySelector(".pager-next").disabled = data.next_cursor === null;
}

function notificationRow(n) {
  const box = el("input", {
    type: "checkbox",
    className: "select",
    checked: selected.has(n.id),
    "aria-label": "Select: " + n.title,
  });
  box.addEventListener("change", () => {
    if (box.checked) selected.add(n.id);
    else selected.delete(n.id);
    updateSelection();
  });
  const open = el("button", {
    type: "button",
    className: "title-button",
    "aria-haspopup": "dialog",
  }, n.title);
  open.addEventListener("click", () => openDetailFromRow(n.id, open));
  const href = safeHref(n.action_url);
  const row = el("li", { className: "row" + (n.is_read ? " is-read" : ""), dataset: { id: String(n.id) } },
    el("div", { className: "row-head" },
      box,
      priorityLabel(n.priority),
      el("span", { className: "kind" }, n.type.replaceAll("_", " ")),
      el("strong", { className: "row-title" }, open),
      timeElement(n.created_at)),
    el("p", { className: "row-message" }, n.message),
    el("div", { className: "row-foot" },
      el("span", { className: "state" }, n.is_read ? "Read" : "Unread"),
      href ? el("a", { href, className: "action-link", "aria-label": "Open the linked page: " + n.title }, "Open") : null));
  const foot = row.querySelector(".row-foot");
  if (!n.is_read) {
    const read = el("button", { type: "button", className: "mark-read", "aria-label": "Mark read: " + n.title }, "Mark read");
    read.addEventListener("click", async () => {
      await api(`${API}/${n.id}/read`, { method: "PUT" });
      refreshAll();
    });
    foot.append(read);
  }
  const remove = el("button", { type: "button", className: "delete", "aria-label": "Delete: " + n.title }, "Delete…");
  remove.addEventListener("click", () => confirmDelete([n.id], `Delete “${n.title}”? This cannot be undone.`, remove));
  foot.append(remove);
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
    const button = el("button", { type: "button", className: "resolve", "aria-label": "Resolve: " + a.title }, "Resolve…");
    button.addEventListener("click", () => {
      resolving = a.id;
      resolveOpener = button;
      resolveSubject.textContent = a.title;
      resolveNotes.value = "";
      resolveDialog.showModal();
    });
    row.append(button);
  }
  return row;
}

// -- selection ----------------------------------------------------------------------------------

function updateSelection() {
  const shown = shownNotifications.map((n) => n.id);
  const count = shown.filter((id) => selected.has(id)).length;
  selectionCount.textContent = count ? `${count} selected` : "";
  readSelected.disabled = !shownNotifications.some((n) => selected.has(n.id) && !n.is_read);
  deleteSelected.disabled = count === 0;
  selectAll.disabled = shown.length === 0;
  selectAll.checked = shown.length > 0 && count === shown.length;
  selectAll.indeterminate = count > 0 && count < shown.length;
}

selectAll.addEventListener("change", () => {
  selected = selectAll.checked ? new Set(shownNotifications.map((n) => n.id)) : new Set();
  for (const box of notificationList.querySelectorAll("input.select")) box.checked = selectAll.checked;
  updateSelection();
});

readSelected.addEventListener("click", async () => {
  const ids = shownNotifications.filter((n) => selected.has(n.id) && !n.is_read).map((n) => n.id);
  if (ids.length === 0) return;
  await api(`${API}/read`, { method: "PUT", body: { ids } });
  selected = new Set();
  refreshAll();
});

deleteSelected.addEventListener("click", () => {
  const ids = shownNotifications.filter((n) => selected.has(n.id)).map((n) => n.id);
  if (ids.length === 0) return;
  const what = ids.length === 1 ? "the selected notification" : `the ${ids.length} selected notifications`;
  confirmDelete(ids, `Delete ${what}? This cannot be undone.`, deleteSelected);
});

// -- loading ------------------------------------------------------------------------------------

async function fetchNotifications({ query, page }) {
  const form = FILTERS.notifications;
  const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String((page - 1) * PAGE_SIZE) });
  for (const name of ["priority", "type"]) {
    for (const value of offered(form, query, name)) params.append(name, value);
  }
  const isRead = query.get("is_read");
  if (isRead === "true" || isRead === "false") params.set("is_read", isRead);
  const q = (query.get("q") ?? "").trim().slice(0, 200);
  if (q) params.set("q", q);
  const since = localDay(query.get("since"));
  if (since) params.set("since", since);
  const until = localDay(query.get("until"), 1);
  if (until) params.set("until", until);
  return api(`${API}?${params}`);
}

async function fetchAlerts({ query, page }) {
  const form = FILTERS.alerts;
  const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String((page - 1) * PAGE_SIZE) });
  for (const name of ["severity", "alert_type"]) {
    for (const value of offered(form, query, name)) params.append(name, value);
  }
  const resolved = query.get("is_resolved");
  if (resolved === "true" || resolved === "false") params.set("is_resolved", resolved);
  return api(`${ALERTS}?${params}`);
}

// Redrawing a list must not lose the keyboard focus: note which control of which row has it,
// and give it to the same control (or, if that is gone, the row's first control) afterwards.
function focusedIn(list) {
  const active = document.activeElement;
  const row = active && list.contains(active) ? active.closest("li[data-id]") : null;
  return row ? { id: row.dataset.id, name: active.classList[0] ?? null } : null;
}

function refocus(list, focused) {
  if (focused === null) return;
  const row = list.querySelector(`li[data-id="${CSS.escape(focused.id)}"]`);
  const target = row && ((focused.name && row.querySelector("." + CSS.escape(focused.name)))
    || row.querySelector("button, input, a"));
  if (target) target.focus();
  else focusBack(null);
}

function renderNotifications(data, page) {
  shownNotifications = data.items;
  const shownIds = new Set(data.items.map((n) => n.id));
  selected = new Set([...selected].filter((id) => shownIds.has(id)));
  const focused = focusedIn(notificationList);
  notificationList.replaceChildren(...data.items.map(notificationRow));
  notificationEmpty.hidden = data.items.length > 0;
  markAllButton.disabled = !data.items.some((n) => !n.is_read);
  updateSelection();
  renderPager("notifications", page, data);
  refocus(notificationList, focused);
}

function renderAlerts(data, page) {
  const focused = focusedIn(alertList);
  alertList.replaceChildren(...data.items.map(alertRow));
  refocus(alertList, focused);
  alertEmpty.hidden = data.items.length > 0;
  renderPager("alerts", page, data);
}

// Show what the URL says. `fill` copies it into the filter form too (on navigation only, so a
// live refresh never overwrites what the admin is typing).
async function load({ fill = false } = {}) {
  const seq = ++loadSeq;
  const current = state();
  const { tab, page } = current;
  showTab(tab);
  if (fill) fillForm(FILTERS[tab], current.query);
  try {
    const data = await (tab === "alerts" ? fetchAlerts(current) : fetchNotifications(current));
    if (seq !== loadSeq) return;
    const lastPage = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
    if (data.items.length === 0 && page > lastPage) {
      // The page emptied (deletions, or an old link): show the last page instead.
      go(withParam("page", lastPage > 1 ? lastPage : null), { replace: true });
      await load();
      return;
    }
    if (tab === "alerts") renderAlerts(data, page);
    else renderNotifications(data, page);
    pageError.hidden = true;
  } catch (error) {
    if (seq !== loadSeq) return;
    console.warn("notifications page: load failed", error);
    pageError.textContent = "The list could not be loaded. Check the filters and try again.";
    pageError.hidden = false;
    return;
  }
  syncDetail(state());
}

async function loadStats() {
  const stats = await api(`${ALERTS}/stats`);
  $("stat-unread").textContent = String(stats.unread);
  $("stat-active").textContent = String(stats.active_alerts);
  $("stat-critical").textContent = String(stats.critical);
  $("stat-resolved").textContent = String(stats.resolved_today);
}

async function refreshAll() {
  await Promise.all([load(), loadStats().catch((e) => console.warn("stats failed", e))]);
}

// -- deleting -----------------------------------------------------------------------------------

// Return focus to what opened a dialog, or, when that is gone, to a stable place nearby.
function focusBack(opener, fallback = null) {
  if (opener && opener.isConnected && !opener.disabled) opener.focus();
  else if (fallback) fallback.focus();
  else if (!selectAll.disabled) selectAll.focus();
  else TABS[state().tab].focus();
}

function confirmDelete(ids, message, opener) {
  deleting = { ids, opener };
  deleteSubject.textContent = message;
  deleteDialog.showModal();
  $("delete-cancel").focus();
}

$("delete-cancel").addEventListener("click", () => deleteDialog.close());
deleteDialog.addEventListener("close", () => {
  // Cancelled (button or Escape); a confirmed delete returns focus once the list is redrawn.
  if (deleting !== null) focusBack(deleting.opener);
  deleting = null;
});
deleteForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (deleting === null) return;
  const { ids, opener } = deleting;
  deleting = null;
  deleteDialog.close();
  try {
    if (ids.length === 1 && opener !== deleteSelected) {
      await api(`${API}/${ids[0]}`, { method: "DELETE" });
    } else {
      await api(`${API}/delete`, { method: "POST", body: { ids } });
    }
  } finally {
    for (const id of ids) selected.delete(id);
    await refreshAll();
    if (!opener.isConnected || opener.disabled || document.activeElement === document.body) {
      focusBack(opener);
    }
  }
});

// -- the detail dialog --------------------------------------------------------------------------

function storeOf(metadata) {
  const name = metadata?.store_name;
  const id = metadata?.store_id;
  if (name !== undefined && name !== null && id !== undefined && id !== null) {
    return `${String(name)} (store ${String(id)})`;
  }
  if (name !== undefined && name !== null) return String(name);
  return id !== undefined && id !== null ? `store ${String(id)}` : "—";
}

function fact(label, value) {
  return [el("dt", {}, label), el("dd", {}, value)];
}

function renderDetail(n) {
  $("detail-title").textContent = n.title;
  $("detail-message").textContent = n.message;
  $("detail-facts").replaceChildren(
    ...fact("Type", n.type.replaceAll("_", " ")),
    ...fact("Priority", priorityLabel(n.priority)),
    ...fact("Store", storeOf(n.metadata)),
    ...fact("Rule", n.rule ?? "—"),
    ...fact("Source", n.source ?? "—"),
    ...fact("Created", timeElement(n.created_at, { relative: false })),
    ...fact("Read", n.read_at ? timeElement(n.read_at, { relative: false }) : "Unread"),
    ...fact("Action required", n.action_required ? "Yes" : "No"),
  );
  $("detail-metadata").textContent = JSON.stringify(n.metadata ?? {}, null, 2);
  const action = $("detail-action");
  const href = safeHref(n.action_url);
  action.replaceChildren(...(href ? [el("a", { href, className: "action-link" }, "Open the linked page"),
    " ", el("span", { className: "muted" }, href)] : []));
  action.hidden = !href;
}

// Opening a notification marks it read: the admin has seen all of it.
async function showDetail(id) {
  let n = await api(`${API}/${id}`);
  if (!n.is_read) {
    n = await api(`${API}/${id}/read`, { method: "PUT" });
    refreshAll();
  }
  if (detail.id !== id) return; // closed or replaced meanwhile
  renderDetail(n);
  if (!detailDialog.open) detailDialog.showModal();
  $("detail-close").focus();
}

async function openDetail(id, { pushed, opener }) {
  detail = { id, pushed, opener };
  try {
    await showDetail(id);
  } catch (error) {
    console.warn("notification detail failed", error);
    if (detail.id !== id) return;
    detail = { id: null, pushed: false, opener: null };
    pageError.textContent = `Notification ${id} could not be shown (it may have been deleted).`;
    pageError.hidden = false;
    go(withParam("id", null), { replace: true });
  }
}

function openDetailFromRow(id, opener) {
  const pushed = go(withParam("id", id));
  openDetail(id, { pushed, opener });
}

// After a load: open the notification the URL names, or close the dialog when it names none.
function syncDetail({ id }) {
  if (id !== null && detail.id !== id) {
    const opener = notificationList.querySelector(`li[data-id="${id}"] .title-button`);
    openDetail(id, { pushed: false, opener });
  } else if (id === null && detail.id !== null) {
    detailDialog.close();
  }
}

$("detail-close").addEventListener("click", () => detailDialog.close());
detailDialog.addEventListener("close", () => {
  const { pushed, opener, id } = detail;
  detail = { id: null, pushed: false, opener: null };
  if (state().id !== null) {
    // Closed by the admin: leave the dialog's URL (Back returns to the list as it was).
    if (pushed) history.back();
    else go(withParam("id", null), { replace: true });
  }
  const row = id === null ? null : notificationList.querySelector(`li[data-id="${id}"] .title-button`);
  focusBack(opener && opener.isConnected ? opener : row);
});

// -- the rest of the page -----------------------------------------------------------------------

for (const [tab, form] of Object.entries(FILTERS)) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate(tab);
  });
  // The search box applies on submit (Enter or the button); every other control at once.
  form.addEventListener("change", (event) => {
    if (event.target.type !== "search") navigate(tab);
  });
}
$("notification-clear").addEventListener("click", () => {
  if (go(new URLSearchParams())) load({ fill: true });
});
$("alert-clear").addEventListener("click", () => {
  if (go(new URLSearchParams({ tab: "alerts" }))) load({ fill: true });
});
for (const [tab, button] of Object.entries(TABS)) {
  button.addEventListener("click", () => {
    if (state().tab !== tab) navigate(tab);
  });
  // Arrow keys move between the tabs, as the tab pattern expects.
  button.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const other = TABS[tab === "alerts" ? "notifications" : "alerts"];
    other.focus();
    other.click();
  });
}
for (const nav of Object.values(PAGERS)) {
  nav.querySelector(".pager-prev").addEventListener("click", () => goToPage(state().page - 1));
  nav.querySelector(".pager-next").addEventListener("click", () => goToPage(state().page + 1));
}

markAllButton.addEventListener("click", async () => {
  const unread = shownNotifications.filter((n) => !n.is_read);
  if (unread.length === 0) return;
  const { query } = state();
  if (UNBOUNDED_BY_MARK_ALL.some((name) => query.get(name))) {
    // mark-all-read cannot filter by text or date: mark exactly the unread ones shown.
    await api(`${API}/read`, { method: "PUT", body: { ids: unread.map((n) => n.id) } });
  } else {
    // Everything matching the filters, but nothing newer than the newest unread one shown.
    const form = FILTERS.notifications;
    const body = { up_to_id: Math.max(...unread.map((n) => n.id)) };
    const priorities = offered(form, query, "priority");
    const types = offered(form, query, "type");
    if (priorities.length) body.priority = priorities;
    if (types.length) body.type = types;
    await api(`${API}/mark-all-read`, { method: "PUT", body });
  }
  refreshAll();
});

$("resolve-cancel").addEventListener("click", () => resolveDialog.close());
resolveDialog.addEventListener("close", () => {
  if (resolveOpener) focusBack(resolveOpener, TABS.alerts);
  resolveOpener = null;
});
resolveForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (resolving === null) return;
  const notes = resolveNotes.value.trim();
  const id = resolving;
  resolving = null;
  const opener = resolveOpener;
  resolveOpener = null;
  resolveDialog.close();
  await api(`${ALERTS}/${id}/resolve`, {
    method: "PUT",
    body: notes ? { resolution_notes: notes } : {},
  });
  await refreshAll();
  focusBack(opener, TABS.alerts);
});
window.addEventListener("popstate", () => load({ fill: true }));
document.addEventListener(CHANGED, refreshAll);

fillForm(FILTERS[state().tab], state().query);
refreshAll();
