// A signer for the tests, written from the README's formula (not from the verifier), so a
// test that passes shows the two agree on the canonical string.
import { createHash, createHmac } from "node:crypto";

export const NOW = 1_900_000_000;

/** The headers keygate would send with `request`, signed with `secret` at `timestamp`. */
/** `unsignedBody`: as keygate signs a body over 64 KiB, which it streams unseen. */
export function signedHeaders(secret, { method, host, pathAndQuery, body = "", contentType, approvalId, approvedBy }, { timestamp = NOW, requestId = "req_test", unsignedBody = false } = {}) {
  const headers = {
    "x-keygate-content-sha256": unsignedBody ? "unsigned-body" : createHash("sha256").update(body).digest("hex"),
    "x-keygate-key-id": "key_test",
    "x-keygate-key-name": "Test %E2%80%94 key",
    "x-keygate-workspace": "acme",
    "x-keygate-environment": "live",
    "x-keygate-scopes": "contacts:read contacts:write",
    "x-keygate-request-id": requestId,
    "x-keygate-timestamp": String(timestamp),
  };
  if (contentType) headers["content-type"] = contentType;
  if (body.length > 0 || !["GET", "HEAD"].includes(method)) headers["content-length"] = String(Buffer.byteLength(body));
  if (approvalId) headers["x-keygate-approval-id"] = approvalId;
  if (approvedBy) headers["x-keygate-approved-by"] = approvedBy;
  const [path, query = ""] = splitOnce(pathAndQuery, "?");
  const canonical = [
    "KEYGATE-HMAC-SHA256-V3", method, host, path, query,
    headers["content-type"] ?? "", headers["content-length"] ?? "", headers["x-keygate-content-sha256"],
    headers["x-keygate-key-id"], headers["x-keygate-key-name"], headers["x-keygate-workspace"],
    headers["x-keygate-environment"], headers["x-keygate-scopes"], headers["x-keygate-request-id"],
    headers["x-keygate-approval-id"] ?? "", headers["x-keygate-approved-by"] ?? "", headers["x-keygate-timestamp"],
  ].join("\n");
  headers["x-keygate-signature"] = "v3=" + createHmac("sha256", secret).update(canonical).digest("base64url");
  return headers;
}

/** One `v1=` webhook signature of `body` at `timestamp`. */
export function webhookSignature(secret, timestamp, body) {
  return "v1=" + createHmac("sha256", secret).update(`KEYGATE-WEBHOOK-V1\n${timestamp}\n${body}`).digest("base64url");
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at === -1 ? [text] : [text.slice(0, at), text.slice(at + 1)];
}
