// The rules page: the rules in force with their match counts, the latest reload of the file,
// a dry run of pasted events, and a reload button for admins. Rule names, match values and
// pasted events are someone else's text: everything is written as text nodes.
import {
  CHANGED, api, el, priorityLabel, severityLabel, timeElement,
} from "/static/api.js";

const RULES = "/api/v1/admin/rules";
const MAX_EVENTS = 100; // one dry-run request each; more is not something to paste by hand
const REFRESH_DELAY_MS = 300;

const list = document.getElementById("rules-list");
const empty = document.getElementById("rules-empty");
const count = document.getElementById("rules-count");
const path = document.getElementById("rules-path");
const loaded = document.getElementById("rules-loaded");
const reloadStatus = document.getElementById("rules-reload-status");
const reloadIssues = document.getElementById("rules-reload-issues");
const sourcesText = document.getElementById("rules-sources");
const counting = document.getElementById("rules-counting");
const refreshButton = document.getElementById("rules-refresh");
const reloadButton = document.getElementById("rules-reload");
const reloadResult = document.getElementById("rules-reload-result");
const tryForm = document.getElementById("try-form");
const tryInput = document.getElementById("try-input");
const trySource = document.getElementById("try-source");
const trySubmit = document.getElementById("try-submit");
const tryErrors = document.getElementById("try-errors");
const tryResults = document.getElementById("try-results");

let refreshTimer = null;

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

// Like api.js's api(), but an error answer is returned, not thrown: the page shows the
// problem document's detail, field errors and rules-file issues.
async function post(url, body) {
  const headers = { Accept: "application/json", "X-CSRF-Token": csrfToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method: "POST",
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    const next = window.location.pathname + window.location.search;
    window.location.assign("/admin/login?next=" + encodeURIComponent(next));
    throw new Error("signed out");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  return { ok: response.ok, status: response.status, data };
}

function problemLines(status, data) {
  if (data === null || typeof data !== "object") return [`HTTP ${status}`];
  const lines = [String(data.detail ?? data.title ?? `HTTP ${status}`)];
  for (const error of data.errors ?? []) lines.push(`${error.field}: ${error.message}`);
  for (const issue of data.issues ?? []) lines.push(issueText(issue));
  return lines;
}

function issueText(issue) {
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.message}`;
}

function fillList(node, lines) {
  node.replaceChildren(...lines.map((line) => el("li", {}, line)));
  node.hidden = lines.length === 0;
}

// -- the rules in force

function conditionText(key, value) {
  if (value !== null && typeof value === "object") return `${key}: ${JSON.stringify(value)}`;
  return `${key} = ${String(value)}`;
}

function matchCell(rule) {
  const conditions = Object.entries(rule.match).map(([key, value]) =>
    el("li", {}, conditionText(key, value)));
  const from = rule.sources === null ? "any source" : rule.sources.join(", ");
  return el("td", { className: "rule-match" },
    el("ul", { className: "conditions" }, ...conditions),
    el("span", { className: "count" }, "from " + from));
}

function outputItem(output) {
  if (output.kind === "notify") {
    return el("li", {}, priorityLabel(output.priority), " ",
      String(output.type).replaceAll("_", " "), " notification");
  }
  if (output.kind === "alert") {
    return el("li", {}, severityLabel(output.severity), " ",
      String(output.type).replaceAll("_", " "), " alert");
  }
  return el("li", {}, "resolves alert ", el("code", {}, String(output.fingerprint)));
}

function ruleRow(rule) {
  const name = el("td", { className: "rule-name" },
    el("strong", {}, rule.name),
    rule.description ? el("p", { className: "notes" }, rule.description) : null,
    el("span", { className: "count" }, `line ${rule.line}${rule.stop ? ", stops evaluation" : ""}`));
  const last = rule.last_matched_at ? timeElement(rule.last_matched_at) : "never";
  const status = rule.enabled
    ? el("span", { className: "rule-on" }, "Enabled")
    : el("span", { className: "rule-off", title: "every source it listens to is disabled" },
      "Disabled");
  return el("tr", { dataset: { rule: rule.name } },
    name,
    matchCell(rule),
    el("td", {}, el("ul", { className: "outputs" }, ...rule.produces.map(outputItem))),
    el("td", { className: "rule-matches" }, String(rule.matches)),
    el("td", { className: "rule-last" }, last),
    el("td", {}, status));
}

function showReload(reload) {
  if (reload === null) {
    reloadStatus.replaceChildren("not loaded yet");
    fillList(reloadIssues, []);
    return;
  }
  const outcome = reload.ok
    ? el("span", { className: "rule-on" }, "succeeded")
    : el("span", { className: "rule-off" }, "failed; the rules below stay in force");
  reloadStatus.replaceChildren(outcome, " ", timeElement(reload.at));
  const lines = reload.ok ? [] : reload.issues.map(issueText);
  if (!reload.ok && lines.length === 0 && reload.error) lines.push(reload.error);
  fillList(reloadIssues, lines);
}

function showSources(sources) {
  const parts = sources.enabled.map((name) => `${name} (enabled)`);
  for (const [name, why] of Object.entries(sources.disabled)) parts.push(`${name} (disabled: ${why})`);
  sourcesText.replaceChildren(parts.length ? parts.join("; ") : "none");
  const current = trySource.value;
  const names = ["logs", ...sources.enabled, ...Object.keys(sources.disabled)];
  trySource.replaceChildren(...names.map((name) => el("option", { value: name }, name)));
  trySource.value = names.includes(current) ? current : "logs";
}

async function refresh() {
  const overview = await api(RULES);
  path.replaceChildren(overview.file);
  loaded.replaceChildren(overview.reload?.last_success_at
    ? timeElement(overview.reload.last_success_at, { relative: false }) : "–");
  counting.replaceChildren(timeElement(overview.counting_since, { relative: false }));
  showReload(overview.reload);
  showSources(overview.sources);
  count.replaceChildren(`(${overview.rules.length})`);
  list.replaceChildren(...overview.rules.map(ruleRow));
  empty.hidden = overview.rules.length > 0;
}

function queueRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh().catch(reportError), REFRESH_DELAY_MS);
}

function reportError(error) {
  reloadResult.replaceChildren(`Could not load the rules: ${error.message}`);
}

async function reload() {
  reloadButton.disabled = true;
  reloadResult.replaceChildren("Reloading…");
  try {
    const { ok, status, data } = await post(RULES + "/reload");
    if (ok) {
      const warnings = data.warnings.length ? `, ${data.warnings.length} warning(s)` : "";
      reloadResult.replaceChildren(`Reloaded: ${data.rules} rules in force${warnings}.`);
    } else {
      reloadResult.replaceChildren("Reload failed: " + problemLines(status, data).join("\n"));
    }
    await refresh();
  } finally {
    reloadButton.disabled = false;
  }
}

// -- try an event

// The textarea holds one JSON value (an object, or an array of objects, possibly spread over
// several lines) or NDJSON: one object per line. Errors name the line they are on.
function parseEvents(text) {
  if (text.trim() === "") return { events: [], errors: ["Paste a JSON object first."] };
  try {
    const whole = JSON.parse(text);
    const values = Array.isArray(whole) ? whole : [whole];
    const events = [];
    const errors = [];
    values.forEach((value, index) => {
      const where = Array.isArray(whole) ? `Item ${index + 1}` : "Line 1";
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        errors.push(`${where}: expected a JSON object`);
      } else {
        events.push({ label: Array.isArray(whole) ? where : "Event", event: value });
      }
    });
    return { events, errors };
  } catch {
    // not one JSON value: read it as NDJSON below
  }
  const events = [];
  const errors = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === "") return;
    const where = `Line ${index + 1}`;
    let value;
    try {
      value = JSON.parse(line);
    } catch (error) {
      errors.push(`${where}: invalid JSON: ${error.message}`);
      return;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      errors.push(`${where}: expected a JSON object`);
    } else {
      events.push({ label: where, event: value });
    }
  });
  return { events, errors };
}

function fact(term, value) {
  const text = value === null || value === undefined || value === "" ? "–" : String(value);
  return [el("dt", {}, term), el("dd", {}, text)];
}

function outcomeItem(outcome) {
  const [[kind, fields]] = Object.entries(outcome);
  if (kind === "notify") {
    return el("li", { className: "outcome" },
      el("div", { className: "row-head" },
        priorityLabel(fields.priority),
        el("span", { className: "kind" }, "notification: " + String(fields.type).replaceAll("_", " ")),
        el("strong", { className: "row-title" }, fields.title)),
      el("p", { className: "row-message" }, fields.message),
      el("dl", { className: "facts" },
        ...fact("Rule", fields.rule),
        ...fact("Action required", fields.action_required ? "yes" : "no"),
        ...fact("Link", fields.action_url),
        ...fact("Dedup key", fields.dedup ? `${fields.dedup.key} (${fields.dedup.window ?? "open"})` : null)));
  }
  if (kind === "alert") {
    return el("li", { className: "outcome" },
      el("div", { className: "row-head" },
        severityLabel(fields.severity),
        el("span", { className: "kind" }, "alert: " + String(fields.type).replaceAll("_", " ")),
        el("strong", { className: "row-title" }, fields.title)),
      el("p", { className: "row-message" }, fields.description),
      el("dl", { className: "facts" },
        ...fact("Rule", fields.rule),
        ...fact("Fingerprint", fields.fingerprint),
        ...fact("Stores", (fields.affected_stores ?? []).join(", ")),
        ...fact("Systems", (fields.affected_systems ?? []).join(", "))));
  }
  return el("li", { className: "outcome" },
    el("div", { className: "row-head" },
      el("span", { className: "kind" }, "resolves the open alert"),
      el("strong", { className: "row-title" }, fields.fingerprint)),
    el("p", { className: "row-message" }, fields.notes),
    el("dl", { className: "facts" }, ...fact("Rule", fields.rule)));
}

function resultItem(label, result) {
  const matched = result.matched_rules.length
    ? `matched ${result.matched_rules.join(", ")}`
    : "no rule matched: nothing would be produced";
  const missing = result.missing_fields
    ? el("p", { className: "notes" },
      `${result.missing_fields} template field(s) were missing from the event and render empty.`)
    : null;
  return el("li", { className: "row try-result" },
    el("p", { className: "try-summary" }, `${label}: ${matched}`),
    missing,
    el("ul", { className: "rows" }, ...result.outcomes.map(outcomeItem)));
}

async function tryEvents(event) {
  event.preventDefault();
  const { events, errors } = parseEvents(tryInput.value);
  tryResults.replaceChildren();
  if (events.length > MAX_EVENTS) {
    errors.push(`At most ${MAX_EVENTS} events at a time; got ${events.length}.`);
  }
  fillList(tryErrors, errors);
  if (errors.length) return;
  trySubmit.disabled = true;
  try {
    for (const { label, event: body } of events) {
      const { ok, status, data } = await post(RULES + "/test", { event: body, source: trySource.value });
      if (!ok) {
        fillList(tryErrors, problemLines(status, data).map((line) => `${label}: ${line}`));
        return;
      }
      tryResults.append(resultItem(label, data));
    }
  } finally {
    trySubmit.disabled = false;
  }
}

refreshButton.addEventListener("click", () => refresh().catch(reportError));
reloadButton?.addEventListener("click", () => reload().catch(reportError));
tryForm.addEventListener("submit", (event) => {
  tryEvents(event).catch((error) => fillList(tryErrors, [error.message]));
});
// A new notification or alert means some rule matched: show the new counts.
document.addEventListener(CHANGED, queueRefresh);

refresh().catch(reportError);
