// What the vectors do not cover: several secrets (rotation), fetch Headers, the two-step
// check middleware uses, the replay cache, and refusing a bad configuration loudly.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { verifyRequest, verifySignedHeaders, checkBody, sha256Hex, verifyWebhook, ReplayCache } from "@keygate/verify";
import { signedHeaders, webhookSignature, NOW } from "./sign.js";

const A = "secret-A-the-one-keygate-signs-with";
const B = "secret-B-the-next-one";
const post = { method: "POST", host: "api.internal:8443", pathAndQuery: "/v1/contacts?notify=1", body: '{"name":"Ada"}', contentType: "application/json" };
const received = (headers, overrides = {}) => ({ ...post, headers, body: new TextEncoder().encode(post.body), ...overrides });
const at = { nowSecs: NOW + 5 };

describe("identity: secrets during a rotation", () => {
  test("a list, newest first: a signature by any verifies, and secretIndex says which", () => {
    const byA = signedHeaders(A, post);
    assert.equal(verifyRequest(received(byA), [B, A], at).secretIndex, 1);
    assert.equal(verifyRequest(received(signedHeaders(B, post)), [B, A], at).secretIndex, 0);
    assert.equal(verifyRequest(received(byA), A, at).secretIndex, 0, "one secret alone works too");
  });

  test("a secret no longer listed signs nothing", () => {
    const outcome = verifyRequest(received(signedHeaders(A, post)), [B], at);
    assert.deepEqual([outcome.ok, outcome.code], [false, "bad_signature"]);
  });

  test("bytes work as secrets, the same as their text", () => {
    assert.ok(verifyRequest(received(signedHeaders(A, post)), [new TextEncoder().encode(A)], at).ok);
  });

  test("no secret, an empty one or a non-secret is a configuration error, thrown", () => {
    for (const bad of [[], "", [""], undefined, [42]]) {
      assert.throws(() => verifyRequest(received(signedHeaders(A, post)), bad, at), TypeError);
    }
  });
});

describe("identity: what a request carries", () => {
  test("fetch Headers and mixed-case plain objects are read like Node's req.headers", () => {
    const headers = signedHeaders(A, post);
    assert.ok(verifyRequest(received(new Headers(headers)), A, at).ok);
    const upper = Object.fromEntries(Object.entries(headers).map(([n, v]) => [n.toUpperCase(), v]));
    assert.ok(verifyRequest(received(upper), A, at).ok);
  });

  test("the key name is percent-decoded; a request nobody approved has null approval fields", () => {
    const { identity } = verifyRequest(received(signedHeaders(A, post)), A, at);
    assert.equal(identity.keyName, "Test — key");
    assert.equal(identity.approvalId, null);
    assert.equal(identity.approvedBy, null);
  });

  test("an approved request names its approval and approver", () => {
    const approved = { ...post, approvalId: "apr_1", approvedBy: "root" };
    const { identity } = verifyRequest(received(signedHeaders(A, approved)), A, at);
    assert.deepEqual([identity.approvalId, identity.approvedBy], ["apr_1", "root"]);
  });

  test("a signature in another encoding than base64url without padding is malformed", () => {
    const headers = signedHeaders(A, post);
    const mac = headers["x-keygate-signature"].slice(3);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // 32 bytes in 43 characters leave 2 bits of the last one unused: they must be zero.
    const strayBits = alphabet[alphabet.indexOf(mac.at(-1)) | 1];
    for (const forged of [`${mac}=`, `+${mac.slice(1)}`, `/${mac.slice(1)}`, `${mac.slice(0, -1)}${strayBits}`, `V3=${mac}`]) {
      const signature = forged.startsWith("V3=") ? forged : `v3=${forged}`;
      const outcome = verifyRequest(received({ ...headers, "x-keygate-signature": signature }), A, at);
      assert.equal(outcome.code, "malformed_header", signature);
    }
  });

  test("a timestamp beyond u64, or with a sign, is malformed, never a number", () => {
    for (const timestamp of ["18446744073709551616", "+1900000000", "1900000000.5", ""]) {
      // Signed with that timestamp, so only the timestamp check can refuse it.
      const resigned = signedHeaders(A, post, { timestamp });
      assert.equal(verifyRequest(received(resigned), A, at).code, "malformed_header", timestamp);
    }
  });

  test("the two-step check: headers first, then the body's digest", () => {
    const headers = signedHeaders(A, post);
    const first = verifySignedHeaders(received(headers, { body: undefined }), A, at);
    assert.ok(first.ok);
    assert.equal(first.contentSha256, sha256Hex(post.body));
    assert.ok(checkBody(first, sha256Hex(post.body)).ok);
    assert.equal("contentSha256" in checkBody(first, sha256Hex(post.body)), false);
    assert.equal(checkBody(first, sha256Hex("{}")).code, "body_mismatch");
  });
});

describe("webhooks: several signatures, several secrets", () => {
  const body = '{"type":"approval.rejected","approval_id":"apr_1"}';
  const delivery = (signature, timestamp = NOW) => ({ headers: { "x-keygate-timestamp": String(timestamp), "x-keygate-signature": signature }, body });

  test("a receiver holding old and new secrets accepts either signature, and says which secret matched", () => {
    const both = `${webhookSignature(B, NOW, body)}, ${webhookSignature(A, NOW, body)}`;
    assert.deepEqual(verifyWebhook(delivery(both), [B, A], at), { ok: true, secretIndex: 0 });
    assert.deepEqual(verifyWebhook(delivery(webhookSignature(A, NOW, body)), [B, A], at), { ok: true, secretIndex: 1 });
    assert.equal(verifyWebhook(delivery(webhookSignature(A, NOW, body)), [B], at).code, "bad_signature");
  });

  test("a fetch Headers and a string body work", () => {
    const headers = new Headers({ "X-Keygate-Timestamp": String(NOW), "X-Keygate-Signature": webhookSignature(A, NOW, body) });
    assert.ok(verifyWebhook({ headers, body }, A, at).ok);
  });
});

describe("ReplayCache", () => {
  test("refuses a request id seen within the window, and forgets it after", () => {
    const cache = new ReplayCache({ toleranceSecs: 300, maxEntries: 2 });
    const identity = (requestId, timestamp) => ({ requestId, timestamp });
    assert.equal(cache.firstSeen(identity("req_a", 1000), 1000), true);
    assert.equal(cache.firstSeen(identity("req_a", 1000), 1200), false, "a replay within the window");
    assert.equal(cache.has("req_a"), true);
    assert.equal(cache.firstSeen(identity("req_b", 1001), 1001), true);
    assert.equal(cache.firstSeen(identity("req_c", 1002), 1002), false, "full of live ids: fails closed");
    assert.equal(cache.has("req_c"), false, "refused for being full, not as a replay");
    // After req_a's timestamp leaves the window it could no longer verify, so it is forgotten.
    assert.equal(cache.firstSeen(identity("req_c", 1301), 1301), true);
    assert.equal(cache.has("req_a"), false);
  });
});
