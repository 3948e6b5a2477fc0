// The Hono middleware through Hono's own request handling (app.request: a fetch Request in,
// a Response out, as on Workers, Bun or Deno).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { keygate } from "@keygate/verify/hono";
import { ReplayCache } from "@keygate/verify";
import { signedHeaders, NOW } from "./sign.js";

const SECRET = "hono-test-secret";
const HOST = "api.internal:8443";
const clock = { nowSecs: () => NOW + 5 };
let serial = 0;

function appWith(options = {}) {
  const app = new Hono();
  app.use("*", keygate({ secrets: [SECRET], ...clock, ...options }));
  app.post("/v1/contacts", async (c) => c.json({ keygate: c.get("keygate"), body: await c.req.json() }));
  app.all("*", (c) => c.json({ keygate: c.get("keygate") }));
  return app;
}

/** Sends a request signed for `pathAndQuery` on HOST; `sent` replaces the body after signing. */
async function send(app, pathAndQuery, { method = "GET", body, contentType } = {}, { secret = SECRET, tamper = (h) => h, sent = body, signing = {} } = {}) {
  const headers = tamper(signedHeaders(secret, { method, host: HOST, pathAndQuery, body: body ?? "", contentType }, { requestId: `req_h${++serial}`, ...signing }));
  const res = await app.request(`http://${HOST}${pathAndQuery}`, { method, headers, body: sent });
  return { status: res.status, type: res.headers.get("content-type"), json: await res.json() };
}
const json = (body) => ({ method: "POST", body: JSON.stringify(body), contentType: "application/json" });

describe("Hono middleware", () => {
  test("a signed JSON POST verifies, and c.req.json() still reads the body after it", async () => {
    const res = await send(appWith(), "/v1/contacts?notify=1", json({ name: "Ada" }));
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(res.json.body, { name: "Ada" });
    assert.equal(res.json.keygate.identity.workspace, "acme");
    assert.equal(res.json.keygate.bodySigned, true);
  });

  test("another body, a changed header, another secret: 401 problem+json with the verifier's code", async () => {
    const app = appWith();
    const mismatch = await send(app, "/v1/contacts", json({ name: "Ada" }), { sent: JSON.stringify({ name: "Eve" }) });
    assert.deepEqual([mismatch.status, mismatch.type, mismatch.json.code], [401, "application/problem+json", "body_mismatch"]);
    assert.equal((await send(app, "/v1/x", {}, { tamper: (h) => ({ ...h, "x-keygate-environment": "test" }) })).json.code, "bad_signature");
    assert.equal((await send(app, "/v1/x", {}, { secret: "another" })).json.code, "bad_signature");
  });

  test("rotation: [new, old] accepts the old secret's signature and says which matched", async () => {
    const app = appWith({ secrets: ["the-new-secret", SECRET] });
    const res = await send(app, "/v1/x");
    assert.equal(res.status, 200);
    assert.equal(res.json.keygate.secretIndex, 1);
  });

  test("secrets from the request's context, as on Workers: (c) => [c.env.KEYGATE_SIGNING_SECRET]", async () => {
    const app = new Hono();
    app.use("*", keygate({ secrets: (c) => [c.env.KEYGATE_SIGNING_SECRET], ...clock }));
    app.get("*", (c) => c.json(c.get("keygate")));
    const headers = signedHeaders(SECRET, { method: "GET", host: HOST, pathAndQuery: "/v1/x" }, { requestId: "req_env" });
    const res = await app.request(`http://${HOST}/v1/x`, { headers }, { KEYGATE_SIGNING_SECRET: SECRET });
    assert.equal(res.status, 200, await res.clone().text());
    const again = signedHeaders(SECRET, { method: "GET", host: HOST, pathAndQuery: "/v1/x" }, { requestId: "req_env2" });
    const wrong = await app.request(`http://${HOST}/v1/x`, { headers: again }, { KEYGATE_SIGNING_SECRET: "another" });
    assert.equal((await wrong.json()).code, "bad_signature");
  });

  test("a middleware without a secret fails when it is made, not on the first request", () => {
    assert.throws(() => keygate({}), TypeError);
    assert.throws(() => keygate({ secrets: [] }), TypeError);
  });

  test("a replayed request is a 401 replayed", async () => {
    const app = appWith({ replayCache: new ReplayCache() });
    const headers = signedHeaders(SECRET, { method: "GET", host: HOST, pathAndQuery: "/v1/x" }, { requestId: "req_once" });
    assert.equal((await app.request(`http://${HOST}/v1/x`, { headers })).status, 200);
    const again = await app.request(`http://${HOST}/v1/x`, { headers });
    assert.deepEqual([again.status, (await again.json()).code], [401, "replayed"]);
  });

  test("a body over 64 KiB under a signed digest is refused unread; an unsigned-body one passes unless required", async () => {
    const big = { method: "POST", body: "x".repeat(70_000), contentType: "text/plain" };
    assert.equal((await send(appWith(), "/up", big)).json.code, "body_mismatch");
    const passed = await send(appWith(), "/up", big, { signing: { unsignedBody: true } });
    assert.deepEqual([passed.status, passed.json.keygate.bodySigned], [200, false]);
    const refused = await send(appWith({ requireSignedBody: true }), "/up", big, { signing: { unsignedBody: true } });
    assert.deepEqual([refused.status, refused.json.code], [413, "unsigned_body"]);
  });

  test("an approved request's body is signed by its digest up to 1 MiB (keygate sends it from storage)", async () => {
    const approved = (size) => ({ method: "POST", body: "x".repeat(size), contentType: "application/octet-stream", approvalId: "apr_1", approvedBy: "root" });
    const sendApproved = (size) => {
      const request = approved(size);
      const headers = signedHeaders(SECRET, { ...request, host: HOST, pathAndQuery: "/up" }, { requestId: `req_a${size}` });
      return appWith().request(`http://${HOST}/up`, { method: "POST", headers, body: request.body });
    };
    const res = await sendApproved(200_000);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await res.json()).keygate.identity.approvalId, "apr_1");
    assert.equal((await (await sendApproved(1024 * 1024 + 1)).json()).code, "body_mismatch");
  });

  test("a body already parsed by an earlier middleware is a setup error, not a guess", async () => {
    const app = new Hono();
    app.use("*", async (c, next) => {
      await c.req.json();
      await next();
    });
    app.use("*", keygate({ secrets: SECRET, ...clock }));
    app.post("*", (c) => c.text("reached"));
    app.onError((err, c) => c.json({ error: err.name }, 500));
    const res = await send(app, "/v1/contacts", json({ name: "Ada" }));
    assert.deepEqual([res.status, res.json.error], [500, "RawBodyUnavailable"]);
  });

  test("host and pathPrefix: signed for KEYGATE_ORIGIN=https://api.internal/api, received at /v1/x", async () => {
    const app = appWith({ host: "api.internal", pathPrefix: "/api" });
    const headers = signedHeaders(SECRET, { method: "GET", host: "api.internal", pathAndQuery: "/api/v1/x?a=1" }, { requestId: "req_prefixed" });
    const res = await app.request("http://10.0.0.5:8080/v1/x?a=1", { headers });
    assert.equal(res.status, 200, await res.clone().text());
  });
});
