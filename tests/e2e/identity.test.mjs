// Identity the origin can trust: the V3 signature (body digest, content type and length)
// checked by the shipped JS verifier, first against the test vectors the Rust verifier also
// passes, then against what a real origin receives from keygate on workerd.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { useGateway, startGateway, startOrigin, SIGNING_SECRET, ROOT_TOKEN } from "./harness.mjs";
import { verifyRequest as verifyKeygateRequest, ReplayCache } from "@keygate/verify";

const VECTORS = JSON.parse(readFileSync(new URL("../vectors/identity-v3.json", import.meta.url), "utf8"));

describe("the JS verifier and the shared vectors", () => {
  for (const vector of VECTORS.cases) {
    test(vector.name, () => {
      const r = vector.request;
      const outcome = verifyKeygateRequest(
        { method: r.method, host: r.host, pathAndQuery: r.path_and_query, headers: r.headers, body: Buffer.from(r.body, "utf8") },
        VECTORS.secret,
        { nowSecs: vector.now_secs, toleranceSecs: VECTORS.tolerance_secs },
      );
      if (vector.expect.ok) {
        assert.ok(outcome.ok, outcome.error);
        assert.equal(outcome.bodySigned, vector.expect.body_signed);
        const e = vector.expect.identity;
        assert.deepEqual(outcome.identity, {
          keyId: e.key_id,
          keyName: e.key_name,
          workspace: e.workspace,
          environment: e.environment,
          scopes: e.scopes,
          requestId: e.request_id,
          approvalId: e.approval_id,
          approvedBy: e.approved_by,
          timestamp: e.timestamp,
        });
      } else {
        assert.equal(outcome.ok, false);
        assert.equal(outcome.code, vector.expect.error, outcome.error);
      }
    });
  }

  test("the replay cache refuses a request id seen within the window, and forgets it after", () => {
    const cache = new ReplayCache({ toleranceSecs: 300, maxEntries: 2 });
    const identity = (requestId, timestamp) => ({ requestId, timestamp });
    assert.equal(cache.firstSeen(identity("req_a", 1000), 1000), true);
    assert.equal(cache.firstSeen(identity("req_a", 1000), 1200), false, "a replay within the window");
    assert.equal(cache.firstSeen(identity("req_b", 1001), 1001), true);
    assert.equal(cache.firstSeen(identity("req_c", 1002), 1002), false, "full of live ids: fails closed");
    // After req_a's timestamp leaves the window it could no longer verify, so it is forgotten.
    assert.equal(cache.firstSeen(identity("req_c", 1301), 1301), true);
  });
});

const env = useGateway();

/** What the harness origin recorded, as the JS verifier takes it. */
function received(seen, overrides = {}) {
  return { method: seen.method, host: env.origin.host, pathAndQuery: seen.url, headers: seen.headers, body: Buffer.from(seen.body, "utf8"), ...overrides };
}

describe("what the origin receives verifies with the shipped verifier", () => {
  test("a JSON POST is signed V3 with its digest; another body, type or length fails", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:write"] });
    const body = JSON.stringify({ name: "Ada" });
    const res = await env.gw.request("/v1/contacts?notify=1", { key, method: "POST", headers: { "content-type": "application/json" }, body });
    assert.equal(res.status, 200);
    const seen = await res.json();
    assert.match(seen.headers["x-keygate-signature"], /^v3=/);
    assert.equal(seen.headers["x-keygate-content-sha256"], createHash("sha256").update(body).digest("hex"));
    const verified = verifyKeygateRequest(received(seen), SIGNING_SECRET);
    assert.ok(verified.ok, verified.error);
    assert.equal(verified.bodySigned, true);
    // Tampering between keygate and the origin is caught.
    assert.equal(verifyKeygateRequest(received(seen, { body: Buffer.from('{"name":"Eve"}') }), SIGNING_SECRET).code, "body_mismatch");
    assert.equal(verifyKeygateRequest(received(seen, { headers: { ...seen.headers, "content-type": "text/plain" } }), SIGNING_SECRET).code, "bad_signature");
    assert.equal(verifyKeygateRequest(received(seen, { pathAndQuery: "/v1/contacts?notify=0" }), SIGNING_SECRET).code, "bad_signature");
  });

  test("a body up to 64 KiB is signed by its digest, chunked or not; a longer one is unsigned-body", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:write"] });
    const cases = [
      { label: "64 KiB exactly", body: "x".repeat(65536), signed: true },
      { label: "64 KiB + 1", body: "x".repeat(65537), signed: false },
      { label: "small and chunked", body: "hello", chunked: true, signed: true },
      { label: "large and chunked", body: "y".repeat(200_000), chunked: true, signed: false },
    ];
    for (const { label, body, chunked, signed } of cases) {
      // A type the override scan leaves alone (the demo origin reads body overrides).
      const headers = { authorization: `Bearer ${key}`, "content-type": "application/octet-stream", ...(chunked ? { "transfer-encoding": "chunked" } : { "content-length": String(body.length) }) };
      const res = await env.gw.rawRequest("/v1/contacts", headers, { method: "POST", body });
      assert.equal(res.status, 200, label);
      const seen = JSON.parse(res.body);
      assert.equal(seen.body.length, body.length, `${label}: the whole body arrives`);
      const verified = verifyKeygateRequest(received(seen), SIGNING_SECRET);
      assert.ok(verified.ok, `${label}: ${verified.error}`);
      assert.equal(verified.bodySigned, signed, label);
      assert.equal(seen.headers["x-keygate-content-sha256"] === "unsigned-body", !signed, label);
      if (signed) {
        assert.equal(verifyKeygateRequest(received(seen, { body: Buffer.from(body.slice(1)) }), SIGNING_SECRET).code, "body_mismatch", label);
      }
    }
  });

  test("a GET, and a DELETE without a body, are signed with the digest of no body; adding one fails", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:delete"] });
    for (const method of ["GET", "DELETE"]) {
      const seen = await (await env.gw.request("/v1/contacts/42?page=2", { key, method })).json();
      assert.equal(seen.headers["x-keygate-content-sha256"], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
      // fetch() gives a bodiless DELETE `Content-Length: 0`, and keygate signs what is sent.
      assert.equal(seen.headers["content-length"], method === "GET" ? undefined : "0", method);
      const verified = verifyKeygateRequest(received(seen), SIGNING_SECRET);
      assert.ok(verified.ok, `${method}: ${verified.error}`);
      assert.equal(verifyKeygateRequest(received(seen, { body: Buffer.from("smuggled") }), SIGNING_SECRET).code, "body_mismatch");
    }
  });

  test("an approved request is signed with the digest of its stored body", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:write-approval"] });
    const body = JSON.stringify({ name: "Grace" });
    const queued = await env.gw.request("/v1/contacts", { key, method: "POST", headers: { "content-type": "application/json" }, body });
    assert.equal(queued.status, 202);
    const { approval_id: id } = await queued.json();
    const approved = await env.gw.admin("POST", `/approvals/${id}/approve`);
    assert.equal(approved.status, 200, approved.text);
    const seen = env.origin.received.filter((r) => r.headers["x-keygate-approval-id"] === id);
    assert.equal(seen.length, 1);
    const verified = verifyKeygateRequest(received(seen[0]), SIGNING_SECRET);
    assert.ok(verified.ok, verified.error);
    assert.equal(verified.bodySigned, true);
    assert.equal(verified.identity.approvedBy, "root");
    assert.equal(verifyKeygateRequest(received(seen[0], { body: Buffer.from("{}") }), SIGNING_SECRET).code, "body_mismatch");
  });

  test("the demo origin refuses a replay of a request id it has seen", async () => {
    const { startDemoOrigin } = await import("../../scripts/demo-origin.mjs");
    const demo = await startDemoOrigin({ secret: SIGNING_SECRET });
    const port = demo.address().port;
    const gw = await startGateway({ origin: `http://127.0.0.1:${port}` });
    try {
      const { key } = await gw.createKey({ scopes: ["contacts:write"] });
      const res = await gw.request("/v1/contacts", { key, method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      const first = await res.json();
      assert.equal(first.identity_verified, true, JSON.stringify(first.identity));
      assert.equal(first.body_signed, true);
      // Sent again as captured, straight to the origin: same headers, same body.
      const replay = await fetch(`http://127.0.0.1:${port}${first.path}`, { method: "POST", headers: first.headers, body: first.body });
      assert.equal((await replay.json()).identity_verified, false);
    } finally {
      await gw.dispose();
      await new Promise((resolve) => demo.close(resolve));
    }
  });
});

describe("headers between client, keygate and origin", () => {
  test("Connection cannot strip end-to-end headers; a client's CF-IPCountry and CF-Ray never pass", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:write"] });
    const res = await env.gw.rawRequest(
      "/v1/contacts",
      {
        authorization: `Bearer ${key}`,
        connection: "keep-alive, content-type, content-length, cf-ipcountry, x-hop",
        "content-type": "application/json",
        "content-length": "2",
        "cf-ray": "forged-LHR",
        "cf-ipcountry": "XX",
        "x-client-ip": "6.6.6.6",
        "client-ip": "6.6.6.6",
        "x-cluster-client-ip": "6.6.6.6",
        "fastly-client-ip": "6.6.6.6",
        "true-client-ip": "6.6.6.6",
        "x-hop": "a client hop-by-hop header",
      },
      { method: "POST", body: "{}" },
    );
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body);
    assert.equal(seen.headers["content-type"], "application/json", "a nominated Content-Type is kept");
    assert.equal(seen.headers["content-length"], "2");
    assert.equal(seen.headers["x-hop"], undefined, "a client's own hop-by-hop header still goes");
    assert.equal(seen.headers["cf-ray"], undefined);
    // The platform's country (workerd's placeholder `request.cf` here), never the client's.
    assert.notEqual(seen.headers["cf-ipcountry"], "XX");
    for (const name of ["x-client-ip", "client-ip", "x-cluster-client-ip", "fastly-client-ip", "true-client-ip"]) {
      assert.equal(seen.headers[name], undefined, name);
    }
    assert.ok(verifyKeygateRequest(received(seen), SIGNING_SECRET).ok);
  });

  test("X-Keygate-* headers an origin sets, in any spelling, never reach the client", async () => {
    const origin = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, {
          "content-type": "text/plain",
          "x-keygate-request-id": "req_from_origin",
          "X-Keygate-Key-Id": "key_forged",
          x_keygate_approved_by: "root",
          "x-origin": "yes",
        });
        res.end("ok");
      });
    });
    await new Promise((resolve) => origin.listen(0, "127.0.0.1", resolve));
    const gw = await startGateway({ origin: `http://127.0.0.1:${origin.address().port}` });
    try {
      const { key } = await gw.createKey({ scopes: ["contacts:read"] });
      const res = await gw.request("/v1/contacts", { key });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-origin"), "yes");
      assert.match(res.headers.get("x-keygate-request-id"), /^req_/);
      assert.notEqual(res.headers.get("x-keygate-request-id"), "req_from_origin");
      assert.equal(res.headers.get("x-keygate-key-id"), null);
      assert.equal(res.headers.get("x_keygate_approved_by"), null);
    } finally {
      await gw.dispose();
      await new Promise((resolve) => origin.close(resolve));
    }
  });
});

describe("origin and secrets at start-up", () => {
  async function firstAnswer(bindings, origin = "http://10.255.255.1:9") {
    const gw = await startGateway({ origin, bindings });
    try {
      const res = await gw.request("/v1/contacts");
      return { status: res.status, body: await res.json() };
    } finally {
      await gw.dispose();
    }
  }

  test("a plain-http origin that is not loopback is refused unless allowed", async () => {
    const refused = await firstAnswer({});
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, "gateway_misconfigured");
    const allowed = await firstAnswer({ KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN: "true" });
    assert.equal(allowed.status, 401, "configured: the request is judged on its own");
    assert.equal(allowed.body.code, "missing_credentials");
  });

  test("two equal secrets are refused", async () => {
    const refused = await firstAnswer({ KEYGATE_WEBHOOK_SECRET: ROOT_TOKEN }, env.origin.url);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, "gateway_misconfigured");
    assert.ok(!JSON.stringify(refused.body).includes(ROOT_TOKEN));
  });

  test("an uppercase origin host is signed as the origin sees it", async () => {
    const origin = await startOrigin();
    const gw = await startGateway({ origin: origin.url.replace("127.0.0.1", "LocalHost") });
    try {
      const { key } = await gw.createKey({ scopes: ["contacts:read"] });
      const res = await gw.request("/v1/contacts", { key });
      assert.equal(res.status, 200);
      const seen = await res.json();
      assert.equal(seen.headers.host, origin.host.replace("127.0.0.1", "localhost"));
      const verified = verifyKeygateRequest({ method: seen.method, host: seen.headers.host, pathAndQuery: seen.url, headers: seen.headers, body: Buffer.from(seen.body) }, SIGNING_SECRET);
      assert.ok(verified.ok, verified.error);
    } finally {
      await gw.dispose();
      await origin.close();
    }
  });
});
