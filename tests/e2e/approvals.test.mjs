// The approval queue (issue #4) on workerd: requests from keys holding an "-approval" level
// are queued (202) instead of reaching the origin; a reviewer approves (the stored request
// reaches the origin exactly once, signed, with the approver named) or rejects (the key's
// rejection webhook is told, signed with that key's webhook secret). A real origin and a real
// webhook receiver on 127.0.0.1 record what actually arrives.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useGateway, startGateway, startOrigin, deadPort, policyText, poll, sleep, SIGNING_SECRET, WEBHOOK_SECRET } from "./harness.mjs";
import { verifyRequest as verifyKeygateRequest } from "@keygate/verify";

const MAX_BODY = 1024;
const APPROVALS_TABLE = `\n[approvals]\nmax_body_bytes = ${MAX_BODY}\nwebhook_retry_seconds = 3\n`;
const env = useGateway({ bindings: { KEYGATE_POLICY: policyText("demo") + APPROVALS_TABLE } });

const APPROVAL_ID = /^apr_[0-9A-Za-z]{22}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/**
 * A real webhook receiver on 127.0.0.1. `answer` is the status it replies with: a number,
 * or a function of the 1-based attempt number. Records every request with its raw body.
 */
async function startReceiver(answer = 200) {
  const received = [];
  const sockets = new Set();
  const receiver = { received, answer };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      received.push({ method: req.method, url: req.url, headers: req.headers, raw, at: Date.now() });
      const code = typeof receiver.answer === "function" ? receiver.answer(received.length) : receiver.answer;
      res.writeHead(code, { "content-type": "text/plain" });
      res.end(code < 300 ? "thanks" : "receiver failing on purpose");
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  receiver.url = `http://127.0.0.1:${port}/hooks/rejected`;
  receiver.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(resolve);
    });
  return receiver;
}

/**
 * Checks one webhook delivery's signature the way a receiver must, with node:crypto:
 * under the key's own webhook secret (`secret`), and under no other secret keygate holds.
 */
function assertWebhookSigned(delivery, secret) {
  assert.match(secret ?? "", /^whsec_[0-9A-Za-z]{43}$/, "the key's webhook secret");
  const timestamp = delivery.headers["x-keygate-timestamp"];
  const signature = delivery.headers["x-keygate-signature"];
  assert.match(timestamp ?? "", /^\d+$/, "x-keygate-timestamp is unix seconds");
  assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 60, `timestamp ${timestamp} is now`);
  assert.match(signature ?? "", /^v1=[A-Za-z0-9_-]+$/, "v1= base64url without padding");
  const expected = createHmac("sha256", secret)
    .update(Buffer.concat([Buffer.from(`KEYGATE-WEBHOOK-V1\n${timestamp}\n`), delivery.raw]))
    .digest();
  const presented = Buffer.from(signature.slice(3), "base64url");
  assert.equal(presented.length, expected.length, "signature length");
  assert.ok(timingSafeEqual(presented, expected), "webhook signature matches HMAC-SHA256(the key's secret, ...)");
  // And it is signed with neither the origin's secret nor the deployment's webhook secret.
  for (const other of [SIGNING_SECRET, WEBHOOK_SECRET]) {
    const wrong = createHmac("sha256", other)
      .update(Buffer.concat([Buffer.from(`KEYGATE-WEBHOOK-V1\n${timestamp}\n`), delivery.raw]))
      .digest();
    assert.ok(!timingSafeEqual(presented, wrong));
  }
}

/** Verifies an origin-side record with the example verifier; returns the identity. */
function verifiedAtOrigin(origin, record) {
  const result = verifyKeygateRequest(
    { method: record.method, host: origin.host, pathAndQuery: record.url, headers: record.headers, body: record.body },
    SIGNING_SECRET,
  );
  assert.ok(result.ok, `origin signature: ${result.error}`);
  return result.identity;
}

/** Sends a request that should be queued; asserts the 202 and returns { id, res, body }. */
async function queue(gw, key, path, { method = "POST", body, headers = {} } = {}) {
  const res = await gw.request(path, { key, method, body, headers });
  const text = await res.text();
  assert.equal(res.status, 202, `${method} ${path}: ${text}`);
  const json = JSON.parse(text);
  return { id: json.approval_id, res, body: json };
}

const fromOrigin = (origin, pred) => origin.received.filter(pred);
const byApproval = (origin, id) => fromOrigin(origin, (r) => r.headers["x-keygate-approval-id"] === id);
const byKey = (origin, keyId) => fromOrigin(origin, (r) => r.headers["x-keygate-key-id"] === keyId);

// ---------------------------------------------------------------------------------------

describe("queueing", () => {
  test("every approval level of every ladder queues: 202, id, Location, counted, origin untouched", async () => {
    const cases = [
      { scopes: ["contacts:write-approval"], method: "POST", path: "/v1/contacts", body: '{"name":"Ada"}', required: "contacts:write" },
      { scopes: ["contacts:write-approval"], method: "PATCH", path: "/v1/contacts/42", body: '{"name":"Bo"}', required: "contacts:write" },
      { scopes: ["contacts:delete-approval"], method: "DELETE", path: "/v1/contacts/42", required: "contacts:delete" },
      { scopes: ["email:send-approval"], method: "POST", path: "/v1/email/send", body: '{"to":"a@b.c"}', required: "email:send" },
      { scopes: ["ai:use-approval"], method: "POST", path: "/v1/ai/complete", body: '{"prompt":"hi"}', required: "ai:use" },
    ];
    for (const c of cases) {
      const label = `${c.scopes} ${c.method} ${c.path}`;
      const key = await env.gw.createKey({ name: `queue ${c.scopes[0]}`, scopes: c.scopes, workspace: "q-levels", limits: { per_minute: 10, per_day: 100 } });
      let previousRemaining = Infinity;
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const before = Date.now();
        const { id, res, body } = await queue(env.gw, key.key, c.path, {
          method: c.method,
          body: c.body,
          headers: c.body ? { "content-type": "application/json" } : {},
        });
        assert.match(id, APPROVAL_ID, label);
        assert.ok(!ids.includes(id), `${label}: ids are unique`);
        ids.push(id);
        assert.deepEqual(Object.keys(body).sort(), ["approval_id", "expires_at", "status"], label);
        assert.equal(body.status, "pending", label);
        assert.match(body.expires_at, RFC3339, label);
        // The default expiry: 7 days.
        const ttl = Date.parse(body.expires_at) - before;
        assert.ok(ttl > 604_800_000 - 5_000 && ttl <= 604_800_000 + 5_000, `${label}: expires in 7 days, got ${ttl} ms`);
        assert.equal(res.headers.get("location"), `/_keygate/v1/approvals/${id}`, label);
        assert.match(res.headers.get("content-type") ?? "", /^application\/json/, label);
        assert.equal(res.headers.get("cache-control"), "no-store", label);
        assert.match(res.headers.get("x-keygate-request-id") ?? "", /^req_/, label);
        assert.equal(res.headers.get("x-ratelimit-limit"), "10", label);
        assert.ok(res.headers.get("ratelimit"), `${label}: RateLimit header`);
        const remaining = Number(res.headers.get("x-ratelimit-remaining"));
        assert.equal(remaining, 9 - i, `${label}: the queued request was counted`);
        assert.ok(remaining < previousRemaining);
        previousRemaining = remaining;
        // The Location is where it is shown, with this required scope.
        const shown = await env.gw.admin("GET", `/approvals/${id}`);
        assert.equal(shown.status, 200, shown.text);
        assert.equal(shown.json.status, "pending");
        assert.equal(shown.json.method, c.method);
        assert.equal(shown.json.path, c.path);
        assert.equal(shown.json.required_scope, c.required, label);
        assert.equal(shown.json.key_id, key.id);
      }
      // Usage agrees: the queued requests count as used.
      const got = (await env.gw.admin("GET", `/keys/${key.id}`)).json;
      assert.equal(got.usage.last_24h, 3, `${label}: usage`);
      assert.deepEqual(byKey(env.origin, key.id), [], `${label}: the origin received nothing`);
    }
  });

  test("queued requests use up the limit: past it, 429 and nothing is queued", async () => {
    const key = await env.gw.createKey({ name: "tight", scopes: ["contacts:write-approval"], workspace: "q-limit", limits: { per_minute: 2, per_day: 100 } });
    await queue(env.gw, key.key, "/v1/contacts", { body: "{}" });
    const second = await queue(env.gw, key.key, "/v1/contacts", { body: "{}" });
    assert.equal(second.res.headers.get("x-ratelimit-remaining"), "0");
    const third = await env.gw.request("/v1/contacts", { key: key.key, method: "POST", body: "{}" });
    assert.equal(third.status, 429, await third.text());
    const listed = await env.gw.admin("GET", "/approvals?workspace=q-limit");
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.json.approvals.length, 2);
    assert.deepEqual(byKey(env.origin, key.id), []);
  });

  test("the level below is refused, the level above goes straight to the origin", async () => {
    const mk = (scopes) => env.gw.createKey({ name: `levels ${scopes}`, scopes, workspace: "q-around" });
    const cases = [
      // [scopes, method, path, expected status]
      [["contacts:read"], "POST", "/v1/contacts", 403],
      [["contacts:write"], "POST", "/v1/contacts", 200],
      [["contacts:write-approval"], "GET", "/v1/contacts", 200], // includes read
      [["contacts:write"], "DELETE", "/v1/contacts/7", 403],
      [["contacts:delete-approval"], "POST", "/v1/contacts", 200], // includes write
      [["contacts:delete"], "DELETE", "/v1/contacts/7", 200],
      [["email:read"], "POST", "/v1/email/send", 403],
      [["email:send"], "POST", "/v1/email/send", 200],
      [["email:send-approval"], "GET", "/v1/email", 200],
      [["ai:use"], "POST", "/v1/ai/complete", 200],
      [["tags:read"], "POST", "/v1/ai/complete", 403],
    ];
    for (const [scopes, method, path, expected] of cases) {
      const key = await mk(scopes);
      const res = await env.gw.request(path, { key: key.key, method, body: method === "POST" ? "{}" : undefined });
      const text = await res.text();
      assert.equal(res.status, expected, `${scopes} ${method} ${path}: ${text}`);
      const reached = byKey(env.origin, key.id);
      if (expected === 200) {
        assert.equal(reached.length, 1, `${scopes} ${method} ${path} reached the origin once`);
        assert.equal(reached[0].headers["x-keygate-approval-id"], undefined);
        assert.equal(reached[0].headers["x-keygate-approved-by"], undefined);
        verifiedAtOrigin(env.origin, reached[0]);
      } else {
        assert.equal(JSON.parse(text).code, "insufficient_scope");
        assert.equal(reached.length, 0);
      }
    }
    // Nothing of these was queued.
    const listed = await env.gw.admin("GET", "/approvals?workspace=q-around");
    assert.deepEqual(listed.json.approvals, []);
  });

  test("api_keys approval levels are not queued: 403 approval_not_offered", async () => {
    const key = await env.gw.createKey({ name: "wants approval", scopes: ["api_keys:write-approval", "contacts:read"], workspace: "q-apikeys" });
    const res = await env.gw.admin("POST", "/keys", { name: "child", scopes: ["contacts:read"], limits: { per_minute: 5, per_day: 50 } }, key.key);
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "approval_not_offered");
    // Nothing was created, nothing was queued.
    const keys = (await env.gw.admin("GET", "/keys?workspace=q-apikeys")).json.keys;
    assert.deepEqual(keys.map((k) => k.name), ["wants approval"]);
    assert.deepEqual((await env.gw.admin("GET", "/approvals?workspace=q-apikeys")).json.approvals, []);
  });
});

describe("the approval object", () => {
  test("GET shows the stored request: method, path, query, the allow-listed headers, body", async () => {
    const key = await env.gw.createKey({ name: "Claude agent", scopes: ["contacts:write-approval"], workspace: "obj" });
    const body = '{"name":"Ada"}';
    const before = Date.now();
    const { id } = await queue(env.gw, key.key, "/v1/contacts?a=1&b=2", {
      body,
      headers: {
        "content-type": "application/json",
        "x-custom": "hello",
        "x-keygate-key-id": "key_spoofed",
        "x-keygate-approval-id": "apr_spoofedspoofedspoofed1",
      },
    });
    const res = await env.gw.admin("GET", `/approvals/${id}`);
    assert.equal(res.status, 200, res.text);
    const a = res.json;
    assert.equal(a.id, id);
    assert.equal(a.status, "pending");
    assert.equal(a.workspace, "obj");
    assert.equal(a.key_id, key.id);
    assert.equal(a.key_name, "Claude agent");
    assert.equal(a.environment, "live");
    assert.equal(a.required_scope, "contacts:write");
    assert.equal(a.method, "POST");
    assert.equal(a.path, "/v1/contacts");
    assert.equal(a.query, "a=1&b=2");
    assert.equal(a.body, body);
    assert.equal(a.body_encoding, "utf8");
    assert.equal(a.body_bytes, Buffer.byteLength(body));
    assert.equal(a.headers["content-type"], "application/json");
    // Only an allow-list of headers is kept (see approval_queue.test.mjs); x-custom is not on it.
    assert.equal(a.headers["x-custom"], undefined);
    for (const name of Object.keys(a.headers)) {
      assert.equal(name, name.toLowerCase(), "header names are lower-case");
      assert.notEqual(name, "authorization");
      assert.ok(!name.startsWith("x-keygate-"), `stored header ${name}`);
    }
    assert.ok(!res.text.includes(key.key), "the secret is nowhere in the approval");
    assert.match(a.created_at, RFC3339);
    assert.ok(Math.abs(Date.parse(a.created_at) - before) < 5_000);
    assert.match(a.expires_at, RFC3339);
    assert.equal(a.decided_at, null);
    assert.equal(a.decided_by, null);
    assert.equal(a.reason, null);
    assert.equal(a.result, null);
    assert.equal(a.webhook, null);

    // Without a query, query is null.
    const plain = await queue(env.gw, key.key, "/v1/contacts", { body: "{}" });
    assert.equal((await env.gw.admin("GET", `/approvals/${plain.id}`)).json.query, null);
    assert.deepEqual(byKey(env.origin, key.id), []);
  });

  test("a body that is not UTF-8 is shown base64; an empty body is empty", async () => {
    const key = await env.gw.createKey({ name: "binary", scopes: ["contacts:write-approval"], workspace: "obj-bin" });
    // delete-approval includes write (which goes straight through): a separate key for the delete.
    const deleter = await env.gw.createKey({ name: "binary deleter", scopes: ["contacts:delete-approval"], workspace: "obj-bin" });
    const raw = Buffer.from([0xff, 0x00, 0xfe]);
    const { id } = await queue(env.gw, key.key, "/v1/contacts", { body: raw, headers: { "content-type": "application/octet-stream" } });
    const a = (await env.gw.admin("GET", `/approvals/${id}`)).json;
    assert.equal(a.body_encoding, "base64");
    assert.equal(a.body, raw.toString("base64"));
    assert.deepEqual(Buffer.from(a.body, "base64"), raw);
    assert.equal(a.body_bytes, 3);

    const del = await queue(env.gw, deleter.key, "/v1/contacts/9", { method: "DELETE" });
    const d = (await env.gw.admin("GET", `/approvals/${del.id}`)).json;
    assert.equal(d.method, "DELETE");
    assert.equal(d.body_bytes, 0);
    assert.equal(d.body, "");

    // Approved, the origin gets those exact bytes.
    const approved = await env.gw.admin("POST", `/approvals/${id}/approve`);
    assert.equal(approved.status, 200, approved.text);
    const seen = byApproval(env.origin, id);
    assert.equal(seen.length, 1);
    // The harness origin decodes as UTF-8: compare with the same decoding of the raw bytes.
    assert.equal(seen[0].body, raw.toString("utf8"));
    assert.equal(seen[0].headers["content-type"], "application/octet-stream");
  });

  test("a body above max_body_bytes is 413 payload_too_large and nothing is stored", async () => {
    const key = await env.gw.createKey({ name: "big", scopes: ["contacts:write-approval"], workspace: "obj-big" });
    // Exactly the limit is fine.
    const atLimit = await queue(env.gw, key.key, "/v1/contacts", { body: "x".repeat(MAX_BODY) });
    assert.equal((await env.gw.admin("GET", `/approvals/${atLimit.id}`)).json.body_bytes, MAX_BODY);
    for (const size of [MAX_BODY + 1, 64 * 1024]) {
      const res = await env.gw.request("/v1/contacts", { key: key.key, method: "POST", body: "y".repeat(size) });
      const text = await res.text();
      assert.equal(res.status, 413, `${size} bytes: ${text}`);
      const problem = JSON.parse(text);
      assert.equal(problem.code, "payload_too_large");
      assert.equal(problem.max_bytes, MAX_BODY);
      assert.equal(problem.status, 413);
    }
    const listed = await env.gw.admin("GET", "/approvals?workspace=obj-big");
    assert.deepEqual(listed.json.approvals.map((a) => a.id), [atLimit.id]);
    assert.deepEqual(byKey(env.origin, key.id), []);
  });

  test("ids that are not apr_ + 22 base62 are 404 before authentication", async () => {
    for (const path of ["/approvals/apr_short", "/approvals/key_0123456789012345678901", "/approvals/apr_012345678901234567890!", "/approvals/apr_01234567890123456789012"]) {
      const res = await fetch(`${env.gw.url}/_keygate/v1${path}`);
      assert.equal(res.status, 404, path);
      await res.arrayBuffer();
      const approve = await fetch(`${env.gw.url}/_keygate/v1${path}/approve`, { method: "POST" });
      assert.equal(approve.status, 404, `${path}/approve`);
      await approve.arrayBuffer();
    }
    // Well-formed but unknown: 404 for root.
    const res = await env.gw.admin("GET", "/approvals/apr_0123456789012345678901");
    assert.equal(res.status, 404);
    assert.equal(res.json.code, "not_found");
    assert.equal((await env.gw.admin("POST", "/approvals/apr_0123456789012345678901/approve")).status, 404);
    // Well-formed without credentials: 401.
    const anon = await fetch(`${env.gw.url}/_keygate/v1/approvals/apr_0123456789012345678901`);
    assert.equal(anon.status, 401);
    await anon.arrayBuffer();
  });
});

describe("approve", () => {
  test("root approves: the origin gets the stored request once, as the key, signed, approved by root", async () => {
    const key = await env.gw.createKey({ name: "Submitter", scopes: ["contacts:write-approval"], workspace: "appr" });
    const body = '{"name":"Grace","tags":["vip"]}';
    const { id } = await queue(env.gw, key.key, "/v1/contacts?source=agent&x=%20y", {
      body,
      headers: { "content-type": "application/json", "idempotency-key": "kept", "x-custom": "dropped" },
    });
    assert.deepEqual(byKey(env.origin, key.id), []);

    const before = Date.now();
    const res = await env.gw.admin("POST", `/approvals/${id}/approve`);
    assert.equal(res.status, 200, res.text);
    const a = res.json;
    assert.equal(a.id, id);
    assert.equal(a.status, "approved");
    assert.deepEqual(a.decided_by, { type: "root" });
    assert.match(a.decided_at, RFC3339);
    assert.ok(Math.abs(Date.parse(a.decided_at) - before) < 5_000);
    assert.equal(a.reason, null);
    assert.equal(a.result.origin_status, 200);
    assert.equal(a.result.body_truncated, false);
    assert.equal(a.result.body_encoding, "utf8");
    assert.equal(a.webhook, null);

    const seen = byKey(env.origin, key.id);
    assert.equal(seen.length, 1, "exactly one origin call");
    const r = seen[0];
    assert.equal(r.method, "POST");
    assert.equal(r.url, "/v1/contacts?source=agent&x=%20y");
    assert.equal(r.body, body);
    assert.equal(r.headers["content-type"], "application/json");
    assert.equal(r.headers["idempotency-key"], "kept");
    assert.equal(r.headers["x-custom"], undefined, "not on the queue's header allow-list");
    assert.equal(r.headers.authorization, undefined);
    assert.equal(r.headers["x-keygate-key-id"], key.id);
    assert.equal(r.headers["x-keygate-key-name"], "Submitter");
    assert.equal(r.headers["x-keygate-workspace"], "appr");
    assert.equal(r.headers["x-keygate-environment"], "live");
    assert.equal(r.headers["x-keygate-scopes"], "contacts:write-approval");
    assert.equal(r.headers["x-keygate-approval-id"], id);
    assert.equal(r.headers["x-keygate-approved-by"], "root");
    const identity = verifiedAtOrigin(env.origin, r);
    assert.equal(identity.keyId, key.id);
    assert.equal(identity.approvalId, id);
    assert.equal(identity.approvedBy, "root");
    // The result holds the origin's answer (the harness origin echoes the request).
    const echoed = JSON.parse(a.result.body);
    assert.equal(echoed.url, r.url);
    assert.equal(echoed.body, body);

    // GET shows the same decision.
    const shown = (await env.gw.admin("GET", `/approvals/${id}`)).json;
    assert.equal(shown.status, "approved");
    assert.equal(shown.result.origin_status, 200);
    assert.deepEqual(shown.decided_by, { type: "root" });

    // Decided: approve and reject again are 409 approval_decided, and the origin is not called again.
    for (const [action, payload] of [["approve", undefined], ["approve", {}], ["reject", { reason: "too late" }]]) {
      const again = await env.gw.admin("POST", `/approvals/${id}/${action}`, payload);
      assert.equal(again.status, 409, `${action}: ${again.text}`);
      assert.equal(again.json.code, "approval_decided");
      assert.equal(again.json.approval_status, "approved");
      assert.equal(again.json.status, 409);
    }
    assert.equal(byKey(env.origin, key.id).length, 1);
    assert.equal((await env.gw.admin("GET", `/approvals/${id}`)).json.status, "approved");
  });

  test("racing approvals: exactly one 200, the rest 409, one origin call", async () => {
    const key = await env.gw.createKey({ name: "Raced", scopes: ["ai:use-approval"], workspace: "appr-race" });
    const approver = await env.gw.createKey({ name: "Racer", scopes: ["approvals:write"], workspace: "appr-race" });
    for (let round = 0; round < 2; round++) {
      const { id } = await queue(env.gw, key.key, "/v1/ai/complete", { body: `{"round":${round}}` });
      // Root and a key race each other, eight in all.
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => env.gw.admin("POST", `/approvals/${id}/approve`, undefined, i % 2 ? approver.key : undefined)),
      );
      const statuses = answers.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 409, 409, 409, 409, 409, 409, 409], answers.map((r) => r.text).join("\n"));
      for (const r of answers.filter((r) => r.status === 409)) {
        assert.equal(r.json.code, "approval_decided");
        assert.equal(r.json.approval_status, "approved");
      }
      assert.equal(byApproval(env.origin, id).length, 1, `round ${round}: the origin got exactly one request`);
      const winner = answers.find((r) => r.status === 200).json;
      assert.equal(winner.status, "approved");
      assert.equal(byApproval(env.origin, id)[0].headers["x-keygate-approved-by"], winner.decided_by.type === "root" ? "root" : approver.id);
    }
    // Racing approve against reject: one decision, and the origin was called only if approve won.
    const { id } = await queue(env.gw, key.key, "/v1/ai/complete", { body: '{"round":"mixed"}' });
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        i % 2 ? env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "no" }) : env.gw.admin("POST", `/approvals/${id}/approve`),
      ),
    );
    const wins = answers.filter((r) => r.status === 200);
    assert.equal(wins.length, 1, answers.map((r) => `${r.status} ${r.text}`).join("\n"));
    assert.ok(answers.every((r) => r.status === 200 || r.status === 409));
    const final = (await env.gw.admin("GET", `/approvals/${id}`)).json;
    assert.equal(final.status, wins[0].json.status);
    assert.equal(byApproval(env.origin, id).length, final.status === "approved" ? 1 : 0);
    for (const r of answers.filter((r) => r.status === 409)) assert.equal(r.json.approval_status, final.status);
  });

  test("approve takes an empty body or {} and nothing else", async () => {
    const key = await env.gw.createKey({ name: "Body", scopes: ["contacts:write-approval"], workspace: "appr-body" });
    const { id } = await queue(env.gw, key.key, "/v1/contacts", { body: "{}" });
    for (const payload of [{ reason: "x" }, "not json", [1]]) {
      const res = await env.gw.admin("POST", `/approvals/${id}/approve`, payload);
      assert.equal(res.status, 400, `${JSON.stringify(payload)}: ${res.text}`);
    }
    assert.equal((await env.gw.admin("GET", `/approvals/${id}`)).json.status, "pending");
    assert.deepEqual(byApproval(env.origin, id), []);
    assert.equal((await env.gw.admin("POST", `/approvals/${id}/approve`, {})).status, 200);
    assert.equal(byApproval(env.origin, id).length, 1);
  });

  test("an unreachable origin is recorded in the result; the approval is still approved, once", async () => {
    const origin = await startOrigin();
    const gw = await startGateway({ origin: origin.url, bindings: { KEYGATE_POLICY: policyText("demo") + APPROVALS_TABLE } });
    try {
      const key = await gw.createKey({ name: "Down", scopes: ["contacts:write-approval"] });
      const { id } = await queue(gw, key.key, "/v1/contacts", { body: "{}" });
      await origin.close();
      const res = await gw.admin("POST", `/approvals/${id}/approve`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.status, "approved");
      assert.equal(res.json.result.error, "origin_unreachable");
      assert.equal(typeof res.json.result.detail, "string");
      const again = await gw.admin("POST", `/approvals/${id}/approve`);
      assert.equal(again.status, 409);
      assert.equal(again.json.approval_status, "approved");
    } finally {
      await gw.dispose();
      await origin.close();
    }
  });
});

describe("re-check of the submitting key at approve", () => {
  const failedCase = async (label, scopes, change, reason) => {
    const key = await env.gw.createKey({ name: `recheck ${label}`, scopes, workspace: `recheck-${label}` });
    const { id } = await queue(env.gw, key.key, "/v1/contacts/5", { method: "PATCH", body: '{"x":1}' });
    await change(key);
    const res = await env.gw.admin("POST", `/approvals/${id}/approve`);
    assert.equal(res.status, 409, `${label}: ${res.text}`);
    assert.equal(res.json.code, "submitter_not_allowed");
    assert.equal(res.json.reason, reason);
    assert.equal(res.json.approval_status, "failed");
    assert.equal(res.json.status, 409);
    const shown = await env.gw.admin("GET", `/approvals/${id}`);
    assert.equal(shown.status, 200, shown.text);
    assert.equal(shown.json.status, "failed");
    assert.equal(shown.json.result.error, reason);
    assert.equal(typeof shown.json.result.detail, "string");
    assert.deepEqual(byApproval(env.origin, id), [], `${label}: the origin was not called`);
    assert.deepEqual(byKey(env.origin, key.id), []);
    // Failed is final: approve again is approval_decided, and so is reject.
    const again = await env.gw.admin("POST", `/approvals/${id}/approve`);
    assert.equal(again.status, 409);
    assert.equal(again.json.code, "approval_decided");
    assert.equal(again.json.approval_status, "failed");
    const rejected = await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "late" });
    assert.equal(rejected.status, 409);
    assert.equal(rejected.json.approval_status, "failed");
    // It is listed as failed.
    const listed = (await env.gw.admin("GET", `/approvals?workspace=recheck-${label}&status=failed`)).json.approvals;
    assert.deepEqual(listed.map((a) => a.id), [id]);
    return { key, id };
  };

  test("revoked submitter → 409 submitter_not_allowed key_revoked; re-activation does not revive it", async () => {
    const { key, id } = await failedCase("revoked", ["contacts:write-approval"], async (k) => {
      assert.equal((await env.gw.admin("POST", `/keys/${k.id}/revoke`)).status, 200);
    }, "key_revoked");
    assert.equal((await env.gw.admin("POST", `/keys/${key.id}/activate`)).status, 200);
    const again = await env.gw.admin("POST", `/approvals/${id}/approve`);
    assert.equal(again.status, 409);
    assert.equal(again.json.approval_status, "failed");
    assert.deepEqual(byApproval(env.origin, id), []);
  });

  test("deleted submitter → key_deleted", async () => {
    await failedCase("deleted", ["contacts:write-approval"], async (k) => {
      assert.equal((await env.gw.admin("DELETE", `/keys/${k.id}`)).status, 204);
    }, "key_deleted");
  });

  test("scopes edited down to contacts:read → scope_lost", async () => {
    await failedCase("scope", ["contacts:write-approval", "tags:write"], async (k) => {
      const res = await env.gw.admin("PATCH", `/keys/${k.id}`, { scopes: ["contacts:read"] });
      assert.equal(res.status, 200, res.text);
    }, "scope_lost");
  });

  test("expired submitter → key_expired", async () => {
    await failedCase("expired", ["contacts:write-approval"], async (k) => {
      const soon = new Date(Date.now() + 1000).toISOString();
      assert.equal((await env.gw.admin("PATCH", `/keys/${k.id}`, { expires_at: soon })).status, 200);
      await sleep(Date.parse(soon) - Date.now() + 400);
    }, "key_expired");
  });

  test("a submitter whose grant was raised (write-approval → delete-approval) is still approved, with its current identity", async () => {
    const key = await env.gw.createKey({ name: "raised", scopes: ["contacts:write-approval"], workspace: "recheck-raised" });
    const { id } = await queue(env.gw, key.key, "/v1/contacts", { body: "{}" });
    assert.equal((await env.gw.admin("PATCH", `/keys/${key.id}`, { scopes: ["contacts:delete-approval"] })).status, 200);
    const res = await env.gw.admin("POST", `/approvals/${id}/approve`);
    assert.equal(res.status, 200, res.text);
    const seen = byApproval(env.origin, id);
    assert.equal(seen.length, 1);
    // The origin sees the key's current identity.
    assert.equal(seen[0].headers["x-keygate-scopes"], "contacts:delete-approval");
    verifiedAtOrigin(env.origin, seen[0]);
  });
});

describe("reject and the rejection webhook", () => {
  let receiver;
  before(async () => {
    receiver = await startReceiver(200);
  });
  after(async () => {
    await receiver?.close();
  });

  test("a reason is required; the webhook is POSTed, signed, and recorded as delivered", async () => {
    const key = await env.gw.createKey({ name: "Hooked", scopes: ["email:send-approval"], workspace: "rej", rejection_webhook: receiver.url });
    const body = '{"to":"ceo@example.com","subject":"hi"}';
    const { id } = await queue(env.gw, key.key, "/v1/email/send?draft=1", { body, headers: { "content-type": "application/json" } });

    for (const payload of [undefined, {}, { reason: "" }, { reason: "   " }, { reason: 5 }, { reason: "x".repeat(1001) }, { reason: "ok", notify: true }, "not json"]) {
      const res = await env.gw.admin("POST", `/approvals/${id}/reject`, payload);
      assert.equal(res.status, 400, `${JSON.stringify(payload)}: ${res.text}`);
      assert.equal(res.json.code, "invalid_request");
      // Without a body or with one that is not JSON, the error names the body itself.
      if (payload !== undefined && payload !== "not json") {
        assert.ok(res.json.errors.some((e) => e.field === "reason" || e.field === "notify"), res.text);
      }
    }
    const missing = await env.gw.admin("POST", `/approvals/${id}/reject`, {});
    assert.deepEqual(missing.json.errors.map((e) => e.field), ["reason"]);
    assert.equal((await env.gw.admin("GET", `/approvals/${id}`)).json.status, "pending");
    assert.equal(receiver.received.length, 0, "no webhook for refused rejections");

    const before = Date.now();
    const res = await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "Not to the CEO" });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, "rejected");
    assert.equal(res.json.reason, "Not to the CEO");
    assert.deepEqual(res.json.decided_by, { type: "root" });
    assert.match(res.json.decided_at, RFC3339);
    assert.equal(res.json.result, null);
    assert.equal(res.json.webhook.status, "pending");

    const deliveries = await poll(() => receiver.received.filter((d) => d.headers["x-keygate-approval-id"] === id), (d) => d.length >= 1);
    assert.equal(deliveries.length, 1, "the webhook arrived");
    const d = deliveries[0];
    assert.equal(d.method, "POST");
    assert.equal(d.url, "/hooks/rejected");
    assert.match(d.headers["content-type"] ?? "", /^application\/json/);
    assert.equal(d.headers["x-keygate-event"], "approval.rejected");
    assert.equal(d.headers["x-keygate-approval-id"], id);
    assert.ok(d.at >= before);
    assertWebhookSigned(d, key.rejection_webhook_secret);
    const payload = JSON.parse(d.raw.toString("utf8"));
    assert.equal(payload.type, "approval.rejected");
    assert.equal(payload.approval_id, id);
    assert.equal(payload.key_id, key.id);
    assert.equal(payload.key_name, "Hooked");
    assert.equal(payload.workspace, "rej");
    assert.equal(payload.reason, "Not to the CEO");
    assert.match(payload.rejected_at, RFC3339);
    assert.deepEqual(payload.rejected_by, { type: "root" });
    assert.deepEqual(payload.request, { method: "POST", path: "/v1/email/send", query: "draft=1", body, body_encoding: "utf8" });
    assert.ok(!d.raw.toString().includes(key.key), "the key's secret is not in the webhook");

    const shown = await poll(() => env.gw.admin("GET", `/approvals/${id}`), (r) => r.json?.webhook?.status === "delivered");
    assert.equal(shown.json.webhook.status, "delivered", shown.text);
    assert.equal(shown.json.webhook.attempts, 1);
    assert.match(shown.json.webhook.delivered_at, RFC3339);
    assert.match(shown.json.webhook.last_attempt_at, RFC3339);
    assert.equal(shown.json.webhook.last_error, null);
    assert.equal(shown.json.status, "rejected");
    assert.equal(shown.json.reason, "Not to the CEO");

    // Decided: approve and reject are 409, the origin was never called, no second webhook.
    const again = await env.gw.admin("POST", `/approvals/${id}/approve`);
    assert.equal(again.status, 409);
    assert.equal(again.json.code, "approval_decided");
    assert.equal(again.json.approval_status, "rejected");
    assert.equal((await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "twice" })).json.approval_status, "rejected");
    assert.deepEqual(byKey(env.origin, key.id), []);
    await sleep(1_500);
    assert.equal(receiver.received.filter((x) => x.headers["x-keygate-approval-id"] === id).length, 1, "delivered once");
  });

  test("a key with no webhook: the rejection is recorded, webhook null", async () => {
    const key = await env.gw.createKey({ name: "Unhooked", scopes: ["contacts:delete-approval"], workspace: "rej-none" });
    const { id } = await queue(env.gw, key.key, "/v1/contacts/3", { method: "DELETE" });
    const res = await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "keep it" });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, "rejected");
    assert.equal(res.json.webhook, null);
    const shown = (await env.gw.admin("GET", `/approvals/${id}`)).json;
    assert.equal(shown.status, "rejected");
    assert.equal(shown.reason, "keep it");
    assert.equal(shown.webhook, null);
    assert.deepEqual(byKey(env.origin, key.id), []);
  });

  test("the webhook goes to the key's current URL, and a key deleted before the reject gets none", async () => {
    const other = await startReceiver(200);
    try {
      const key = await env.gw.createKey({ name: "Moved", scopes: ["contacts:write-approval"], workspace: "rej-moved", rejection_webhook: other.url });
      const { id } = await queue(env.gw, key.key, "/v1/contacts", { body: "{}" });
      assert.equal((await env.gw.admin("PATCH", `/keys/${key.id}`, { rejection_webhook: receiver.url })).status, 200);
      assert.equal((await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "moved" })).status, 200);
      const got = await poll(() => receiver.received.filter((d) => d.headers["x-keygate-approval-id"] === id), (d) => d.length >= 1);
      assert.equal(got.length, 1);
      assert.equal(other.received.length, 0, "the old URL got nothing");

      const gone = await env.gw.createKey({ name: "Gone", scopes: ["contacts:write-approval"], workspace: "rej-moved", rejection_webhook: other.url });
      const queued = await queue(env.gw, gone.key, "/v1/contacts", { body: "{}" });
      assert.equal((await env.gw.admin("DELETE", `/keys/${gone.id}`)).status, 204);
      const res = await env.gw.admin("POST", `/approvals/${queued.id}/reject`, { reason: "gone" });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.status, "rejected");
      assert.equal(res.json.webhook, null);
      await sleep(1_000);
      assert.equal(other.received.length, 0);
    } finally {
      await other.close();
    }
  });

  test("a receiver answering 500 is retried, each attempt signed, then failed with the last error", async () => {
    const failing = await startReceiver(500);
    try {
      const key = await env.gw.createKey({ name: "Failing hook", scopes: ["contacts:write-approval"], workspace: "rej-500", rejection_webhook: failing.url });
      const { id } = await queue(env.gw, key.key, "/v1/contacts", { body: '{"n":1}' });
      const res = await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "nope" });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.webhook.status, "pending");

      // Attempts grow while it is retried.
      const retrying = await poll(() => env.gw.admin("GET", `/approvals/${id}`), (r) => (r.json.webhook?.attempts ?? 0) > 1, { timeoutMs: 10_000 });
      assert.ok(retrying.json.webhook.attempts > 1, retrying.text);
      const final = await poll(() => env.gw.admin("GET", `/approvals/${id}`), (r) => r.json.webhook?.status === "failed", { timeoutMs: 15_000 });
      const hook = final.json.webhook;
      assert.equal(hook.status, "failed", final.text);
      assert.ok(hook.attempts > 1);
      assert.equal(typeof hook.last_error, "string");
      assert.ok(hook.last_error.length > 0);
      // Coarse: no status code, so a webhook URL is no probe of what answers at it.
      assert.equal(hook.last_error, "receiver_error");
      assert.match(hook.last_attempt_at, RFC3339);
      assert.equal(hook.delivered_at, null);
      assert.equal(final.json.status, "rejected");
      // The receiver saw every attempt, each signed afresh.
      const attempts = failing.received.filter((d) => d.headers["x-keygate-approval-id"] === id);
      assert.equal(attempts.length, hook.attempts);
      for (const d of attempts) assertWebhookSigned(d, key.rejection_webhook_secret);
      // Failed is final: nothing more arrives.
      await sleep(2_000);
      assert.equal(failing.received.filter((d) => d.headers["x-keygate-approval-id"] === id).length, hook.attempts);
      assert.equal((await env.gw.admin("GET", `/approvals/${id}`)).json.webhook.status, "failed");
    } finally {
      await failing.close();
    }
  });

  test("a receiver that is down (closed port) ends failed with the last error", async () => {
    const port = await deadPort();
    const key = await env.gw.createKey({ name: "Dead hook", scopes: ["contacts:write-approval"], workspace: "rej-dead", rejection_webhook: `http://127.0.0.1:${port}/hook` });
    const { id } = await queue(env.gw, key.key, "/v1/contacts", { body: "{}" });
    assert.equal((await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "down" })).status, 200);
    const retrying = await poll(() => env.gw.admin("GET", `/approvals/${id}`), (r) => (r.json.webhook?.attempts ?? 0) > 1);
    assert.ok(retrying.json.webhook.attempts > 1, retrying.text);
    const final = await poll(() => env.gw.admin("GET", `/approvals/${id}`), (r) => r.json.webhook?.status === "failed", { timeoutMs: 15_000 });
    assert.equal(final.json.webhook.status, "failed", final.text);
    assert.ok(final.json.webhook.attempts > 1);
    assert.equal(final.json.webhook.last_error, "unreachable");
    assert.equal(final.json.webhook.delivered_at, null);
  });

  test("a receiver failing first and then recovering gets it delivered", async () => {
    const flaky = await startReceiver((attempt) => (attempt === 1 ? 500 : 204));
    try {
      const key = await env.gw.createKey({ name: "Flaky hook", scopes: ["ai:use-approval"], workspace: "rej-flaky", rejection_webhook: flaky.url });
      const { id } = await queue(env.gw, key.key, "/v1/ai/complete", { body: '{"p":1}' });
      assert.equal((await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "retry me" })).status, 200);
      const final = await poll(() => env.gw.admin("GET", `/approvals/${id}`), (r) => r.json.webhook?.status === "delivered", { timeoutMs: 10_000 });
      assert.equal(final.json.webhook.status, "delivered", final.text);
      assert.equal(final.json.webhook.attempts, 2);
      assert.match(final.json.webhook.delivered_at, RFC3339);
      const attempts = flaky.received.filter((d) => d.headers["x-keygate-approval-id"] === id);
      assert.equal(attempts.length, 2);
      // Retried after about a second, not at once.
      assert.ok(attempts[1].at - attempts[0].at >= 800, `retried after ${attempts[1].at - attempts[0].at} ms`);
      for (const d of attempts) assertWebhookSigned(d, key.rejection_webhook_secret);
      // The same event both times.
      assert.deepEqual(JSON.parse(attempts[0].raw), JSON.parse(attempts[1].raw));
    } finally {
      await flaky.close();
    }
  });
});

describe("expiry", () => {
  test("a pending approval past expires_at is expired: 409 on approve, listed as expired", async () => {
    const origin = await startOrigin();
    const gw = await startGateway({
      origin: origin.url,
      bindings: { KEYGATE_POLICY: policyText("demo") + "\n[approvals]\nexpire_after_seconds = 2\nwebhook_retry_seconds = 3\nmax_body_bytes = 1024\n" },
    });
    try {
      const key = await gw.createKey({ name: "Slow", scopes: ["contacts:write-approval"], workspace: "exp" });
      const before = Date.now();
      const { id, body } = await queue(gw, key.key, "/v1/contacts", { body: '{"late":true}' });
      const ttl = Date.parse(body.expires_at) - before;
      assert.ok(ttl > 0 && ttl <= 3_000, `expires in about 2 s, got ${ttl} ms`);
      const shownEarly = (await gw.admin("GET", `/approvals/${id}`)).json;
      assert.equal(shownEarly.status, "pending");
      // expires_at is on a whole second (rounded up), created_at shown rounded down: 2–3 s apart.
      const shownTtl = Date.parse(shownEarly.expires_at) - Date.parse(shownEarly.created_at);
      assert.ok(shownTtl >= 2_000 && shownTtl <= 3_000, `shown 2–3 s apart, got ${shownTtl} ms`);
      // max_body_bytes from the same table.
      const big = await gw.request("/v1/contacts", { key: key.key, method: "POST", body: "z".repeat(1025) });
      assert.equal(big.status, 413);
      assert.equal((await big.json()).max_bytes, 1024);

      await sleep(Math.max(0, Date.parse(body.expires_at) - Date.now()) + 600);
      const fresh = await queue(gw, key.key, "/v1/contacts", { body: '{"fresh":true}' });

      const shown = (await gw.admin("GET", `/approvals/${id}`)).json;
      assert.equal(shown.status, "expired");
      assert.equal(shown.decided_at, null);
      assert.equal(shown.result, null);
      for (const [action, payload] of [["approve", undefined], ["reject", { reason: "too late" }]]) {
        const res = await gw.admin("POST", `/approvals/${id}/${action}`, payload);
        assert.equal(res.status, 409, `${action}: ${res.text}`);
        assert.equal(res.json.code, "approval_decided");
        assert.equal(res.json.approval_status, "expired");
      }
      assert.equal((await gw.admin("GET", `/approvals/${id}`)).json.status, "expired");
      assert.deepEqual(origin.received, [], "the origin was never called");

      const expired = (await gw.admin("GET", "/approvals?status=expired&workspace=exp")).json.approvals;
      assert.deepEqual(expired.map((a) => a.id), [id]);
      assert.equal(expired[0].status, "expired");
      const pending = (await gw.admin("GET", "/approvals?status=pending&workspace=exp")).json.approvals;
      assert.deepEqual(pending.map((a) => a.id), [fresh.id]);
      const all = (await gw.admin("GET", "/approvals?workspace=exp")).json.approvals;
      assert.deepEqual(all.map((a) => [a.id, a.status]), [[fresh.id, "pending"], [id, "expired"]]);

      // The fresh one can still be approved within its two seconds.
      const ok = await gw.admin("POST", `/approvals/${fresh.id}/approve`);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(origin.received.length, 1);
      assert.equal(origin.received[0].headers["x-keygate-approval-id"], fresh.id);
    } finally {
      await gw.dispose();
      await origin.close();
    }
  });
});

describe("who may review", () => {
  test("a key from another workspace holding approvals:write gets 404 on get, approve and reject", async () => {
    const submitter = await env.gw.createKey({ name: "A agent", scopes: ["contacts:write-approval"], workspace: "perm-a" });
    const outsider = await env.gw.createKey({ name: "B reviewer", scopes: ["approvals:write"], workspace: "perm-b" });
    const { id } = await queue(env.gw, submitter.key, "/v1/contacts", { body: "{}" });
    for (const [method, path, body] of [
      ["GET", `/approvals/${id}`],
      ["POST", `/approvals/${id}/approve`],
      ["POST", `/approvals/${id}/reject`, { reason: "not yours" }],
    ]) {
      const res = await env.gw.admin(method, path, body, outsider.key);
      assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
      assert.equal(res.json.code, "not_found");
    }
    // Its list is its own workspace only.
    const listed = await env.gw.admin("GET", "/approvals", undefined, outsider.key);
    assert.equal(listed.status, 200, listed.text);
    assert.ok(!listed.json.approvals.some((a) => a.id === id));
    assert.ok(listed.json.approvals.every((a) => a.workspace === "perm-b"));
    const forbidden = await env.gw.admin("GET", "/approvals?workspace=perm-a", undefined, outsider.key);
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.json.code, "workspace_forbidden");
    assert.equal((await env.gw.admin("GET", `/approvals/${id}`)).json.status, "pending");
    assert.deepEqual(byApproval(env.origin, id), []);
  });

  test("a key of the same workspace without approvals grants: 403 insufficient_scope", async () => {
    const submitter = await env.gw.createKey({ name: "C agent", scopes: ["contacts:write-approval"], workspace: "perm-c" });
    const plain = await env.gw.createKey({ name: "C plain", scopes: ["contacts:delete", "api_keys:delete"], workspace: "perm-c" });
    const { id } = await queue(env.gw, submitter.key, "/v1/contacts", { body: "{}" });
    let res = await env.gw.admin("GET", "/approvals", undefined, plain.key);
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "insufficient_scope");
    assert.equal(res.json.required_scope, "approvals:read");
    res = await env.gw.admin("POST", `/approvals/${id}/approve`, undefined, plain.key);
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "insufficient_scope");
    assert.equal(res.json.required_scope, "approvals:write");
    res = await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "x" }, plain.key);
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.required_scope, "approvals:write");
    res = await env.gw.admin("GET", `/approvals/${id}`, undefined, plain.key);
    assert.equal(res.status, 404, res.text);
    assert.equal((await env.gw.admin("GET", `/approvals/${id}`)).json.status, "pending");
    assert.deepEqual(byApproval(env.origin, id), []);
  });

  test("approvals:read lists and shows its own workspace only, and cannot decide", async () => {
    const submitter = await env.gw.createKey({ name: "D agent", scopes: ["contacts:write-approval"], workspace: "perm-d" });
    const elsewhere = await env.gw.createKey({ name: "E agent", scopes: ["contacts:write-approval"], workspace: "perm-e" });
    const reader = await env.gw.createKey({ name: "D reader", scopes: ["approvals:read"], workspace: "perm-d", limits: { per_minute: 50, per_day: 500 } });
    const mine = await queue(env.gw, submitter.key, "/v1/contacts", { body: '{"d":1}' });
    const theirs = await queue(env.gw, elsewhere.key, "/v1/contacts", { body: '{"e":1}' });

    let res = await env.gw.admin("GET", "/approvals", undefined, reader.key);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.approvals.map((a) => a.id), [mine.id]);
    assert.equal(res.headers.get("x-ratelimit-limit"), "50");
    res = await env.gw.admin("GET", "/approvals?workspace=perm-d", undefined, reader.key);
    assert.deepEqual(res.json.approvals.map((a) => a.id), [mine.id]);
    res = await env.gw.admin("GET", "/approvals?workspace=perm-e", undefined, reader.key);
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "workspace_forbidden");

    res = await env.gw.admin("GET", `/approvals/${mine.id}`, undefined, reader.key);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.body, '{"d":1}');
    assert.equal((await env.gw.admin("GET", `/approvals/${theirs.id}`, undefined, reader.key)).status, 404);

    for (const [action, body] of [["approve", undefined], ["reject", { reason: "reader" }]]) {
      res = await env.gw.admin("POST", `/approvals/${mine.id}/${action}`, body, reader.key);
      assert.equal(res.status, 403, `${action}: ${res.text}`);
      assert.equal(res.json.code, "insufficient_scope");
      assert.equal(res.json.required_scope, "approvals:write");
    }
    assert.equal((await env.gw.admin("GET", `/approvals/${mine.id}`)).json.status, "pending");
    assert.deepEqual(byApproval(env.origin, mine.id), []);
  });

  test("the submitting key sees its own approval, not another key's; it cannot list", async () => {
    const one = await env.gw.createKey({ name: "F one", scopes: ["contacts:write-approval"], workspace: "perm-f" });
    const two = await env.gw.createKey({ name: "F two", scopes: ["contacts:write-approval"], workspace: "perm-f" });
    const a = await queue(env.gw, one.key, "/v1/contacts", { body: '{"one":1}' });
    const b = await queue(env.gw, two.key, "/v1/contacts", { body: '{"two":2}' });
    let res = await env.gw.admin("GET", `/approvals/${a.id}`, undefined, one.key);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.key_id, one.id);
    assert.equal(res.json.body, '{"one":1}');
    res = await env.gw.admin("GET", `/approvals/${b.id}`, undefined, one.key);
    assert.equal(res.status, 404, res.text);
    res = await env.gw.admin("GET", "/approvals", undefined, one.key);
    assert.equal(res.status, 403);
    assert.equal(res.json.required_scope, "approvals:read");
    res = await env.gw.admin("POST", `/approvals/${a.id}/approve`, undefined, one.key);
    assert.equal(res.status, 403);
    assert.equal(res.json.code, "insufficient_scope");
    assert.deepEqual(byKey(env.origin, one.id), []);
  });

  test("a key holding both levels cannot decide its own request: 403 own_approval", async () => {
    const selfish = await env.gw.createKey({ name: "G selfish", scopes: ["contacts:write-approval", "approvals:write"], workspace: "perm-g" });
    const other = await env.gw.createKey({ name: "G other", scopes: ["contacts:write-approval"], workspace: "perm-g" });
    const own = await queue(env.gw, selfish.key, "/v1/contacts", { body: '{"own":1}' });
    for (const [action, body] of [["approve", undefined], ["reject", { reason: "me" }]]) {
      const res = await env.gw.admin("POST", `/approvals/${own.id}/${action}`, body, selfish.key);
      assert.equal(res.status, 403, `${action}: ${res.text}`);
      assert.equal(res.json.code, "own_approval");
    }
    assert.equal((await env.gw.admin("GET", `/approvals/${own.id}`)).json.status, "pending");
    assert.deepEqual(byApproval(env.origin, own.id), []);
    // approvals:write includes read: it lists its workspace, and may decide another key's request.
    const listed = await env.gw.admin("GET", "/approvals", undefined, selfish.key);
    assert.equal(listed.status, 200, listed.text);
    const theirs = await queue(env.gw, other.key, "/v1/contacts", { body: '{"other":1}' });
    const res = await env.gw.admin("POST", `/approvals/${theirs.id}/approve`, undefined, selfish.key);
    assert.equal(res.status, 200, res.text);
    assert.equal(byApproval(env.origin, theirs.id)[0].headers["x-keygate-approved-by"], selfish.id);
  });

  test("an approver key of the same workspace approves; the origin sees it as the approver", async () => {
    const submitter = await env.gw.createKey({ name: "H agent", scopes: ["email:send-approval"], workspace: "perm-h" });
    const approver = await env.gw.createKey({ name: "H approver", scopes: ["approvals:write"], workspace: "perm-h" });
    const { id } = await queue(env.gw, submitter.key, "/v1/email/send", { body: '{"to":"x@y.z"}', headers: { "content-type": "application/json" } });
    const res = await env.gw.admin("POST", `/approvals/${id}/approve`, undefined, approver.key);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, "approved");
    assert.deepEqual(res.json.decided_by, { type: "key", id: approver.id, name: "H approver" });
    assert.ok(res.headers.get("x-ratelimit-remaining"), "the approver's limit headers");
    const seen = byApproval(env.origin, id);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].headers["x-keygate-approved-by"], approver.id);
    assert.equal(seen[0].headers["x-keygate-key-id"], submitter.id, "the origin sees the submitter's identity");
    assert.equal(seen[0].headers["x-keygate-scopes"], "email:send-approval");
    const identity = verifiedAtOrigin(env.origin, seen[0]);
    assert.equal(identity.approvedBy, approver.id);
    assert.equal(identity.approvalId, id);
    assert.equal(identity.keyId, submitter.id);
    // A forged approver fails verification.
    const forged = { ...seen[0], headers: { ...seen[0].headers, "x-keygate-approved-by": "root" } };
    assert.equal(verifyKeygateRequest({ method: forged.method, host: env.origin.host, pathAndQuery: forged.url, headers: forged.headers, body: forged.body }, SIGNING_SECRET).ok, false);

    // The reject by a key is recorded with that key.
    const second = await queue(env.gw, submitter.key, "/v1/email/send", { body: '{"to":"q@y.z"}' });
    const rejected = await env.gw.admin("POST", `/approvals/${second.id}/reject`, { reason: "no spam" }, approver.key);
    assert.equal(rejected.status, 200, rejected.text);
    assert.deepEqual(rejected.json.decided_by, { type: "key", id: approver.id, name: "H approver" });

    // A revoked approver loses it at once.
    const third = await queue(env.gw, submitter.key, "/v1/email/send", { body: '{"to":"r@y.z"}' });
    await env.gw.admin("POST", `/keys/${approver.id}/revoke`);
    const refused = await env.gw.admin("POST", `/approvals/${third.id}/approve`, undefined, approver.key);
    assert.equal(refused.status, 401);
    assert.equal(refused.json.code, "key_revoked");
    assert.deepEqual(byApproval(env.origin, third.id), []);
  });

  test("every answer to a key on /approvals is counted and carries its limit headers, refusals too", async () => {
    const submitter = await env.gw.createKey({ name: "J agent", scopes: ["contacts:write-approval"], workspace: "perm-j" });
    const selfish = await env.gw.createKey({ name: "J selfish", scopes: ["contacts:write-approval", "approvals:write"], workspace: "perm-j" });
    const outsider = await env.gw.createKey({ name: "J outsider", scopes: ["approvals:write"], workspace: "perm-k" });
    const { id } = await queue(env.gw, submitter.key, "/v1/contacts", { body: "{}" });
    const own = await queue(env.gw, selfish.key, "/v1/contacts", { body: "{}" });
    const cases = [
      // [who, method, path, body, expected status, expected code]
      [submitter, "GET", `/approvals/${id}`, undefined, 200],
      [outsider, "GET", "/approvals", undefined, 200],
      [submitter, "GET", "/approvals", undefined, 403, "insufficient_scope"],
      [submitter, "POST", `/approvals/${id}/approve`, undefined, 403, "insufficient_scope"],
      [outsider, "GET", `/approvals/${id}`, undefined, 404, "not_found"],
      [outsider, "POST", `/approvals/${id}/approve`, undefined, 404, "not_found"],
      [outsider, "GET", "/approvals?workspace=perm-j", undefined, 403, "workspace_forbidden"],
      [selfish, "POST", `/approvals/${own.id}/approve`, undefined, 403, "own_approval"],
      [selfish, "POST", `/approvals/${id}/reject`, {}, 400, "invalid_request"],
    ];
    const failures = [];
    for (const [who, method, path, body, status, code] of cases) {
      const before = (await env.gw.admin("GET", `/keys/${who.id}`)).json.usage.last_24h;
      const res = await env.gw.admin(method, path, body, who.key);
      const after = (await env.gw.admin("GET", `/keys/${who.id}`)).json.usage.last_24h;
      assert.equal(res.status, status, `${who.name} ${method} ${path}: ${res.text}`);
      if (code) assert.equal(res.json.code, code);
      assert.equal(after - before, 1, `${who.name} ${method} ${path}: counted once`);
      const headers = ["x-ratelimit-limit", "x-ratelimit-remaining", "ratelimit", "ratelimit-policy"].filter((h) => !res.headers.get(h));
      if (headers.length) failures.push(`${who.name} ${method} ${path} → ${status}: missing ${headers.join(", ")}`);
    }
    assert.deepEqual(failures, [], "answers without the key's limit headers");
  });

  test("admin and a coarse scope reach the queue like any resource; read:all only reads", async () => {
    const submitter = await env.gw.createKey({ name: "I agent", scopes: ["contacts:write-approval"], workspace: "perm-i" });
    const admin = await env.gw.createKey({ name: "I admin", scopes: ["admin"], workspace: "perm-i" });
    const readAll = await env.gw.createKey({ name: "I readall", scopes: ["read:all"], workspace: "perm-i" });
    const { id } = await queue(env.gw, submitter.key, "/v1/contacts", { body: "{}" });
    assert.equal((await env.gw.admin("GET", "/approvals", undefined, readAll.key)).status, 200);
    const denied = await env.gw.admin("POST", `/approvals/${id}/approve`, undefined, readAll.key);
    assert.equal(denied.status, 403, denied.text);
    const res = await env.gw.admin("POST", `/approvals/${id}/approve`, undefined, admin.key);
    assert.equal(res.status, 200, res.text);
    assert.equal(byApproval(env.origin, id)[0].headers["x-keygate-approved-by"], admin.id);
  });
});

describe("listing", () => {
  test("filters by status and workspace; limit + next_cursor visit every item once, newest first", async () => {
    const key = await env.gw.createKey({ name: "Lister", scopes: ["contacts:write-approval"], workspace: "list-a" });
    const neighbour = await env.gw.createKey({ name: "Neighbour", scopes: ["contacts:write-approval"], workspace: "list-b" });
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await queue(env.gw, key.key, `/v1/contacts?i=${i}`, { body: `{"i":${i}}` })).id);
      await sleep(15);
    }
    const foreign = await queue(env.gw, neighbour.key, "/v1/contacts", { body: "{}" });
    assert.equal((await env.gw.admin("POST", `/approvals/${ids[1]}/approve`)).status, 200);
    assert.equal((await env.gw.admin("POST", `/approvals/${ids[3]}/reject`, { reason: "no" })).status, 200);

    const list = async (query) => {
      const res = await env.gw.admin("GET", `/approvals${query}`);
      assert.equal(res.status, 200, `${query}: ${res.text}`);
      return res.json;
    };
    const all = await list("?workspace=list-a");
    assert.deepEqual(all.approvals.map((a) => a.id), [...ids].reverse(), "newest first");
    assert.equal(all.next_cursor, null);
    for (const item of all.approvals) {
      assert.equal(item.body, undefined, "list items have no body");
      assert.equal(item.headers, undefined, "list items have no headers");
      assert.equal(typeof item.body_bytes, "number");
      assert.equal(item.workspace, "list-a");
      assert.equal(item.key_id, key.id);
      assert.match(item.id, APPROVAL_ID);
    }
    assert.equal(all.approvals.find((a) => a.id === ids[2]).body_bytes, Buffer.byteLength('{"i":2}'));
    assert.equal(all.approvals.find((a) => a.id === ids[2]).query, "i=2");
    assert.equal(all.approvals.find((a) => a.id === ids[1]).status, "approved");
    assert.equal(all.approvals.find((a) => a.id === ids[1]).result.origin_status, 200);

    assert.deepEqual((await list("?workspace=list-a&status=pending")).approvals.map((a) => a.id), [ids[4], ids[2], ids[0]]);
    assert.deepEqual((await list("?workspace=list-a&status=approved")).approvals.map((a) => a.id), [ids[1]]);
    assert.deepEqual((await list("?workspace=list-a&status=rejected")).approvals.map((a) => a.id), [ids[3]]);
    assert.deepEqual((await list("?workspace=list-a&status=expired")).approvals, []);
    assert.deepEqual((await list("?workspace=list-a&status=failed")).approvals, []);
    assert.deepEqual((await list("?workspace=list-b")).approvals.map((a) => a.id), [foreign.id]);
    // Each workspace has its own queue: the root token names the one it lists.
    const unnamed = await env.gw.admin("GET", "/approvals?limit=100");
    assert.equal(unnamed.status, 400, unnamed.text);
    assert.equal(unnamed.json.code, "workspace_required");

    // Pages of two: 2, 2, 1, every item exactly once, in order.
    const seen = [];
    const sizes = [];
    let cursor = null;
    for (let page = 0; page < 10; page++) {
      const got = await list(`?workspace=list-a&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      sizes.push(got.approvals.length);
      seen.push(...got.approvals.map((a) => a.id));
      cursor = got.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(sizes, [2, 2, 1]);
    assert.deepEqual(seen, [...ids].reverse());
    assert.equal(new Set(seen).size, seen.length);

    // Pages with a status filter.
    const pending = [];
    cursor = null;
    for (let page = 0; page < 10; page++) {
      const got = await list(`?workspace=list-a&status=pending&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      pending.push(...got.approvals.map((a) => a.id));
      cursor = got.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(pending, [ids[4], ids[2], ids[0]]);
  });

  test("bad parameters are 400 invalid_request naming them", async () => {
    for (const query of ["?colour=red", "?status=bogus", "?limit=0", "?limit=101", "?limit=abc", "?cursor=not-a-cursor"]) {
      const res = await env.gw.admin("GET", `/approvals${query}`);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.equal(res.json.code, "invalid_request", query);
    }
    const res = await env.gw.admin("GET", "/approvals?colour=red");
    assert.match(res.text, /colour/);
    // The default limit is 20.
    const key = await env.gw.createKey({ name: "Many", scopes: ["contacts:write-approval"], workspace: "list-many" });
    for (let i = 0; i < 21; i++) await queue(env.gw, key.key, "/v1/contacts", { body: "{}" });
    const page = (await env.gw.admin("GET", "/approvals?workspace=list-many")).json;
    assert.equal(page.approvals.length, 20);
    assert.equal(typeof page.next_cursor, "string");
    const rest = (await env.gw.admin("GET", `/approvals?workspace=list-many&cursor=${encodeURIComponent(page.next_cursor)}`)).json;
    assert.equal(rest.approvals.length, 1);
    assert.equal(rest.next_cursor, null);
  });
});

describe("restart", () => {
  test("pending approvals survive a restart of the runtime and can then be decided", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keygate-approvals-"));
    const origin = await startOrigin();
    const receiver = await startReceiver(200);
    const bindings = { KEYGATE_POLICY: policyText("demo") + APPROVALS_TABLE };
    try {
      let gw = await startGateway({ origin: origin.url, persist: dir, bindings });
      const key = await gw.createKey({ name: "Persisted", scopes: ["contacts:write-approval"], workspace: "persist-ap", rejection_webhook: receiver.url });
      const first = await queue(gw, key.key, "/v1/contacts?n=1", { body: '{"n":1}' });
      const second = await queue(gw, key.key, "/v1/contacts?n=2", { body: '{"n":2}' });
      await gw.dispose();

      gw = await startGateway({ origin: origin.url, persist: dir, bindings });
      try {
        const listed = (await gw.admin("GET", "/approvals?workspace=persist-ap")).json.approvals;
        assert.deepEqual(listed.map((a) => [a.id, a.status]), [[second.id, "pending"], [first.id, "pending"]]);
        const shown = (await gw.admin("GET", `/approvals/${first.id}`)).json;
        assert.equal(shown.body, '{"n":1}');
        assert.equal(shown.query, "n=1");
        assert.deepEqual(origin.received, []);

        const approved = await gw.admin("POST", `/approvals/${first.id}/approve`);
        assert.equal(approved.status, 200, approved.text);
        assert.equal(approved.json.result.origin_status, 200);
        assert.equal(origin.received.length, 1);
        assert.equal(origin.received[0].url, "/v1/contacts?n=1");
        assert.equal(origin.received[0].body, '{"n":1}');
        assert.equal(origin.received[0].headers["x-keygate-approval-id"], first.id);
        verifiedAtOrigin(origin, origin.received[0]);

        const rejected = await gw.admin("POST", `/approvals/${second.id}/reject`, { reason: "after restart" });
        assert.equal(rejected.status, 200, rejected.text);
        assert.equal(rejected.json.status, "rejected");
        const delivered = await poll(() => gw.admin("GET", `/approvals/${second.id}`), (r) => r.json.webhook?.status === "delivered");
        assert.equal(delivered.json.webhook.status, "delivered", delivered.text);
        assert.equal(origin.received.length, 1, "the rejected one never reached the origin");
        assert.equal(receiver.received.length, 1);
        // The key's webhook secret outlived the restart with the key.
        assertWebhookSigned(receiver.received[0], key.rejection_webhook_secret);
      } finally {
        await gw.dispose();
      }
    } finally {
      await receiver.close();
      await origin.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
