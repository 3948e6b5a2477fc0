// @keygate/verify end to end: keygate on workerd in front of a real Express origin and a real
// Hono origin (on Node, through @hono/node-server), each built on the package's middleware.
// They verify a real request keygate signed, and refuse a forged one (a bad signature, a
// changed header, a changed body), a replayed one (the same request sent to the origin again,
// directly), and, across a rotation, a secret they no longer hold: keygate signs with A; an
// origin holding [B, A] accepts, one holding [B] alone refuses. And the package's core runs
// on workerd itself (nodejs_compat), as a Hono app on Cloudflare Workers would use it.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import express from "express";
import { Hono } from "hono";
import { serve } from "@hono/node-server";
import { keygate as keygateExpress, keepRawBody } from "@keygate/verify/express";
import { keygate as keygateHono } from "@keygate/verify/hono";
import { startGateway, SIGNING_SECRET } from "./harness.mjs";

const A = SIGNING_SECRET; // what the Worker signs with
const B = "the-next-signing-secret-0123456789abcdef";

/**
 * An origin whose verifying middleware can be rebuilt with other secrets (as a redeploy of
 * the origin would); it records every request as it arrived, before verification, so a test
 * can send it again.
 */
function origin(name, start) {
  const state = { received: [], verify: null };
  return {
    name,
    state,
    basePath: start.basePath ?? "",
    useSecrets(secrets) {
      state.verify = start.middleware({ secrets });
    },
    start: () => start.listen(state),
  };
}

const expressOrigin = origin("Express", {
  middleware: keygateExpress,
  listen: (state) => {
    const app = express();
    app.use((req, _res, next) => {
      state.received.push({ method: req.method, path: req.originalUrl, headers: { ...req.headers } });
      next();
    });
    app.use(express.json({ limit: "1mb", verify: keepRawBody }));
    app.use((req, res, next) => state.verify(req, res, next));
    app.all("/{*rest}", (req, res) => res.json({ keygate: req.keygate, body: req.body ?? null, bytes: (req.rawBody ?? []).length }));
    return new Promise((resolve) => {
      const server = app.listen(0, "127.0.0.1", () => resolve(server));
    });
  },
});

// Behind a base path: KEYGATE_ORIGIN ends in /svc, so keygate signs /svc/v1/...
const honoOrigin = origin("Hono", {
  middleware: keygateHono,
  basePath: "/svc",
  listen: (state) => {
    const app = new Hono().basePath("/svc");
    app.use("*", async (c, next) => {
      state.received.push({ method: c.req.method, path: new URL(c.req.url).pathname + new URL(c.req.url).search, headers: Object.fromEntries(c.req.raw.headers) });
      await next();
    });
    app.use("*", (c, next) => state.verify(c, next));
    app.all("*", async (c) =>
      c.json({ keygate: c.get("keygate"), body: c.req.header("content-type") === "application/json" ? await c.req.json() : null, bytes: (await c.req.arrayBuffer()).byteLength }),
    );
    return new Promise((resolve) => {
      const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(server));
    });
  },
});

/** Sends `headers` and `body` to the origin directly, bypassing keygate: a replay or a forgery. */
function sendDirect(server, { method, path, headers }, body) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port: server.address().port, method, path, headers, timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString() || "null") }));
    });
    req.on("timeout", () => req.destroy(new Error("direct request timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

for (const framework of [expressOrigin, honoOrigin]) {
  describe(`a ${framework.name} origin on @keygate/verify behind keygate`, () => {
    let server;
    let gw;
    let key;
    let keyId;
    const body = JSON.stringify({ name: "Ada Lovelace" });
    const post = () => gw.request("/v1/contacts?notify=1", { key, method: "POST", headers: { "content-type": "application/json" }, body });

    before(async () => {
      framework.useSecrets([B, A]);
      server = await framework.start();
      gw = await startGateway({ origin: `http://127.0.0.1:${server.address().port}${framework.basePath}` });
      ({ key, id: keyId } = await gw.createKey({ name: "Zapier — prod", scopes: ["contacts:read", "contacts:write"], workspace: "acme" }));
    });
    after(async () => {
      await gw?.dispose();
      await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
    });

    test("a request keygate signed verifies, under the second of [B, A], with the key's identity", async () => {
      const res = await post();
      const seen = await res.json();
      assert.equal(res.status, 200, JSON.stringify(seen));
      assert.deepEqual(seen.body, { name: "Ada Lovelace" }, "the handler still gets the parsed body");
      assert.equal(seen.keygate.secretIndex, 1);
      assert.equal(seen.keygate.bodySigned, true);
      const { identity } = seen.keygate;
      assert.equal(identity.keyId, keyId);
      assert.equal(identity.keyName, "Zapier — prod");
      assert.equal(identity.workspace, "acme");
      assert.deepEqual(identity.scopes, ["contacts:read", "contacts:write"]);
      assert.equal(identity.requestId, res.headers.get("x-keygate-request-id"));
      const get = await gw.request("/v1/contacts?page=2&tag=a%20b", { key });
      assert.equal(get.status, 200, await get.clone().text());
    });

    test("forged: a bad signature, a changed header or a changed body, sent to the origin directly, is refused", async () => {
      assert.equal((await post()).status, 200);
      const genuine = framework.state.received.at(-1);
      const signature = genuine.headers["x-keygate-signature"];
      const flipped = signature.slice(0, -2) + (signature.at(-2) === "A" ? "B" : "A") + signature.at(-1);
      const forgeries = [
        [{ "x-keygate-signature": flipped }, body, "bad_signature"],
        [{ "x-keygate-scopes": "contacts:read contacts:write contacts:delete" }, body, "bad_signature"],
        [{ "x-keygate-workspace": "someone-else" }, body, "bad_signature"],
        [{}, JSON.stringify({ name: "Eve Lovelace" }), "body_mismatch"],
      ];
      for (const [changed, sent, code] of forgeries) {
        const res = await sendDirect(server, { ...genuine, headers: { ...genuine.headers, ...changed } }, sent);
        assert.deepEqual([res.status, res.json.code], [401, code], JSON.stringify(changed));
      }
    });

    test("replayed: the same signed request sent to the origin again is refused by the replay cache", async () => {
      assert.equal((await post()).status, 200);
      const genuine = framework.state.received.at(-1);
      const replay = await sendDirect(server, genuine, body);
      assert.deepEqual([replay.status, replay.json.code], [401, "replayed"]);
    });

    test("an approved write with a body over 64 KiB verifies: keygate signs a stored body by its digest", async () => {
      const { key: agent } = await gw.createKey({ name: "agent", scopes: ["contacts:write-approval"], workspace: "acme" });
      // Not JSON: the demo policy's origin reads method overrides from JSON and form bodies,
      // which keygate scans only up to 64 KiB.
      const large = "n".repeat(100_000);
      const queued = await gw.request("/v1/contacts", { key: agent, method: "POST", headers: { "content-type": "application/octet-stream" }, body: large });
      assert.equal(queued.status, 202, await queued.clone().text());
      const { approval_id: id } = await queued.json();
      const approved = await gw.admin("POST", `/approvals/${id}/approve`);
      assert.equal(approved.status, 200, approved.text);
      const result = approved.json.result;
      assert.equal(result.origin_status, 200, JSON.stringify(result));
      const seen = JSON.parse(result.body);
      assert.equal(seen.keygate.identity.approvalId, id);
      assert.equal(seen.keygate.identity.approvedBy, "root");
      assert.equal(seen.keygate.bodySigned, true);
      assert.equal(seen.bytes, 100_000);
    });

    test("rotation: an origin holding only [B] refuses what keygate signs with A", async () => {
      framework.useSecrets([B]);
      try {
        const res = await post();
        const refused = await res.json();
        assert.deepEqual([res.status, refused.code], [401, "bad_signature"]);
      } finally {
        framework.useSecrets([B, A]);
      }
      assert.equal((await post()).status, 200, "and [B, A] accepts again");
    });
  });
}

describe("the package's core on workerd (nodejs_compat)", () => {
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const vectors = (name) => JSON.parse(readFileSync(`${root}tests/vectors/${name}`, "utf8"));
  let mf;
  before(async () => {
    mf = new Miniflare({
      modules: true,
      modulesRoot: root,
      modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }],
      // A Worker beside the package's sources, importing them as an app would.
      scriptPath: `${root}packages/verify-js/vectors-worker.mjs`,
      script: `import { verifyRequest, verifyWebhook } from "./src/index.js";
        export default {
          async fetch(request) {
            const { kind, input, secret, options } = await request.json();
            const body = new TextEncoder().encode(input.body);
            return Response.json(kind === "identity" ? verifyRequest({ ...input, body }, secret, options) : verifyWebhook({ ...input, body }, secret, options));
          },
        };`,
      compatibilityDate: "2026-04-01",
      compatibilityFlags: ["nodejs_compat"],
    });
    await mf.ready;
  });
  after(() => mf?.dispose());

  const verdictOnWorkerd = async (kind, input, secret, options) => (await mf.dispatchFetch("http://verify/", { method: "POST", body: JSON.stringify({ kind, input, secret, options }) })).json();

  test("every identity and webhook vector gets its verdict there too", async () => {
    const identity = vectors("identity-v3.json");
    for (const vector of identity.cases) {
      const r = vector.request;
      const input = { method: r.method, host: r.host, pathAndQuery: r.path_and_query, headers: r.headers, body: r.body };
      const outcome = await verdictOnWorkerd("identity", input, identity.secret, { nowSecs: vector.now_secs, toleranceSecs: identity.tolerance_secs });
      assert.equal(outcome.ok, vector.expect.ok, `${vector.name}: ${outcome.error}`);
      if (vector.expect.ok) assert.equal(outcome.identity.keyName, vector.expect.identity.key_name, vector.name);
      else assert.equal(outcome.code, vector.expect.error, vector.name);
    }
    const webhook = vectors("webhook-v1.json");
    for (const vector of webhook.cases) {
      const outcome = await verdictOnWorkerd("webhook", vector.delivery, vector.receiver_secret, { nowSecs: vector.now_secs, toleranceSecs: webhook.tolerance_secs });
      assert.equal(outcome.ok, vector.expect.ok, `${vector.name}: ${outcome.error}`);
      if (!vector.expect.ok) assert.equal(outcome.code, vector.expect.error, vector.name);
    }
  });
});
