// Shared by the dashboard's pages: API calls with the session's CSRF token, and safe DOM
// building. Everything that came from the API is written as text, never parsed as HTML.

export const API = "/api/v1/admin/notifications";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    const next = window.location.pathname + window.location.search;
    window.location.assign("/admin/login?next=" + encodeURIComponent(next));
    throw new Error("signed out");
  }
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
  return response.status === 204 ? null : response.json();
}

// el("li", {className: "x"}, "text", child) — attributes are properties; children are nodes
// or strings (inserted as text nodes).
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("aria-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

const PRIORITY_LABELS = { critical: "Critical", high: "High", normal: "Normal", low: "Low" };
const SEVERITY_LABELS = { critical: "Critical", error: "Error", warning: "Warning", info: "Info" };

export function priorityLabel(priority) {
  const known = Object.hasOwn(PRIORITY_LABELS, priority);
  return el("span", { className: "prio prio-" + (known ? priority : "normal") },
    known ? PRIORITY_LABELS[priority] : String(priority));
}

export function severityLabel(severity) {
  const known = Object.hasOwn(SEVERITY_LABELS, severity);
  return el("span", { className: "sev sev-" + (known ? severity : "info") },
    known ? SEVERITY_LABELS[severity] : String(severity));
}

// The hosts besides this site's own that an action URL may link to (--action-url-hosts),
// read once from the page's meta tag: "name" (its scheme's default port), "name:port",
// "[ipv6]:port" or "*.name" (any subdomain of name), checked and lower-cased by the server.
const ACTION_URL_HOSTS = (document.querySelector('meta[name="action-url-hosts"]')
  ?.getAttribute("content") ?? "")
  .split(",")
  .map((entry) => /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(entry.trim().toLowerCase()))
  .filter((match) => match && match[1] !== "")
  .map((match) => ({ host: match[1], port: match[2] ?? null }));

function allowedHost(parsed) {
  const port = parsed.port || (parsed.protocol === "https:" ? "443" : "80");
  return ACTION_URL_HOSTS.some((entry) => {
    if (entry.port === null ? parsed.port !== "" : entry.port !== port) return false;
    return entry.host.startsWith("*.")
      ? parsed.hostname.endsWith(entry.host.slice(1))
      : parsed.hostname === entry.host;
  });
}

// A link only for a path on this site ("/x": not "//x", no backslash or control character,
// which browsers would turn into "//" or drop), or an http(s) address on this site's origin or
// an allowed host, without user info. Anything else (javascript:, data:, other hosts) is null.
export function safeHref(url) {
  if (typeof url !== "string" || url === "") return null;
  const here = window.location.origin;
  if (url.startsWith("/")) {
    if (url.startsWith("//") || /[\\\u0000-\u001f\u007f]/.test(url)) return null;
    try {
      return new URL(url, here).origin === here ? url : null;
    } catch {
      return null;
    }
  }
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
  if (parsed.username !== "" || parsed.password !== "") return null;
  return parsed.origin === here || allowedHost(parsed) ? parsed.href : null;
}

export function relativeTime(iso, now = Date.now()) {
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  return days === 1 ? "yesterday" : `${days} days ago`;
}

export function timeElement(iso, { relative = true } = {}) {
  const date = new Date(iso);
  const absolute = Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
  return el("time", { dateTime: String(iso), title: absolute },
    relative ? relativeTime(iso) : absolute);
}

// The bell tells the page when notifications or alerts change, so the page can refresh.
export const CHANGED = "gateway:changed";
