// Verifies what keygate sends: the signed identity headers on every request it forwards to
// the origin (scheme KEYGATE-HMAC-SHA256-V3), and the signature on a rejection webhook
// (KEYGATE-WEBHOOK-V1). The rules are in keygate's README, "Integrating your origin"; every
// case of tests/vectors/identity-v3.json and tests/vectors/webhook-v1.json passes here with
// the same verdict and error code as keygate's own Rust verifier.
//
// node:crypto rather than Web Crypto: it is synchronous, so a verdict is a plain value an
// origin can use anywhere (and check its replay cache right after, with no await between),
// and it is there on Node, Bun, Deno and Cloudflare Workers (with the nodejs_compat flag;
// tests/e2e/verify-js.test.mjs runs the vectors on workerd).
import { Buffer } from "node:buffer";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** What `X-Keygate-Content-SHA256` says of a body keygate streamed to the origin unseen. */
export const UNSIGNED_BODY = "unsigned-body";
/** The largest body keygate signs by its digest as it forwards it; a longer one is sent as `unsigned-body`. */
export const SIGNED_BODY_MAX_BYTES = 64 * 1024;
/**
 * The largest body of an approved request, which keygate sends from the stored body and so
 * always signs by its digest: the most `[approvals] max_body_bytes` allows.
 */
export const APPROVED_BODY_MAX_BYTES = 1024 * 1024;
/** How far (seconds, either way) a timestamp may be from the verifier's clock. */
export const DEFAULT_TOLERANCE_SECS = 300;

const IDENTITY_SCHEME = "KEYGATE-HMAC-SHA256-V3";
const IDENTITY_PREFIX = "v3=";
const WEBHOOK_SCHEME = "KEYGATE-WEBHOOK-V1";
const WEBHOOK_PREFIX = "v1=";
/** Webhook signatures looked at, at most: keygate sends two at most (during a rotation). */
const MAX_WEBHOOK_SIGNATURES = 4;
const U64_MAX = 18446744073709551615n;

// Signed in this order, after the scheme, method, host, path and query. `required: false`
// headers are signed as "" when absent: the content type and length of a request without
// them, the approval id and approver of a request nobody approved. The digest comes first
// because keygate's verifier reads it first, and every verifier must report the same error.
const SIGNED_HEADERS = [
  { name: "x-keygate-content-sha256", required: true },
  { name: "content-type", required: false },
  { name: "content-length", required: false },
  { name: "x-keygate-key-id", required: true },
  { name: "x-keygate-key-name", required: true },
  { name: "x-keygate-workspace", required: true },
  { name: "x-keygate-environment", required: true },
  { name: "x-keygate-scopes", required: true },
  { name: "x-keygate-request-id", required: true },
  { name: "x-keygate-approval-id", required: false },
  { name: "x-keygate-approved-by", required: false },
  { name: "x-keygate-timestamp", required: true },
];
const CANONICAL_ORDER = [
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

const MESSAGES = {
  missing_header: (name) => `missing header ${name}`,
  malformed_header: (name) => `malformed header ${name}`,
  malformed_request_line: () => "line break in the request line",
  stale_timestamp: () => "timestamp outside the tolerance (possibly a replay)",
  bad_signature: () => "signature does not match",
  body_mismatch: () => "body does not match its signed digest",
};

/** A refusal: `code` is the same in every keygate verifier (VerifyError::code() in Rust). */
const refuse = (code, header) => ({ ok: false, code, error: MESSAGES[code](header) });

/**
 * Verifies keygate's identity headers on a request the origin received.
 *
 * @param {object} request
 * @param {string} request.method        as received, e.g. "POST"
 * @param {string} request.host          the Host header the origin received (see the README on
 *                                       proxies: this is what keygate sent, KEYGATE_ORIGIN's host)
 * @param {string} request.pathAndQuery  the request target as received, e.g. "/v1/contacts?page=2"
 *                                       (with KEYGATE_ORIGIN's base path, if it has one)
 * @param {object|Headers} request.headers  lower-case names to values (Node's req.headers) or
 *                                       a fetch `Headers`
 * @param {Uint8Array|string} [request.body]  the exact bytes received; absent means none
 * @param {Array<string|Uint8Array>|string|Uint8Array} secrets  KEYGATE_SIGNING_SECRET; during a
 *                                       rotation, every secret still accepted, newest first
 * @param {{nowSecs?: number, toleranceSecs?: number}} [options]
 * @returns {{ok: true, identity: object, bodySigned: boolean, secretIndex: number}
 *          | {ok: false, code: string, error: string}}
 *          `bodySigned` is false for a body over 64 KiB, which keygate streamed unseen: its
 *          bytes are not vouched for (its content type and length still are). `secretIndex`
 *          is the position in `secrets` of the one that signed it.
 */
export function verifyRequest(request, secrets, options = {}) {
  const verdict = verifySignedHeaders(request, secrets, options);
  if (!verdict.ok || !verdict.bodySigned) return verdict;
  return checkBody(verdict, sha256Hex(request.body ?? ""));
}

/**
 * The signature, timestamp and digest format, without the body: for middleware, which reads
 * a body only once the headers it came with are keygate's. Returns what `verifyRequest`
 * returns, and on success also `contentSha256`, the signed digest (or `unsigned-body`).
 */
export function verifySignedHeaders(request, secrets, { nowSecs = Date.now() / 1000, toleranceSecs = DEFAULT_TOLERANCE_SECS } = {}) {
  const keys = secretList(secrets);
  const header = headerReader(request.headers);
  // A line break moved from the request line into a header (or back) would leave the
  // canonical string, and so the signature, unchanged.
  if ([request.method, request.host, request.pathAndQuery].some((field) => typeof field !== "string" || /[\r\n]/.test(field))) {
    return refuse("malformed_request_line");
  }
  const values = {};
  for (const { name, required } of SIGNED_HEADERS) {
    const value = header(name);
    if (value === undefined) {
      if (required) return refuse("missing_header", name);
      values[name] = "";
      continue;
    }
    if (typeof value !== "string" || /[\r\n]/.test(value)) return refuse("malformed_header", name);
    if (name === "x-keygate-content-sha256" && value !== UNSIGNED_BODY && !/^[0-9a-f]{64}$/.test(value)) {
      return refuse("malformed_header", name);
    }
    values[name] = value;
  }
  const signature = header("x-keygate-signature");
  if (signature === undefined) return refuse("missing_header", "x-keygate-signature");
  const presented = typeof signature === "string" ? decodeSignature(signature, IDENTITY_PREFIX) : null;
  if (!presented) return refuse("malformed_header", "x-keygate-signature");

  const queryAt = request.pathAndQuery.indexOf("?");
  const path = queryAt === -1 ? request.pathAndQuery : request.pathAndQuery.slice(0, queryAt);
  const query = queryAt === -1 ? "" : request.pathAndQuery.slice(queryAt + 1);
  const canonical = [IDENTITY_SCHEME, request.method, request.host, path, query, ...CANONICAL_ORDER.map((name) => values[name])].join("\n");
  const secretIndex = matchingSecret(keys, presented, (key) => createHmac("sha256", key).update(canonical, "utf8").digest());
  // The signature before the timestamp, so a forger learns nothing from which check failed.
  if (secretIndex === -1) return refuse("bad_signature");
  const timestamp = checkTimestamp(values["x-keygate-timestamp"], nowSecs, toleranceSecs);
  if (!timestamp.ok) return timestamp;

  const contentSha256 = values["x-keygate-content-sha256"];
  const scopes = values["x-keygate-scopes"];
  return {
    ok: true,
    bodySigned: contentSha256 !== UNSIGNED_BODY,
    secretIndex,
    contentSha256,
    identity: {
      keyId: values["x-keygate-key-id"],
      keyName: percentDecode(values["x-keygate-key-name"]),
      workspace: values["x-keygate-workspace"],
      environment: values["x-keygate-environment"],
      scopes: scopes.split(" ").filter(Boolean),
      requestId: values["x-keygate-request-id"],
      approvalId: values["x-keygate-approval-id"] || null,
      approvedBy: values["x-keygate-approved-by"] || null,
      timestamp: timestamp.value,
    },
  };
}

/**
 * Finishes a `verifySignedHeaders` success with the body's SHA-256 (lowercase hex, as
 * `sha256Hex` gives): the `verifyRequest` result, or `body_mismatch`.
 */
export function checkBody(verdict, bodySha256Hex) {
  const { contentSha256, ...verified } = verdict;
  if (verified.bodySigned && bodySha256Hex !== contentSha256) return refuse("body_mismatch");
  return verified;
}

/** The SHA-256 of `bytes` (a Uint8Array or a string, as UTF-8) in lowercase hex. */
export function sha256Hex(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Verifies a rejection webhook keygate POSTed to a key's `rejection_webhook`.
 *
 * @param {object} delivery
 * @param {object|Headers} delivery.headers  lower-case names to values, or a fetch `Headers`
 * @param {Uint8Array|string} delivery.body  the raw body exactly as received, before any JSON parsing
 * @param {Array<string|Uint8Array>|string|Uint8Array} secrets  this receiver's `whsec_…`
 *        secret; while you switch to a rotated one, both, newest first
 * @param {{nowSecs?: number, toleranceSecs?: number}} [options]
 * @returns {{ok: true, secretIndex: number} | {ok: false, code: string, error: string}}
 *          Parse the body yourself once it verified; remember its `approval_id` to treat a
 *          retried delivery as the same notice.
 */
export function verifyWebhook(delivery, secrets, { nowSecs = Date.now() / 1000, toleranceSecs = DEFAULT_TOLERANCE_SECS } = {}) {
  const keys = secretList(secrets);
  const header = headerReader(delivery.headers);
  const timestamp = header("x-keygate-timestamp");
  if (timestamp === undefined) return refuse("missing_header", "x-keygate-timestamp");
  const signatures = header("x-keygate-signature");
  if (signatures === undefined) return refuse("missing_header", "x-keygate-signature");
  if (typeof timestamp !== "string") return refuse("malformed_header", "x-keygate-timestamp");
  if (typeof signatures !== "string") return refuse("malformed_header", "x-keygate-signature");
  const message = Buffer.concat([Buffer.from(`${WEBHOOK_SCHEME}\n${timestamp}\n`, "utf8"), toBytes(delivery.body ?? "")]);
  const expected = keys.map((key) => createHmac("sha256", key).update(message).digest());
  // One "v1=" signature per secret keygate signs with, comma-separated. Only the first few
  // are looked at; one that is not v1= base64url is skipped, as a future version would be.
  let outcome = refuse("malformed_header", "x-keygate-signature");
  for (const part of signatures.split(",").slice(0, MAX_WEBHOOK_SIGNATURES)) {
    const presented = decodeSignature(part.trim(), WEBHOOK_PREFIX);
    if (!presented) continue;
    const secretIndex = matchingSecret(expected, presented, (mac) => mac);
    if (secretIndex === -1) {
      outcome = refuse("bad_signature");
      continue;
    }
    const checked = checkTimestamp(timestamp, nowSecs, toleranceSecs);
    return checked.ok ? { ok: true, secretIndex } : checked;
  }
  return outcome;
}

/**
 * Remembers the request ids of verified requests until their timestamps leave the window,
 * so a request replayed within it is refused: a signature stays valid for the whole window.
 * In memory, for one origin process; several processes share the same idea through their
 * database (a unique request id with an expiry). Bounded: while `maxEntries` ids are still
 * inside the window it refuses new ones (fails closed) — size it above your peak requests
 * per second × 2 × the tolerance.
 */
export class ReplayCache {
  constructor({ toleranceSecs = DEFAULT_TOLERANCE_SECS, maxEntries = 100_000 } = {}) {
    this.toleranceSecs = toleranceSecs;
    this.maxEntries = maxEntries;
    this.expiries = new Map(); // request id -> the last second at which it could still verify
  }

  /** True the first time `identity.requestId` is seen within the window; false after, or when full. */
  firstSeen(identity, nowSecs = Date.now() / 1000) {
    // Whole seconds, as the timestamp check counts them: at NOW + 300.5 a request signed at
    // NOW still verifies, so it must still be remembered.
    const now = Math.floor(nowSecs);
    // Ids arrive roughly in timestamp order, so expired ones sit at the front of the Map.
    for (const [id, expiry] of this.expiries) {
      if (expiry >= now) break;
      this.expiries.delete(id);
    }
    if (this.expiries.has(identity.requestId) || this.expiries.size >= this.maxEntries) return false;
    this.expiries.set(identity.requestId, identity.timestamp + this.toleranceSecs);
    return true;
  }

  /** Whether `requestId` is remembered: after `firstSeen` said false, tells a replay from a full cache. */
  has(requestId) {
    return this.expiries.has(requestId);
  }
}

/** Reads `name` (lower case) from a plain object of headers or a fetch `Headers`. */
function headerReader(headers) {
  if (headers && typeof headers.get === "function") {
    return (name) => headers.get(name) ?? undefined;
  }
  const byName = new Map();
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) byName.set(name.toLowerCase(), value);
  }
  return (name) => byName.get(name);
}

/** `secrets` as a list, or a TypeError: a verifier without a usable secret is a configuration mistake. */
export function secretList(secrets) {
  const list = Array.isArray(secrets) ? secrets : [secrets];
  if (list.length === 0 || !list.every((s) => (typeof s === "string" && s.length > 0) || (s instanceof Uint8Array && s.length > 0))) {
    throw new TypeError("keygate verify: secrets must be a non-empty secret or a non-empty list of them (strings or bytes)");
  }
  return list;
}

/** The index of the first of `keys` whose MAC equals `presented`, compared in constant time; -1 if none. */
function matchingSecret(keys, presented, macOf) {
  let found = -1;
  // Every secret is tried, so the time taken says nothing about which one matched.
  keys.forEach((key, index) => {
    const expected = macOf(key);
    const equal = presented.length === expected.length && timingSafeEqual(presented, expected);
    if (equal && found === -1) found = index;
  });
  return found;
}

/** `<prefix><base64url without padding>` to bytes, or null: keygate's encoding exactly, as Rust's decoder reads it. */
function decodeSignature(text, prefix) {
  if (!text.startsWith(prefix)) return null;
  return decodeBase64Url(text.slice(prefix.length));
}

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Strict: the URL-safe alphabet, no padding, no stray bits in the last character. */
function decodeBase64Url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let at = 0;
  for (const char of text) {
    acc = (acc << 6) | BASE64URL.indexOf(char);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
    }
  }
  // Leftover bits must be zero, or two texts would decode to the same bytes.
  if ((acc & ((1 << bits) - 1)) !== 0) return null;
  return out;
}

/** Decimal digits only, within u64, and within the tolerance of now (whole seconds). */
function checkTimestamp(text, nowSecs, toleranceSecs) {
  if (!/^[0-9]+$/.test(text) || BigInt(text) > U64_MAX) return refuse("malformed_header", "x-keygate-timestamp");
  const timestamp = BigInt(text);
  const now = BigInt(Math.floor(nowSecs));
  const distance = now > timestamp ? now - timestamp : timestamp - now;
  if (distance > BigInt(toleranceSecs)) return refuse("stale_timestamp");
  return { ok: true, value: Number(timestamp) };
}

/** Reverses keygate's percent-encoding of the key name: `%XX` with two hex digits; other text as is; invalid UTF-8 as U+FFFD. */
function percentDecode(text) {
  if (!text.includes("%")) return text;
  const encoded = Buffer.from(text, "utf8");
  const decoded = [];
  for (let i = 0; i < encoded.length; i++) {
    const hex = encoded.subarray(i + 1, i + 3).toString("latin1");
    if (encoded[i] === 0x25 && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      decoded.push(parseInt(hex, 16));
      i += 2;
    } else {
      decoded.push(encoded[i]);
    }
  }
  return new TextDecoder("utf-8").decode(new Uint8Array(decoded));
}

function toBytes(body) {
  return typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
