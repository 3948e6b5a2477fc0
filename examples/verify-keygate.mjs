// Verifying keygate's identity headers in an origin written in JavaScript (Node.js).
// The same steps work in any language with SHA-256, HMAC-SHA256 and base64url:
//   1. rebuild the canonical string (README, "Identity headers") from the request line, the
//      Content-Type and Content-Length headers and the X-Keygate-* headers,
//   2. HMAC-SHA256 it with the secret shared with keygate (KEYGATE_SIGNING_SECRET),
//   3. compare with X-Keygate-Signature (after "v3=") in constant time,
//   4. refuse timestamps more than a few minutes from now,
//   5. unless X-Keygate-Content-SHA256 is "unsigned-body", check that the body's SHA-256
//      (lowercase hex) is that header's value,
//   6. refuse a request id seen before within the window (ReplayCache below): a signature
//      stays valid for the whole window, so a captured request could be sent again.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export const UNSIGNED_BODY = "unsigned-body";

// Signed in this order, after the method, host, path and query; an absent header is signed
// as "" (the approval id and the approver on a request no human approved, the content type
// and length on a request without them).
const FIELDS = [
  "content-type",
  "content-length",
  "x-keygate-content-sha256",
  "x-keygate-key-id",
  "x-keygate-key-name",
  "x-keygate-workspace",
  "x-keygate-environment",
  "x-keygate-scopes",
  "x-keygate-request-id",
  "x-keygate-approval-id",
  "x-keygate-approved-by",
  "x-keygate-timestamp",
];
const OPTIONAL = new Set(["content-type", "content-length", "x-keygate-approval-id", "x-keygate-approved-by"]);

const fail = (code, error) => ({ ok: false, code, error });

/**
 * @param {object} request  { method, host, pathAndQuery, headers, body } where headers maps
 *                          lower-case names to values (Node's req.headers does) and body is
 *                          the body as received (Buffer, Uint8Array or string; absent = empty).
 * @param {string} secret   the signing secret shared with keygate
 * @returns {{ok: true, identity: object, bodySigned: boolean} | {ok: false, code: string, error: string}}
 *          bodySigned is false for a body over 64 KiB, which keygate streamed unseen: its
 *          bytes are not vouched for (its content type and length still are).
 */
export function verifyKeygateRequest(request, secret, { nowSecs = Date.now() / 1000, toleranceSecs = 300 } = {}) {
  const values = {};
  for (const name of FIELDS) {
    const value = request.headers[name] ?? (OPTIONAL.has(name) ? "" : undefined);
    if (typeof value !== "string") return fail("missing_header", `missing header ${name}`);
    if (/[\r\n]/.test(value)) return fail("malformed_header", `malformed header ${name}`);
    values[name] = value;
  }
  const contentSha256 = values["x-keygate-content-sha256"];
  if (contentSha256 !== UNSIGNED_BODY && !/^[0-9a-f]{64}$/.test(contentSha256)) {
    return fail("malformed_header", "malformed header x-keygate-content-sha256");
  }
  const signature = request.headers["x-keygate-signature"];
  if (typeof signature !== "string") return fail("missing_header", "missing header x-keygate-signature");
  if (!signature.startsWith("v3=")) return fail("malformed_header", "malformed header x-keygate-signature");
  const queryAt = request.pathAndQuery.indexOf("?");
  const path = queryAt === -1 ? request.pathAndQuery : request.pathAndQuery.slice(0, queryAt);
  const query = queryAt === -1 ? "" : request.pathAndQuery.slice(queryAt + 1);
  const canonical = ["KEYGATE-HMAC-SHA256-V3", request.method, request.host, path, query, ...FIELDS.map((n) => values[n])].join("\n");
  const expected = createHmac("sha256", secret).update(canonical).digest();
  const presented = Buffer.from(signature.slice(3), "base64url");
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    return fail("bad_signature", "signature does not match");
  }
  const timestamp = Number(values["x-keygate-timestamp"]);
  if (!/^[0-9]+$/.test(values["x-keygate-timestamp"])) return fail("malformed_header", "malformed header x-keygate-timestamp");
  if (Math.abs(nowSecs - timestamp) > toleranceSecs) return fail("stale_timestamp", "timestamp outside the tolerance");
  const bodySigned = contentSha256 !== UNSIGNED_BODY;
  if (bodySigned && createHash("sha256").update(request.body ?? "").digest("hex") !== contentSha256) {
    return fail("body_mismatch", "body does not match its signed digest");
  }
  const scopes = values["x-keygate-scopes"];
  return {
    ok: true,
    bodySigned,
    identity: {
      keyId: values["x-keygate-key-id"],
      keyName: decodeURIComponent(values["x-keygate-key-name"]),
      workspace: values["x-keygate-workspace"],
      environment: values["x-keygate-environment"],
      scopes: scopes ? scopes.split(" ").filter(Boolean) : [],
      requestId: values["x-keygate-request-id"],
      approvalId: values["x-keygate-approval-id"] || null,
      approvedBy: values["x-keygate-approved-by"] || null,
      timestamp,
    },
  };
}

/**
 * Remembers the request ids of verified requests until their timestamps leave the window,
 * so a request replayed within it is refused. In memory, for one origin process; origins
 * with several processes share the same idea through their database (a unique key on the
 * request id with an expiry). Bounded: when `maxEntries` ids are still inside the window it
 * refuses new ones (fails closed) — size it above your peak requests per second × 2 × the
 * tolerance.
 */
export class ReplayCache {
  constructor({ toleranceSecs = 300, maxEntries = 100_000 } = {}) {
    this.toleranceSecs = toleranceSecs;
    this.maxEntries = maxEntries;
    this.expiries = new Map(); // request id -> the second after which it can no longer verify
  }

  /** True the first time `identity.requestId` is seen within the window; false after. */
  firstSeen(identity, nowSecs = Date.now() / 1000) {
    // Ids arrive roughly in timestamp order, so expired ones sit at the front of the Map.
    for (const [id, expiry] of this.expiries) {
      if (expiry >= nowSecs) break;
      this.expiries.delete(id);
    }
    if (this.expiries.has(identity.requestId) || this.expiries.size >= this.maxEntries) return false;
    this.expiries.set(identity.requestId, identity.timestamp + this.toleranceSecs);
    return true;
  }
}
