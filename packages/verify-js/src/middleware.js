// What the Express and Hono middleware share: their options, the order of the checks, and the
// problem+json answer to a refused request. Each adapter only says how its framework gives
// the request line, the headers and the body's bytes.
import { verifySignedHeaders, checkBody, sha256Hex, secretList, ReplayCache, SIGNED_BODY_MAX_BYTES, APPROVED_BODY_MAX_BYTES, DEFAULT_TOLERANCE_SECS } from "./core.js";

/**
 * @typedef {object} KeygateOptions
 * @property {Array<string|Uint8Array>|string|Uint8Array|Function} secrets  KEYGATE_SIGNING_SECRET;
 *           during a rotation every secret still accepted, newest first. Or a function of the
 *           request's context (Express: req; Hono: c) that returns them, for runtimes where
 *           secrets arrive with each request (Workers: `(c) => [c.env.KEYGATE_SIGNING_SECRET]`)
 * @property {number} [toleranceSecs=300]  how far a timestamp may be from now, either way
 * @property {ReplayCache|null} [replayCache]  refuses a request id seen before within the
 *           window; by default one in memory, per middleware; `null` turns it off (only for an
 *           origin whose every action is idempotent, or that de-duplicates request ids itself)
 * @property {string} [host]  the host keygate signed (KEYGATE_ORIGIN's host, lower case, with
 *           its port unless 80/443), when a proxy between keygate and this origin rewrites
 *           the Host header; by default the Host header as received
 * @property {string} [pathPrefix]  what a proxy between keygate and this origin removed from
 *           the front of the path (e.g. "/api"); by default nothing
 * @property {boolean} [requireSignedBody=false]  refuse (413 `unsigned_body`) a body over
 *           64 KiB, which keygate streamed unseen and signed as `unsigned-body`
 * @property {() => number} [nowSecs]  the clock, in Unix seconds (for tests)
 */

/** The options, checked once when the middleware is made, so a missing secret fails at start-up. */
export function settle(options) {
  const { secrets, toleranceSecs = DEFAULT_TOLERANCE_SECS, host, pathPrefix = "", requireSignedBody = false, nowSecs = () => Date.now() / 1000 } = options ?? {};
  // A function's secrets are checked on each request, when it gives them.
  if (typeof secrets !== "function") secretList(secrets);
  const replayCache = options?.replayCache === undefined ? new ReplayCache({ toleranceSecs }) : options.replayCache;
  return { secrets, toleranceSecs, host, pathPrefix, requireSignedBody, nowSecs, replayCache };
}

/**
 * Runs every check on one request. `request` is { method, host, pathAndQuery, headers } as
 * the framework received it; `readBody(limit)` gives the body's exact bytes, or null when it
 * is longer than `limit` (it is called only for a body keygate signed by its digest);
 * `context` is what a `secrets` function is given. Resolves to { ok: true, keygate } or
 * { ok: false, status, problem }.
 */
export async function check(settings, request, readBody, context) {
  const now = settings.nowSecs();
  const secrets = typeof settings.secrets === "function" ? settings.secrets(context) : settings.secrets;
  const signed = verifySignedHeaders(
    { ...request, host: settings.host ?? request.host, pathAndQuery: settings.pathPrefix + request.pathAndQuery },
    secrets,
    { nowSecs: now, toleranceSecs: settings.toleranceSecs },
  );
  if (!signed.ok) return refused(401, signed.code, signed.error);
  let verified;
  if (signed.bodySigned) {
    // keygate signs a forwarded body by its digest only up to 64 KiB, and an approved one
    // (the approval id is signed) up to 1 MiB, so a longer one cannot match: it is refused
    // without being held in memory.
    const limit = signed.identity.approvalId ? APPROVED_BODY_MAX_BYTES : SIGNED_BODY_MAX_BYTES;
    const body = await readBody(limit);
    verified = body === null ? { ok: false, code: "body_mismatch", error: "body longer than any keygate signs" } : checkBody(signed, sha256Hex(body));
    if (!verified.ok) return refused(401, verified.code, verified.error);
  } else {
    if (settings.requireSignedBody) return refused(413, "unsigned_body", "this origin accepts only bodies keygate signed (64 KiB at most)");
    verified = checkBody(signed, null);
  }
  // Only a request that verified whole is remembered: a forged body under replayed headers
  // must not use up the genuine request's id.
  const { replayCache } = settings;
  if (replayCache && !replayCache.firstSeen(verified.identity, now)) {
    return replayCache.has(verified.identity.requestId)
      ? refused(401, "replayed", "request id seen before within the window")
      : refused(503, "replay_cache_full", "too many requests in the window to remember; try again shortly");
  }
  const { identity, bodySigned, secretIndex } = verified;
  return { ok: true, keygate: { identity, bodySigned, secretIndex } };
}

function refused(status, code, detail) {
  return {
    ok: false,
    status,
    problem: { type: "about:blank", title: "request not verified as keygate's", status, code, detail },
  };
}

/** Thrown when the body's exact bytes are gone (parsed by an earlier middleware): a setup mistake. */
export class RawBodyUnavailable extends Error {
  constructor(how) {
    super(`keygate verify: the request body was already read, so its exact bytes cannot be hashed. ${how}`);
    this.name = "RawBodyUnavailable";
  }
}
