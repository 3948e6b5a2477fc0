// The data plane, end to end: built wasm on workerd, real KV and Durable Objects, real origin.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { useGateway, startGateway, deadPort, policyText, poll, SIGNING_SECRET } from "./harness.mjs";
import { verifyRequest as verifyKeygateRequest } from "@keygate/verify";

const env = useGateway();

async function problem(res) {
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = await res.json();
  for (const field of ["type", "title", "status", "code", "detail", "request_id"]) {
    assert.ok(field in body, `problem body has ${field}`);
  }
  assert.equal(body.status, res.status);
  return body;
}

function originCalls() {
  return env.origin.received.length;
}

describe("authentication", () => {
  test("no Authorization header is a 401 with WWW-Authenticate, origin untouched", async () => {
    const before = originCalls();
    const res = await env.gw.request("/v1/contacts");
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate"), /^Bearer/);
    assert.equal((await problem(res)).code, "missing_credentials");
    assert.equal(originCalls(), before);
  });

  test("a non-Bearer scheme is a 401", async () => {
    const res = await env.gw.request("/v1/contacts", { headers: { authorization: "Basic dXNlcjpwYXNz" } });
    assert.equal(res.status, 401);
    assert.equal((await problem(res)).code, "invalid_authorization_scheme");
  });

  test("malformed and wrong-checksum keys are 401 with distinct codes", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:read"] });
    const malformed = await env.gw.request("/v1/contacts", { key: "kg_live_short" });
    assert.equal(malformed.status, 401);
    assert.equal((await problem(malformed)).code, "key_malformed");
    // Change one body character: the shape stays right, the checksum does not.
    const i = 12;
    const typo = key.slice(0, i) + (key[i] === "a" ? "b" : "a") + key.slice(i + 1);
    const mistyped = await env.gw.request("/v1/contacts", { key: typo });
    assert.equal(mistyped.status, 401);
    assert.equal((await problem(mistyped)).code, "key_checksum_mismatch");
  });

  test("a key issued before the policy's key_prefix changed is a 401 key_prefix_unknown, not key_malformed", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:read"] });
    const renamed = policyText("demo").replace('key_prefix = "kg"', 'key_prefix = "acme"');
    assert.notEqual(renamed, policyText("demo"));
    const other = await startGateway({ origin: env.origin.url, bindings: { KEYGATE_POLICY: renamed } });
    try {
      const before = originCalls();
      const res = await other.request("/v1/contacts", { key });
      assert.equal(res.status, 401);
      assert.match(res.headers.get("www-authenticate"), /^Bearer/);
      const body = await problem(res);
      assert.equal(body.code, "key_prefix_unknown");
      assert.match(body.detail, /ask for a new one/);
      // Neither the key nor the gateway's own prefix is repeated.
      assert.ok(!body.detail.includes(key) && !body.detail.includes("acme"));
      assert.equal(originCalls(), before);
      // A key of the old prefix with a typo is just malformed: no claim it ever was a key.
      const typo = key.slice(0, 12) + (key[12] === "a" ? "b" : "a") + key.slice(13);
      assert.equal((await problem(await other.request("/v1/contacts", { key: typo }))).code, "key_malformed");
    } finally {
      await other.dispose();
    }
  });

  test("an unknown well-formed key is a 401 key_unknown that leaks nothing", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:read"] });
    // A fresh gateway with empty storage has never seen this well-formed key.
    const other = await startGateway({ origin: env.origin.url });
    try {
      const res = await other.request("/v1/contacts", { key });
      assert.equal(res.status, 401);
      const text = await res.text();
      assert.equal(JSON.parse(text).code, "key_unknown");
      assert.ok(!text.includes(key));
    } finally {
      await other.dispose();
    }
  });

  test("revoke takes effect on the very next request, with the same 401 shape", async () => {
    const created = await env.gw.createKey({ scopes: ["contacts:read"] });
    assert.equal((await env.gw.request("/v1/contacts", { key: created.key })).status, 200);
    const revoked = await env.gw.admin("POST", `/keys/${created.id}/revoke`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.json.status, "revoked");
    const before = originCalls();
    const res = await env.gw.request("/v1/contacts", { key: created.key });
    assert.equal(res.status, 401);
    const body = await problem(res);
    assert.equal(body.code, "key_revoked");
    assert.equal(originCalls(), before);
    const unknown = await (await env.gw.request("/v1/contacts", { key: "kg_live_" + "0".repeat(39) })).json();
    assert.deepEqual(Object.keys(body).sort(), Object.keys(unknown).sort());
  });
});

describe("proxying", () => {
  test("method, path, query and body reach the origin; Authorization does not", async () => {
    const { key, id } = await env.gw.createKey({ scopes: ["contacts:write"], workspace: "acme" });
    const res = await env.gw.request("/v1/contacts?source=e2e&x=%20y", {
      key,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Ada" }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-origin"), "yes");
    const seen = await res.json();
    assert.equal(seen.method, "POST");
    assert.equal(seen.url, "/v1/contacts?source=e2e&x=%20y");
    assert.equal(seen.body, JSON.stringify({ name: "Ada" }));
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers["x-keygate-key-id"], id);
    assert.equal(seen.headers["x-keygate-workspace"], "acme");
    assert.equal(seen.headers["x-keygate-environment"], "live");
    assert.equal(seen.headers["x-keygate-scopes"], "contacts:write");
    assert.equal(seen.headers["x-keygate-approval-id"], undefined);
    assert.match(seen.headers["x-keygate-request-id"], /^req_/);
    assert.equal(res.headers.get("x-keygate-request-id"), seen.headers["x-keygate-request-id"]);
  });

  test("the identity signature verifies at the origin with an independent verifier", async () => {
    const { key, id } = await env.gw.createKey({ scopes: ["contacts:read"], name: "Zapier — prod", environment: "test" });
    const res = await env.gw.request("/v1/contacts/42?page=2", { key });
    const seen = await res.json();
    const request = { method: seen.method, host: env.origin.host, pathAndQuery: seen.url, headers: seen.headers };
    const verified = verifyKeygateRequest(request, SIGNING_SECRET);
    assert.ok(verified.ok, verified.error);
    assert.equal(verified.identity.keyId, id);
    assert.equal(verified.identity.keyName, "Zapier — prod");
    assert.equal(verified.identity.environment, "test");
    assert.equal(verified.identity.approvalId, null);
    // The same headers on another path, or under another secret, do not verify.
    assert.equal(verifyKeygateRequest({ ...request, pathAndQuery: "/v1/contacts/43?page=2" }, SIGNING_SECRET).ok, false);
    assert.equal(verifyKeygateRequest(request, "another-secret").ok, false);
  });

  test("spoofed X-Keygate-* and Connection-listed headers never reach the origin", async () => {
    const { key, id } = await env.gw.createKey({ scopes: ["contacts:read"], workspace: "acme" });
    // A raw request: fetch() would drop the Connection header before it left the client.
    const res = await env.gw.rawRequest("/v1/contacts", {
      authorization: `Bearer ${key}`,
      "x-keygate-key-id": "key_spoofed",
      x_keygate_workspace: "underscored-spoof",
      "x-real-ip": "6.6.6.6",
      "X-Keygate-Workspace": "someone-else",
      "x-keygate-approval-id": "apr_spoofed",
      "x-keygate-signature": "v1=forged",
      "x-forwarded-for": "6.6.6.6",
      forwarded: "for=6.6.6.6",
      connection: "keep-alive, x-hop-secret",
      "x-hop-secret": "should not pass",
      "x-kept": "kept",
    });
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body);
    assert.equal(seen.headers["x-keygate-key-id"], id);
    assert.equal(seen.headers["x-keygate-workspace"], "acme");
    assert.equal(seen.headers["x-keygate-approval-id"], undefined);
    assert.equal(seen.headers["x-hop-secret"], undefined);
    assert.equal(seen.headers.forwarded, undefined);
    assert.equal(seen.headers["x-forwarded-for"], undefined);
    assert.equal(seen.headers["x_keygate_workspace"], undefined);
    assert.equal(seen.headers["x-real-ip"], undefined);
    assert.equal(seen.headers["x-kept"], "kept");
    const verified = verifyKeygateRequest(
      { method: "GET", host: env.origin.host, pathAndQuery: seen.url, headers: seen.headers },
      SIGNING_SECRET,
    );
    assert.ok(verified.ok, verified.error);
  });

  test("redirects from the origin are passed back, never followed", async () => {
    const { key } = await env.gw.createKey({ scopes: ["read:all"] });
    const res = await env.gw.request("/v1/analytics/redirect", { key });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "http://127.0.0.1:9/elsewhere");
  });

  test("the origin request bypasses Cloudflare's cache (its key is the URL, not the caller)", async () => {
    // fetch() with cache "no-store" neither reads nor fills the cache, and, as the Fetch
    // standard says, sends Cache-Control and Pragma no-cache when the client sent neither.
    const { key } = await env.gw.createKey({ scopes: ["contacts:read"] });
    const res = await env.gw.rawRequest("/v1/contacts", { authorization: `Bearer ${key}` });
    assert.equal(res.status, 200);
    const seen = env.origin.received.at(-1).headers;
    assert.equal(seen["cache-control"], "no-cache");
    assert.equal(seen.pragma, "no-cache");
  });

  test("an origin that is down is a 502, one that hangs is a 504", async () => {
    const down = await startGateway({ origin: `http://127.0.0.1:${await deadPort()}` });
    try {
      const { key } = await down.createKey({ scopes: ["contacts:read"] });
      const res = await down.request("/v1/contacts", { key });
      assert.equal(res.status, 502);
      assert.equal((await problem(res)).code, "origin_unreachable");
      // The request was admitted and counted, so its limit state is shown even so.
      assert.match(res.headers.get("ratelimit") ?? "", /"minute";r=119/);
    } finally {
      await down.dispose();
    }
    const { key } = await env.gw.createKey({ scopes: ["read:all"] });
    const started = Date.now();
    const res = await env.gw.request("/v1/analytics/hang", { key });
    assert.equal(res.status, 504);
    assert.equal((await problem(res)).code, "origin_timeout");
    // Bounded by the configured 1.5 s timeout rather than hanging (a generous sanity bound, not a benchmark).
    assert.ok(Date.now() - started < 15_000);
  });
});

describe("requests the origin could read differently are refused", () => {
  test("method and path override headers, in any spelling, and ?_method", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:write"] });
    const before = originCalls();
    for (const header of ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "X-Original-URL", "X-Rewrite-URL"]) {
      const res = await env.gw.request("/v1/contacts", { key, method: "POST", body: "{}", headers: { [header]: "DELETE" } });
      assert.equal(res.status, 400, header);
      const body = await problem(res);
      assert.equal(body.code, "override_not_allowed");
      assert.match(body.detail, new RegExp(header, "i"));
    }
    // CGI-style servers read X_HTTP_Method_Override as the same variable.
    const underscored = await env.gw.rawRequest("/v1/contacts", { authorization: `Bearer ${key}`, x_http_method_override: "DELETE" });
    assert.equal(underscored.status, 400);
    const query = await env.gw.request("/v1/contacts?_method=DELETE", { key, method: "POST", body: "{}" });
    assert.equal(query.status, 400);
    assert.equal((await problem(query)).code, "override_not_allowed");
    assert.equal(originCalls(), before);
  });

  test("path parameters, double encoding and empty segments", async () => {
    const { key } = await env.gw.createKey({ scopes: ["analytics:read"] });
    const before = originCalls();
    for (const path of ["/v1/analytics/..;/settings", "/v1/analytics/..%3B/settings", "/v1/analytics/a%252e%252e/x", "/v1/analytics//x"]) {
      const res = await env.gw.request(path, { key });
      assert.equal(res.status, 400, path);
      assert.equal((await problem(res)).code, "path_ambiguous");
    }
    assert.equal(originCalls(), before);
  });

  test("methods keygate cannot forward faithfully are a 501, bodies on GET a 400", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:read"] });
    const before = originCalls();
    const propfind = await env.gw.rawRequest("/v1/contacts", { authorization: `Bearer ${key}` }, { method: "PROPFIND" });
    assert.equal(propfind.status, 501);
    assert.equal(JSON.parse(propfind.body).code, "method_not_supported");
    // Framed explicitly: Node's client sends a GET body with neither, i.e. no body at all.
    for (const framing of [{ "content-length": "5" }, { "transfer-encoding": "chunked" }]) {
      const getWithBody = await env.gw.rawRequest("/v1/contacts", { authorization: `Bearer ${key}`, ...framing }, { method: "GET", body: "hello" });
      assert.equal(getWithBody.status, 400, JSON.stringify(framing));
      assert.equal(JSON.parse(getWithBody.body).code, "body_not_allowed");
    }
    assert.equal(originCalls(), before);
  });
});

describe("routes and scopes", () => {
  test("unmapped routes are denied and never reach the origin", async () => {
    const { key } = await env.gw.createKey({ scopes: ["admin"] });
    const before = originCalls();
    for (const [method, path] of [
      ["GET", "/v1/unknown"],
      ["PUT", "/v1/contacts/1"],
      ["GET", "/v1/contacts/"],
      ["GET", "/"],
    ]) {
      const res = await env.gw.request(path, { key, method });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal((await problem(res)).code, "route_not_mapped");
    }
    assert.equal(originCalls(), before);
  });

  test("encoded slashes and backslashes are refused before routing", async () => {
    const { key } = await env.gw.createKey({ scopes: ["admin"] });
    for (const path of ["/v1/contacts/a%2Fb", "/v1/contacts/a%5cb"]) {
      const res = await env.gw.request(path, { key });
      assert.equal(res.status, 400, path);
      assert.equal((await problem(res)).code, "path_ambiguous");
    }
  });

  test("a missing grant is a 403 naming the required scope, with limit headers", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:read"] });
    const res = await env.gw.request("/v1/contacts", { key, method: "POST", body: "{}" });
    assert.equal(res.status, 403);
    const body = await problem(res);
    assert.equal(body.code, "insufficient_scope");
    assert.equal(body.required_scope, "contacts:write");
    assert.ok(res.headers.get("ratelimit-policy"));
    assert.ok(res.headers.get("x-ratelimit-limit"));
  });
});

describe("connections", () => {
  test("refusing requests that carry bodies keeps keep-alive connections healthy", async () => {
    // workerd closes a connection whose request body was never read; a pooled client that
    // already reused it then fails with "other side closed". keygate reads small bodies
    // it refuses. Without that, this test saw ~16 socket failures in 480 requests.
    const { key } = await env.gw.createKey({ scopes: ["contacts:read"], limits: { per_minute: 100000, per_day: 1000000 } });
    let failures = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, lane) => {
        for (let i = 0; i < 60; i++) {
          try {
            const res = await env.gw.request(i % 3 ? "/v1/contacts" : "/v1/email/send", {
              key: i % 2 ? key : "kg_live_bad",
              method: "POST",
              body: JSON.stringify({ lane, i, pad: "x".repeat(2000) }),
            });
            await res.arrayBuffer();
          } catch {
            failures++;
          }
        }
      }),
    );
    assert.equal(failures, 0);
  });
});

describe("storage failures fail closed", () => {
  test("without KV or Durable Objects, format errors are still 401 and valid-looking keys are 503", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:read"] });
    const broken = await startGateway({ origin: env.origin.url, withStore: false });
    try {
      // These never touch storage, so the missing store cannot change their answer.
      assert.equal((await broken.request("/v1/contacts")).status, 401);
      assert.equal((await broken.request("/v1/contacts", { key: "kg_live_x" })).status, 401);
      const typo = key.slice(0, -1) + (key.endsWith("a") ? "b" : "a");
      assert.equal((await broken.request("/v1/contacts", { key: typo })).status, 401);
      assert.equal((await broken.request("/v1/unmapped", { key })).status, 404);
      // A well-formed key needs the store: refused, never let through.
      const before = originCalls();
      const res = await broken.request("/v1/contacts", { key });
      assert.equal(res.status, 503);
      assert.equal((await problem(res)).code, "store_unavailable");
      assert.equal(originCalls(), before);
    } finally {
      await broken.dispose();
    }
  });
});

describe("https only", () => {
  test("plain http is refused with 403 when HTTPS-only is on; https passes", async () => {
    const strict = await startGateway({ origin: env.origin.url, bindings: { KEYGATE_HTTPS_ONLY: "true" } });
    try {
      const res = await strict.request("/v1/contacts");
      assert.equal(res.status, 403);
      assert.equal((await problem(res)).code, "https_required");
      // dispatchFetch can present an https:// URL to the Worker, as Cloudflare's edge would.
      const secure = await strict.mf.dispatchFetch("https://gateway.example/v1/contacts");
      assert.equal(secure.status, 401);
    } finally {
      await strict.dispose();
    }
  });
});

describe("misconfiguration", () => {
  test("an invalid policy makes every request a 503, never a pass-through", async () => {
    // Compiled by hand: the CLI would refuse to compile it. The Worker validates what it reads.
    const invalid = JSON.stringify({ keygate_policy: 1, policy: { key_prefix: "K" } });
    const bad = await startGateway({ origin: env.origin.url, bindings: { KEYGATE_POLICY: invalid } });
    try {
      const res = await bad.request("/v1/contacts");
      assert.equal(res.status, 503);
      const body = await problem(res);
      assert.equal(body.code, "gateway_misconfigured");
      assert.ok(!JSON.stringify(body).includes("key_prefix"), "internal detail stays in the log");
    } finally {
      await bad.dispose();
    }
  });

  test("a policy file's TOML given to the Worker is a 503, and the log names `keygate policy compile`", async () => {
    let log = "";
    const collect = (stream) => stream.on("data", (chunk) => (log += chunk));
    const toml = await startGateway({
      origin: env.origin.url,
      compilePolicy: false,
      bindings: { KEYGATE_POLICY: 'key_prefix = "kg"\n' },
      miniflare: { handleRuntimeStdio: (stdout, stderr) => [stdout, stderr].forEach(collect) },
    });
    try {
      const res = await toml.request("/v1/contacts");
      assert.equal(res.status, 503);
      assert.equal((await problem(res)).code, "gateway_misconfigured");
      const logged = await poll(() => log, (text) => text.includes("misconfigured"), { timeoutMs: 5_000, intervalMs: 50 });
      assert.match(logged, /keygate is misconfigured: KEYGATE_POLICY: not a compiled policy: this looks like a policy file \(TOML\)/);
      assert.match(logged, /`keygate policy compile FILE`/);
    } finally {
      await toml.dispose();
    }
  });
});

