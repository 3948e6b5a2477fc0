// Verifying keygate's identity headers in an origin written in JavaScript (Node.js).
// The same steps work in any language with HMAC-SHA256 and base64url:
//   1. rebuild the canonical string from the request line and the X-Keygate-* headers,
//   2. HMAC-SHA256 it with the secret shared with keygate (KEYGATE_SIGNING_SECRET),
//   3. compare with X-Keygate-Signature (after "v2=") in constant time,
//   4. refuse timestamps more than a few minutes from now (replays).
import { createHmac, timingSafeEqual } from "node:crypto";

// Signed in this order, after the method, host and path; on a request no human approved,
// the approval id and the approver are absent and signed as "".
const FIELDS = [
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
const OPTIONAL = new Set(["x-keygate-approval-id", "x-keygate-approved-by"]);

/**
 * @param {object} request  { method, host, pathAndQuery, headers } where headers maps
 *                          lower-case names to values (Node's req.headers does).
 * @param {string} secret   the signing secret shared with keygate
 * @returns {{ok: true, identity: object} | {ok: false, error: string}}
 */
export function verifyKeygateRequest(request, secret, { nowSecs = Date.now() / 1000, toleranceSecs = 300 } = {}) {
  const values = [];
  for (const name of FIELDS) {
    const value = request.headers[name] ?? (OPTIONAL.has(name) ? "" : undefined);
    if (typeof value !== "string") return { ok: false, error: `missing header ${name}` };
    values.push(value);
  }
  const signature = request.headers["x-keygate-signature"];
  if (typeof signature !== "string" || !signature.startsWith("v2=")) {
    return { ok: false, error: "missing or malformed x-keygate-signature" };
  }
  const canonical = ["KEYGATE-HMAC-SHA256-V2", request.method, request.host, request.pathAndQuery, ...values].join("\n");
  const expected = createHmac("sha256", secret).update(canonical).digest();
  const presented = Buffer.from(signature.slice(3), "base64url");
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    return { ok: false, error: "signature does not match" };
  }
  const timestamp = Number(values[8]);
  if (!Number.isInteger(timestamp) || Math.abs(nowSecs - timestamp) > toleranceSecs) {
    return { ok: false, error: "timestamp outside the tolerance" };
  }
  return {
    ok: true,
    identity: {
      keyId: values[0],
      keyName: decodeURIComponent(values[1]),
      workspace: values[2],
      environment: values[3],
      scopes: values[4] ? values[4].split(" ") : [],
      requestId: values[5],
      approvalId: values[6] || null,
      approvedBy: values[7] || null,
      timestamp,
    },
  };
}
