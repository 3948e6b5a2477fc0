// Verifying a keygate rejection webhook in a receiver written in JavaScript (Node.js).
// The same steps work in any language with HMAC-SHA256 and base64url:
//   1. take the raw request body, byte for byte, before any JSON parsing,
//   2. HMAC-SHA256 "KEYGATE-WEBHOOK-V1\n" + X-Keygate-Timestamp + "\n" + body with this
//      webhook's own secret (the `rejection_webhook_secret` keygate showed once, `whsec_…`,
//      the whole text as the HMAC key),
//   3. X-Keygate-Signature holds one "v1=<base64url, no padding>" per secret keygate signs
//      with, comma-separated: two while a rotated-out secret is in its grace period. Accept
//      the notice if any of them equals your MAC (compared in constant time),
//   4. refuse timestamps more than a few minutes from now (replays), and remember the
//      X-Keygate-Approval-Id of notices you handled (a retry sends the same one again).
import { createHmac, timingSafeEqual } from "node:crypto";

/** keygate sends at most two; a longer header is not worth more work. */
const MAX_SIGNATURES = 4;

/**
 * @param {object} delivery  { headers, rawBody } where headers maps lower-case names to
 *                           values (Node's req.headers does) and rawBody is a Buffer.
 * @param {string} secret    this receiver's webhook secret, `whsec_…`
 * @returns {{ok: true, event: object} | {ok: false, error: string}}
 */
export function verifyKeygateWebhook(delivery, secret, { nowSecs = Date.now() / 1000, toleranceSecs = 300 } = {}) {
  const timestamp = delivery.headers["x-keygate-timestamp"];
  const header = delivery.headers["x-keygate-signature"];
  if (typeof timestamp !== "string" || !/^\d{1,20}$/.test(timestamp)) {
    return { ok: false, error: "missing or malformed x-keygate-timestamp" };
  }
  if (typeof header !== "string") return { ok: false, error: "missing x-keygate-signature" };
  const expected = createHmac("sha256", secret)
    .update(Buffer.concat([Buffer.from(`KEYGATE-WEBHOOK-V1\n${timestamp}\n`), delivery.rawBody]))
    .digest();
  const matches = header
    .split(",")
    .slice(0, MAX_SIGNATURES)
    .map((part) => part.trim())
    .filter((part) => part.startsWith("v1="))
    .map((part) => Buffer.from(part.slice(3), "base64url"))
    .some((presented) => presented.length === expected.length && timingSafeEqual(presented, expected));
  // The signature first, so a forger learns nothing from which check failed.
  if (!matches) return { ok: false, error: "no signature matches this receiver's secret" };
  if (Math.abs(nowSecs - Number(timestamp)) > toleranceSecs) {
    return { ok: false, error: "stale timestamp (possibly a replay)" };
  }
  return { ok: true, event: JSON.parse(delivery.rawBody.toString("utf8")) };
}
