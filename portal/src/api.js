// The admin API as the page calls it: the session token from the link's fragment, kept in
// sessionStorage (this tab only, gone when it closes), sent only as `Authorization: Bearer`.

const STORAGE_KEY = "keygate.portal.session";
const API = "/_keygate/v1";

/**
 * The session token: taken from `#session=…` once, else the one this tab keeps. Any session
 * fragment leaves the address bar (so it is not in the history, a bookmark or a screenshot),
 * the ones the page cannot use too: a link a mail client appended `&utm_…` to still works, and
 * a mangled one is not left on show for a person to copy when asking why it "expired".
 */
export function takeSessionToken() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  if (fragment.has("session")) {
    const token = fragment.get("session");
    if (/^kgs_[0-9A-Za-z]+$/.test(token)) sessionStorage.setItem(STORAGE_KEY, token);
    history.replaceState(null, "", window.location.pathname);
  }
  return heldSessionToken();
}

/** The token this tab keeps (null if none). */
export function heldSessionToken() {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function forgetSessionToken() {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** A refusal from the API: its problem's `title` and `detail`, never the raw body. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `The request failed (${status})`);
    this.status = status;
    this.title = problem.title || `Request failed (${status})`;
    this.detail = problem.detail || "";
    this.code = problem.code || "";
    /** Field errors of a 400 `invalid_request`: `[{field, message}]`. */
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

/** Called when the session stops being accepted (expired, revoked): the page says so. */
let onSessionEnded = () => {};
export function whenSessionEnds(handler) {
  onSessionEnded = handler;
}

/** `method path` against the admin API; the JSON answer (null for 204), or an ApiError. */
export async function api(method, path, body) {
  const token = heldSessionToken();
  let res;
  try {
    res = await fetch(`${API}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiError(0, { title: "No connection", detail: "The gateway could not be reached. Check your connection and try again." });
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: described below, never shown raw
  }
  if (res.ok) return json;
  const problem = json && typeof json === "object" ? json : { title: `Request failed (${res.status})` };
  if (res.status === 401) {
    forgetSessionToken();
    onSessionEnded();
  }
  throw new ApiError(res.status, problem);
}

/** The page's branding from the policy's `[portal]` (no session needed). */
export async function loadBranding() {
  try {
    const res = await fetch("/_keygate/portal/config", { cache: "no-store", credentials: "omit" });
    if (res.ok) return await res.json();
  } catch {
    // the defaults below
  }
  return { title: "API keys", accent_color: null, logo_url: null, billing_url: null, docs_url: null };
}
