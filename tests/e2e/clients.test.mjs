// Clients of the provider's API, end to end on workerd: the optional credential header
// (`[credentials] header`), CORS (`[cors]`), RFC 6750 challenges, a problem `type` under
// the provider's docs (`[problems] type_base`) and a 403 that names the approval level.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { startGateway, policyText } from "./harness.mjs";

const APP = "https://app.example.com";
const DOCS = "https://docs.example.com/errors/";
const POLICY = `${policyText("demo")}

[credentials]
header = "X-API-Key"

[cors]
allowed_origins = ["${APP}", "http://localhost:3000"]
allowed_methods = ["GET", "POST", "DELETE"]
allowed_headers = ["Idempotency-Key"]
exposed_headers = ["ETag"]
max_age_seconds = 900

[problems]
type_base = "${DOCS}"
`;

/**
 * An origin that records what it receives and answers with CORS headers of its own (which
 * keygate, owning CORS, must replace) and a `Vary` it must keep.
 */
async function startCorsOrigin() {
  const received = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received.push({ method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, {
        "content-type": "application/json",
        "access-control-allow-origin": "*",
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "X-Secret",
        vary: "Accept-Encoding",
        etag: '"v1"',
      });
      res.end(JSON.stringify({ headers: req.headers }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    received,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

let origin;
let gw;
before(async () => {
  origin = await startCorsOrigin();
  gw = await startGateway({ origin: origin.url, bindings: { KEYGATE_POLICY: POLICY } });
});
after(async () => {
  await gw?.dispose();
  await origin?.close();
});

const key = async (scopes, limits = { per_minute: 1000, per_day: 100000 }) =>
  (await gw.createKey({ scopes, limits })).key;

/** The problem body of a `rawRequest` answer. */
function problemOf(res) {
  assert.equal(res.headers["content-type"], "application/problem+json");
  return JSON.parse(res.body);
}

/** A mistyped key: the shape stays right, the checksum does not. */
const mistype = (k) => k.slice(0, 12) + (k[12] === "a" ? "b" : "a") + k.slice(13);

describe("the credential header ([credentials] header = \"X-API-Key\")", () => {
  test("a key in X-API-Key is admitted, and neither it nor any spelling of it reaches the origin", async () => {
    const k = await key(["contacts:read"]);
    const before = origin.received.length;
    const res = await gw.rawRequest("/v1/contacts", {
      "X-API-Key": k,
      X_API_Key: "legacy-key-1",
      "X.Api.Key": "legacy-key-2",
      "X-API-Key-Id": "kept",
    });
    assert.equal(res.status, 200, res.body);
    assert.equal(origin.received.length, before + 1);
    const seen = origin.received.at(-1).headers;
    assert.equal(seen["x-keygate-key-id"] !== undefined, true);
    for (const name of Object.keys(seen)) {
      assert.doesNotMatch(name, /^x[-_.]api[-_.]key$/i, `${name} reached the origin`);
      assert.notEqual(name, "authorization");
    }
    assert.equal(seen["x-api-key-id"], "kept");
    assert.ok(!JSON.stringify(seen).includes(k), "the key reached the origin");
  });

  test("the header name is read in any case", async () => {
    const k = await key(["contacts:read"]);
    const res = await gw.rawRequest("/v1/contacts", { "x-api-KEY": k });
    assert.equal(res.status, 200, res.body);
  });

  test("Authorization and X-API-Key together are a 400 credentials_ambiguous, same key or not, origin untouched", async () => {
    const k = await key(["contacts:read"]);
    const other = await key(["contacts:read"]);
    const before = origin.received.length;
    for (const header of [k, other, ""]) {
      const res = await gw.rawRequest("/v1/contacts", { authorization: `Bearer ${k}`, "x-api-key": header });
      assert.equal(res.status, 400, res.body);
      const body = problemOf(res);
      assert.equal(body.code, "credentials_ambiguous");
      assert.match(body.detail, /both `Authorization` and `X-API-Key`/);
      assert.equal(res.headers["www-authenticate"], 'Bearer realm="keygate", error="invalid_request"');
      assert.ok(!res.body.includes(k) && !res.body.includes(other));
    }
    assert.equal(origin.received.length, before);
  });

  test("X-API-Key sent twice is a 400 credentials_ambiguous, not a pick of one", async () => {
    const k = await key(["contacts:read"]);
    const other = await key(["contacts:read"]);
    for (const values of [[k, other], [k, k]]) {
      const res = await gw.rawRequest("/v1/contacts", { "x-api-key": values });
      assert.equal(res.status, 400, res.body);
      assert.equal(problemOf(res).code, "credentials_ambiguous");
    }
    const twice = await gw.rawRequest("/v1/contacts", { authorization: [`Bearer ${k}`, `Bearer ${other}`] });
    assert.equal(twice.status, 400, twice.body);
    assert.equal(problemOf(twice).code, "credentials_ambiguous");
  });

  test("the header is read checksum-first, with the bearer's codes, before any storage", async () => {
    const k = await key(["contacts:read"]);
    // No KV or Durable Objects at all: these refusals cannot have touched storage.
    const bare = await startGateway({ origin: origin.url, withStore: false, bindings: { KEYGATE_POLICY: POLICY } });
    try {
      for (const [value, code] of [
        [mistype(k), "key_checksum_mismatch"],
        ["kg_live_short", "key_malformed"],
        [`Bearer ${k}`, "key_malformed"],
      ]) {
        const res = await bare.rawRequest("/v1/contacts", { "x-api-key": value });
        assert.equal(res.status, 401, `${value}: ${res.body}`);
        assert.equal(problemOf(res).code, code);
        assert.equal(res.headers["www-authenticate"], 'Bearer realm="keygate", error="invalid_token"');
      }
    } finally {
      await bare.dispose();
    }
  });

  test("a revoked key in the header is a 401 key_revoked", async () => {
    const created = await gw.createKey({ scopes: ["contacts:read"] });
    assert.equal((await gw.admin("POST", `/keys/${created.id}/revoke`)).status, 200);
    const res = await gw.rawRequest("/v1/contacts", { "x-api-key": created.key });
    assert.equal(res.status, 401);
    assert.equal(problemOf(res).code, "key_revoked");
  });

  test("another spelling of the header is never read as the credential; a key in it is a 400 key_in_request", async () => {
    const k = await key(["contacts:read"]);
    const other = await key(["contacts:read"]);
    const before = origin.received.length;
    for (const name of ["X_API_Key", "X.API.Key"]) {
      // Alone: no credential at all.
      const alone = await gw.rawRequest("/v1/contacts", { [name]: k });
      assert.equal(alone.status, 401, `${name}: ${alone.body}`);
      assert.equal(problemOf(alone).code, "missing_credentials");
      // Beside a key in Authorization: a key where it would travel on.
      const beside = await gw.rawRequest("/v1/contacts", { authorization: `Bearer ${other}`, [name]: k });
      assert.equal(beside.status, 400, `${name}: ${beside.body}`);
      assert.equal(problemOf(beside).code, "key_in_request");
      assert.ok(!beside.body.includes(k));
    }
    assert.equal(origin.received.length, before);
  });
});

describe("CORS ([cors])", () => {
  const preflight = (headers) => gw.rawRequest("/v1/contacts/7", headers, { method: "OPTIONS" });

  test("an allowed preflight is a 204 with what is allowed, without a key, the origin or a count", async () => {
    const k = await key(["contacts:read"], { per_minute: 50, per_day: 1000 });
    const first = await gw.request("/v1/contacts", { key: k });
    const remaining = Number(first.headers.get("x-ratelimit-remaining"));
    const before = origin.received.length;
    for (let i = 0; i < 3; i++) {
      const res = await preflight({
        origin: APP,
        "access-control-request-method": "DELETE",
        "access-control-request-headers": "authorization,content-type,idempotency-key,x-api-key",
      });
      assert.equal(res.status, 204, res.body);
      assert.equal(res.body, "");
      assert.equal(res.headers["access-control-allow-origin"], APP);
      assert.equal(res.headers["access-control-allow-methods"], "GET, POST, DELETE");
      const allowed = res.headers["access-control-allow-headers"].split(", ");
      for (const name of ["authorization", "content-type", "idempotency-key", "x-api-key"]) {
        assert.ok(allowed.includes(name), `${name} in ${allowed}`);
      }
      assert.equal(res.headers["access-control-max-age"], "900");
      assert.equal(res.headers["access-control-allow-credentials"], undefined);
      assert.match(res.headers.vary, /Origin/);
      assert.match(res.headers["x-keygate-request-id"], /^req_/);
    }
    assert.equal(origin.received.length, before, "a preflight reached the origin");
    const next = await gw.request("/v1/contacts", { key: k });
    assert.equal(Number(next.headers.get("x-ratelimit-remaining")), remaining - 1, "a preflight was counted");
  });

  test("a preflight for another origin, method or header is a 403 without any allow header", async () => {
    const before = origin.received.length;
    for (const [headers, part] of [
      [{ origin: "https://evil.example", "access-control-request-method": "GET" }, /origin/],
      [{ origin: `${APP}/`, "access-control-request-method": "GET" }, /origin/],
      [{ origin: "null", "access-control-request-method": "GET" }, /origin/],
      [{ origin: APP, "access-control-request-method": "PATCH" }, /method/],
      [{ origin: APP, "access-control-request-method": "GET", "access-control-request-headers": "authorization, x-other" }, /header/],
      [{ origin: APP, "access-control-request-method": "GET", "access-control-request-headers": "cookie" }, /header/],
    ]) {
      const res = await preflight(headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
      const body = problemOf(res);
      assert.equal(body.code, "cors_preflight_refused");
      assert.match(body.detail, part);
      assert.equal(body.type, `${DOCS}cors_preflight_refused`);
      for (const name of Object.keys(res.headers)) {
        assert.doesNotMatch(name, /^access-control-/, `${name} on a refused preflight`);
      }
      assert.match(res.headers.vary, /Origin/);
    }
    assert.equal(origin.received.length, before);
  });

  test("an OPTIONS that is not a preflight is an ordinary request that needs a key", async () => {
    const res = await gw.rawRequest("/v1/contacts", { origin: APP }, { method: "OPTIONS" });
    assert.equal(res.status, 401);
    assert.equal(res.headers["access-control-allow-origin"], APP);
  });

  test("an admitted response carries the allowed origin and keygate's exposed headers, in place of the origin's CORS headers", async () => {
    const k = await key(["contacts:read"]);
    const res = await gw.rawRequest("/v1/contacts", { authorization: `Bearer ${k}`, origin: APP });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers["access-control-allow-origin"], APP);
    assert.equal(res.headers["access-control-allow-credentials"], undefined, "the origin's credentials header survived");
    const exposed = res.headers["access-control-expose-headers"].split(", ");
    for (const name of ["RateLimit", "RateLimit-Policy", "Retry-After", "X-Keygate-Request-Id", "WWW-Authenticate", "ETag"]) {
      assert.ok(exposed.includes(name), `${name} in ${exposed}`);
    }
    assert.ok(!exposed.includes("X-Secret"));
    assert.equal(res.headers.vary, "Accept-Encoding, Origin");
    assert.equal(res.headers.etag, '"v1"');
  });

  test("keygate's own refusals carry the CORS headers so a script can read them", async () => {
    const narrow = await key(["contacts:read"], { per_minute: 1, per_day: 1000 });
    const cases = [
      [{}, 401, "missing_credentials"],
      [{ authorization: `Bearer ${mistype(narrow)}` }, 401, "key_checksum_mismatch"],
      [{ authorization: `Bearer ${narrow}` }, 200, null],
      [{ authorization: `Bearer ${narrow}` }, 429, "rate_limited"],
    ];
    for (const [headers, status, code] of cases) {
      const res = await gw.rawRequest("/v1/contacts", { ...headers, origin: APP });
      assert.equal(res.status, status, res.body);
      assert.equal(res.headers["access-control-allow-origin"], APP);
      assert.match(res.headers["access-control-expose-headers"], /Retry-After/);
      if (code) assert.equal(problemOf(res).code, code);
    }
    const forbidden = await gw.rawRequest("/v1/contacts/1", { authorization: `Bearer ${await key(["contacts:read"])}`, origin: APP }, { method: "DELETE" });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.headers["access-control-allow-origin"], APP);
  });

  test("a request from an origin not allowed gets no allow header, and Vary: Origin", async () => {
    const k = await key(["contacts:read"]);
    for (const headers of [{ origin: "https://evil.example" }, {}]) {
      const res = await gw.rawRequest("/v1/contacts", { authorization: `Bearer ${k}`, ...headers });
      assert.equal(res.status, 200);
      for (const name of Object.keys(res.headers)) {
        assert.doesNotMatch(name, /^access-control-/, `${name} for ${JSON.stringify(headers)}`);
      }
      assert.equal(res.headers.vary, "Accept-Encoding, Origin");
    }
  });

  test("the admin API answers no cross-origin calls", async () => {
    const res = await gw.rawRequest("/_keygate/v1/policy", { origin: APP, "access-control-request-method": "GET" }, { method: "OPTIONS" });
    assert.equal(res.headers["access-control-allow-origin"], undefined);
  });

  test("without [cors] nothing changes: a preflight needs a key like any request", async () => {
    const plain = await startGateway({ origin: origin.url });
    try {
      const res = await plain.rawRequest("/v1/contacts", { origin: APP, "access-control-request-method": "GET" }, { method: "OPTIONS" });
      assert.equal(res.status, 401);
      assert.equal(res.headers["access-control-allow-origin"], undefined);
      const body = problemOf(res);
      assert.equal(body.type, "urn:keygate:problem:missing_credentials");
    } finally {
      await plain.dispose();
    }
  });
});

describe("what a refused client is told", () => {
  test("WWW-Authenticate follows RFC 6750: no error without credentials, invalid_token for a bad key, insufficient_scope with the scope", async () => {
    const reader = await key(["contacts:read"]);
    // A key another deployment's storage holds: well formed, checksum right, unknown here.
    const unknown = await startGateway({ origin: origin.url, bindings: { KEYGATE_POLICY: POLICY } });
    let stranger;
    try {
      stranger = (await unknown.createKey({ scopes: ["contacts:read"] })).key;
    } finally {
      await unknown.dispose();
    }
    const cases = [
      [{}, 401, 'Bearer realm="keygate"'],
      [{ authorization: "Basic dXNlcjpwYXNz" }, 401, 'Bearer realm="keygate"'],
      [{ authorization: "Bearer kg_live_short" }, 401, 'Bearer realm="keygate", error="invalid_token"'],
      [{ authorization: `Bearer ${mistype(reader)}` }, 401, 'Bearer realm="keygate", error="invalid_token"'],
      [{ authorization: `Bearer ${stranger}` }, 401, 'Bearer realm="keygate", error="invalid_token"'],
    ];
    for (const [headers, status, challenge] of cases) {
      const res = await gw.rawRequest("/v1/contacts", headers);
      assert.equal(res.status, status, res.body);
      assert.equal(res.headers["www-authenticate"], challenge, JSON.stringify(headers));
    }
    const forbidden = await gw.rawRequest("/v1/contacts/1", { authorization: `Bearer ${reader}` }, { method: "DELETE" });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.headers["www-authenticate"], 'Bearer realm="keygate", error="insufficient_scope", scope="contacts:delete"');
    const noToken = await gw.rawRequest("/_keygate/v1/keys", {});
    assert.equal(noToken.headers["www-authenticate"], 'Bearer realm="keygate-admin"');
    const wrongToken = await gw.rawRequest("/_keygate/v1/keys", { authorization: "Bearer not-the-root-token-at-all-0123456789" });
    assert.equal(wrongToken.headers["www-authenticate"], 'Bearer realm="keygate-admin", error="invalid_token"');
  });

  test("a data-plane problem's type is under the policy's type_base; the admin API keeps keygate's", async () => {
    const res = await gw.rawRequest("/v1/contacts", {});
    assert.equal(problemOf(res).type, `${DOCS}missing_credentials`);
    const unmapped = await gw.rawRequest("/v1/nowhere", { authorization: `Bearer ${await key(["contacts:read"])}` });
    assert.equal(problemOf(unmapped).type, `${DOCS}route_not_mapped`);
    const admin = await gw.rawRequest("/_keygate/v1/keys", {});
    assert.equal(problemOf(admin).type, "urn:keygate:problem:invalid_admin_token");
  });

  test("a 403 names the approval level that would queue the request, where the policy has one", async () => {
    const writer = await key(["contacts:write"]);
    const del = await gw.rawRequest("/v1/contacts/1", { authorization: `Bearer ${writer}` }, { method: "DELETE" });
    assert.equal(del.status, 403);
    const body = problemOf(del);
    assert.equal(body.required_scope, "contacts:delete");
    assert.equal(body.approval_scope, "contacts:delete-approval");
    assert.match(body.detail, /`contacts:delete-approval` it would be queued for a human to approve/);
    const emailer = await key(["email:read"]);
    const send = await gw.rawRequest("/v1/email/send", { authorization: `Bearer ${emailer}`, "content-type": "application/json" }, { method: "POST", body: "{}" });
    assert.equal(problemOf(send).approval_scope, "email:send-approval");
    // A read has no approval level in a ladder: nothing to name.
    const read = await gw.rawRequest("/v1/contacts", { authorization: `Bearer ${emailer}` });
    const readBody = problemOf(read);
    assert.equal(readBody.required_scope, "contacts:read");
    assert.equal("approval_scope" in readBody, false);
    // Key management is never queued, so an admin 403 names no approval level.
    const manager = await key(["api_keys:read"]);
    const create = await gw.admin("POST", "/keys", { name: "x", scopes: ["contacts:read"] }, manager);
    assert.equal(create.status, 403, create.text);
    assert.equal(create.json.required_scope, "api_keys:write");
    assert.equal("approval_scope" in create.json, false);
    assert.equal(create.json.type, "urn:keygate:problem:insufficient_scope");
  });

  test("GET /policy shows the client settings", async () => {
    const { json } = await gw.admin("GET", "/policy");
    assert.deepEqual(json.credentials, { header: "X-API-Key" });
    assert.deepEqual(json.cors.allowed_origins, [APP, "http://localhost:3000"]);
    assert.deepEqual(json.problems, { type_base: DOCS });
  });
});
