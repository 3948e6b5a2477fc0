// The Express middleware on a real Express server on 127.0.0.1, with each way of giving it
// the body's exact bytes, and each refusal.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import express from "express";
import { keygate, keepRawBody } from "@keygate/verify/express";
import { ReplayCache, verifyWebhook } from "@keygate/verify";
import { signedHeaders, webhookSignature, NOW } from "./sign.js";

const SECRET = "express-test-secret";
const clock = { nowSecs: () => NOW + 5 };
let serial = 0;

/** Starts `app` on 127.0.0.1; returns { host, send(path, init, signing), close }. */
async function serve(app) {
  const server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const host = `127.0.0.1:${server.address().port}`;
  // `sent`: another body than the one signed; `signing`: options of signedHeaders.
  async function send(pathAndQuery, { method = "GET", body, contentType } = {}, { secret = SECRET, tamper = (h) => h, sent = body, signing = {} } = {}) {
    const headers = tamper(signedHeaders(secret, { method, host, pathAndQuery, body: body ?? "", contentType }, { requestId: `req_${++serial}`, ...signing }));
    const res = await fetch(`http://${host}${pathAndQuery}`, { method, headers, body: sent });
    return { status: res.status, type: res.headers.get("content-type"), json: await res.json() };
  }
  return { host, send, close: () => new Promise((resolve) => server.close(resolve)) };
}

const echo = (req, res) => res.json({ keygate: req.keygate, body: req.body instanceof Buffer ? req.body.toString() : req.body, raw: req.rawBody?.toString() });
const json = (body) => ({ method: "POST", body: JSON.stringify(body), contentType: "application/json" });

describe("express.json with keepRawBody", () => {
  let app;
  before(async () => {
    const a = express();
    a.use(express.json({ verify: keepRawBody }));
    a.use(keygate({ secrets: [SECRET], ...clock }));
    a.all("/{*rest}", echo);
    app = await serve(a);
  });
  after(() => app.close());

  test("a signed JSON POST verifies; the handler gets the identity and the parsed body", async () => {
    const res = await app.send("/v1/contacts?notify=1", json({ name: "Ada" }));
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.keygate.identity.keyId, "key_test");
    assert.equal(res.json.keygate.bodySigned, true);
    assert.deepEqual(res.json.body, { name: "Ada" });
  });

  test("a GET without a body (not read by express.json) is read by the middleware", async () => {
    const res = await app.send("/v1/contacts");
    assert.equal(res.status, 200, JSON.stringify(res.json));
  });

  test("another body of the same length under the signed headers is a 401 body_mismatch, as problem+json", async () => {
    const res = await app.send("/v1/contacts", json({ name: "Ada" }), { sent: JSON.stringify({ name: "Eve" }) });
    assert.equal(res.status, 401);
    assert.equal(res.type, "application/problem+json");
    assert.deepEqual([res.json.code, res.json.status], ["body_mismatch", 401]);
  });

  test("a changed header, another secret, a stale timestamp, no signature: 401 with the verifier's code", async () => {
    assert.equal((await app.send("/v1/contacts", {}, { tamper: (h) => ({ ...h, "x-keygate-scopes": "admin" }) })).json.code, "bad_signature");
    assert.equal((await app.send("/v1/contacts", {}, { secret: "another" })).json.code, "bad_signature");
    assert.equal((await app.send("/v1/contacts", {}, { signing: { timestamp: NOW - 400 } })).json.code, "stale_timestamp");
    const { "x-keygate-signature": _, ...unsigned } = signedHeaders(SECRET, { method: "GET", host: app.host, pathAndQuery: "/v1/contacts" });
    const res = await fetch(`http://${app.host}/v1/contacts`, { headers: unsigned });
    assert.deepEqual([res.status, (await res.json()).code], [401, "missing_header"]);
  });
});

describe("express.raw, and the middleware reading the stream itself", () => {
  test("express.raw leaves a Buffer in req.body: that is hashed", async () => {
    const a = express();
    a.use(express.raw({ type: () => true, limit: "64kb" }));
    a.use(keygate({ secrets: SECRET, ...clock }));
    a.post("/hook", echo);
    const app = await serve(a);
    try {
      const res = await app.send("/hook", { method: "POST", body: "plain bytes", contentType: "text/plain" });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.body, "plain bytes");
    } finally {
      await app.close();
    }
  });

  test("no body parser: the middleware reads the body into req.rawBody", async () => {
    const a = express();
    a.use(keygate({ secrets: SECRET, ...clock }));
    a.post("/upload", echo);
    const app = await serve(a);
    try {
      const res = await app.send("/upload", json({ n: 1 }));
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.raw, '{"n":1}');
      assert.equal((await app.send("/upload", json({ n: 1 }), { sent: '{"n":2}' })).json.code, "body_mismatch");
    } finally {
      await app.close();
    }
  });

  test("a body parsed without its bytes kept is a setup error (500), never a guess", async () => {
    const a = express();
    a.use(express.json());
    a.use(keygate({ secrets: SECRET, ...clock }));
    a.post("/v1/contacts", echo);
    a.use((err, _req, res, _next) => res.status(500).json({ error: err.name }));
    const app = await serve(a);
    try {
      const res = await app.send("/v1/contacts", json({ name: "Ada" }));
      assert.equal(res.status, 500);
      assert.equal(res.json.error, "RawBodyUnavailable");
    } finally {
      await app.close();
    }
  });
});

describe("replays, mounting, hosts and prefixes", () => {
  test("a replay in the window's last second, when the clock has a fraction, is still a 401 replayed", async () => {
    // The timestamp check compares whole seconds, so at NOW + 300.5 a request signed at NOW
    // still verifies: the cache must still remember it then.
    let now = NOW + 5;
    const a = express();
    a.use(keygate({ secrets: SECRET, replayCache: new ReplayCache(), nowSecs: () => now }));
    a.get("/{*rest}", echo);
    const app = await serve(a);
    try {
      const headers = signedHeaders(SECRET, { method: "GET", host: app.host, pathAndQuery: "/v1/x" }, { requestId: "req_edge" });
      const send = () => fetch(`http://${app.host}/v1/x`, { headers }).then(async (r) => ({ status: r.status, json: await r.json() }));
      assert.equal((await send()).status, 200);
      now = NOW + 300.5;
      const again = await send();
      assert.deepEqual([again.status, again.json.code], [401, "replayed"]);
      now = NOW + 301;
      assert.equal((await send()).json.code, "stale_timestamp", "and after the window it is stale, not forgotten into a success");
    } finally {
      await app.close();
    }
  });

  test("the same signed request twice: the second is a 401 replayed; a full cache is a 503", async () => {
    const a = express();
    a.use(keygate({ secrets: SECRET, replayCache: new ReplayCache({ maxEntries: 2 }), ...clock }));
    a.get("/{*rest}", echo);
    const app = await serve(a);
    try {
      const headers = signedHeaders(SECRET, { method: "GET", host: app.host, pathAndQuery: "/v1/x" }, { requestId: "req_once" });
      const send = () => fetch(`http://${app.host}/v1/x`, { headers }).then(async (r) => ({ status: r.status, json: await r.json() }));
      assert.equal((await send()).status, 200);
      const again = await send();
      assert.deepEqual([again.status, again.json.code], [401, "replayed"]);
      assert.equal((await app.send("/v1/y")).status, 200);
      const full = await app.send("/v1/z");
      assert.deepEqual([full.status, full.json.code], [503, "replay_cache_full"]);
    } finally {
      await app.close();
    }
  });

  test("under a router mounted at a path, the whole target is verified", async () => {
    const a = express();
    const router = express.Router();
    router.use(keygate({ secrets: SECRET, ...clock }));
    router.get("/contacts", echo);
    a.use("/v1", router);
    const app = await serve(a);
    try {
      assert.equal((await app.send("/v1/contacts?page=2")).status, 200);
    } finally {
      await app.close();
    }
  });

  test("behind a proxy that rewrites Host and strips a prefix: the host and pathPrefix options", async () => {
    const a = express();
    a.use(keygate({ secrets: SECRET, host: "api.internal", pathPrefix: "/api", ...clock }));
    a.get("/{*rest}", echo);
    const app = await serve(a);
    try {
      // Signed as keygate saw it: KEYGATE_ORIGIN=https://api.internal/api; received at /v1/x on 127.0.0.1.
      const headers = signedHeaders(SECRET, { method: "GET", host: "api.internal", pathAndQuery: "/api/v1/x" }, { requestId: "req_proxied" });
      const res = await fetch(`http://${app.host}/v1/x`, { headers });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal((await app.send("/v1/x")).json.code, "bad_signature", "signed for another host");
    } finally {
      await app.close();
    }
  });

  test("requireSignedBody refuses an unsigned-body request (413); otherwise it passes, marked unsigned", async () => {
    for (const requireSignedBody of [true, false]) {
      const a = express();
      a.use(keygate({ secrets: SECRET, requireSignedBody, ...clock }));
      a.post("/up", (req, res) => {
        req.resume();
        req.on("end", () => echo(req, res));
      });
      const app = await serve(a);
      try {
        const res = await app.send("/up", { method: "POST", body: "x".repeat(70_000), contentType: "application/octet-stream" }, { signing: { unsignedBody: true } });
        assert.equal(res.status, requireSignedBody ? 413 : 200, JSON.stringify(res.json));
        if (!requireSignedBody) assert.equal(res.json.keygate.bodySigned, false);
        else assert.equal(res.json.code, "unsigned_body");
      } finally {
        await app.close();
      }
    }
  });

  test("a signed digest with a body over 64 KiB is refused unread: body_mismatch", async () => {
    const a = express();
    a.use(keygate({ secrets: SECRET, ...clock }));
    a.post("/up", echo);
    const app = await serve(a);
    try {
      const res = await app.send("/up", { method: "POST", body: "x".repeat(70_000), contentType: "text/plain" });
      assert.deepEqual([res.status, res.json.code], [401, "body_mismatch"]);
    } finally {
      await app.close();
    }
  });
});

describe("a webhook receiver on express.raw (the package README's example)", () => {
  test("a delivery verifies under [new, old]; a changed body does not", async () => {
    const a = express();
    a.post("/hooks/keygate", express.raw({ type: "application/json" }), (req, res) => {
      const verdict = verifyWebhook({ headers: req.headers, body: req.body }, ["whsec_new", "whsec_old"], { nowSecs: clock.nowSecs() });
      if (!verdict.ok) return res.status(401).json({ code: verdict.code });
      res.json({ secretIndex: verdict.secretIndex, event: JSON.parse(req.body.toString("utf8")) });
    });
    const app = await serve(a);
    try {
      const body = '{"type":"approval.rejected","approval_id":"apr_1"}';
      const deliver = (sent) =>
        fetch(`http://${app.host}/hooks/keygate`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-keygate-timestamp": String(NOW), "x-keygate-signature": webhookSignature("whsec_old", NOW, body) },
          body: sent,
        }).then(async (r) => ({ status: r.status, json: await r.json() }));
      const ok = await deliver(body);
      assert.deepEqual([ok.status, ok.json.secretIndex, ok.json.event.approval_id], [200, 1, "apr_1"]);
      const changed = await deliver(body.replace("apr_1", "apr_2"));
      assert.deepEqual([changed.status, changed.json.code], [401, "bad_signature"]);
    } finally {
      await app.close();
    }
  });
});
