// The approval queue's bounds on workerd (issue 9): one queue per workspace, caps on what
// may wait (429 approval_queue_full, nothing stored), settled approvals purged after the
// policy's retention from the queue's alarm, and only an allow-list of headers kept.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { startGateway, startOrigin, policyText, poll as harnessPoll, sleep } from "./harness.mjs";


/** The harness's poll, with this file's longer patience (purges run from an alarm). */
const poll = (probe, done, options) => harnessPoll(probe, done, { timeoutMs: 20_000, intervalMs: 200, ...options });

/** What the queue counts against `max_pending_bytes_per_workspace`, from a shown approval. */
function storedBytes(approval) {
  const headers = Object.entries(approval.headers).reduce((sum, [name, value]) => sum + name.length + value.length, 0);
  return approval.body_bytes + approval.method.length + approval.path.length + (approval.query ?? "").length + headers;
}

const submit = (gw, key, body, headers = {}) =>
  gw.request("/v1/contacts", { key, method: "POST", body, headers: { "content-type": "application/json", ...headers } });

async function queued(gw, key, body, headers) {
  const res = await submit(gw, key, body, headers);
  const text = await res.text();
  assert.equal(res.status, 202, text);
  return { id: JSON.parse(text).approval_id, res };
}

async function refusedFull(gw, key, body, cap, max) {
  const res = await submit(gw, key, body);
  const text = await res.text();
  assert.equal(res.status, 429, text);
  const problem = JSON.parse(text);
  assert.equal(problem.code, "approval_queue_full");
  assert.equal(problem.cap, cap);
  assert.equal(problem.max, max);
  assert.match(problem.detail, new RegExp(cap));
  assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
  return res;
}

const listed = async (gw, workspace, token) => {
  const res = await gw.admin("GET", `/approvals?workspace=${workspace}`, undefined, token);
  assert.equal(res.status, 200, res.text);
  return res.json.approvals.map((a) => a.id);
};

describe("caps and per-workspace queues", () => {
  const CAPS = "\n[approvals]\nmax_body_bytes = 200\nmax_pending_per_key = 2\nmax_pending_per_workspace = 3\nmax_pending_bytes_per_workspace = 400\n";
  const env = {};
  before(async () => {
    env.origin = await startOrigin();
    env.gw = await startGateway({ origin: env.origin.url, bindings: { KEYGATE_POLICY: policyText("demo") + CAPS } });
  });
  after(async () => {
    await env.gw?.dispose();
    await env.origin?.close();
  });
  const agent = (workspace, name) =>
    env.gw.createKey({ name, scopes: ["contacts:write-approval"], workspace, limits: { per_minute: 100, per_day: 1000 } });

  test("over max_pending_per_key: 429 approval_queue_full, counted, nothing stored; a decision frees the place", async () => {
    const key = await agent("cap-key", "busy agent");
    const first = await queued(env.gw, key.key, "{}");
    const second = await queued(env.gw, key.key, "{}");
    const remaining = Number(second.res.headers.get("x-ratelimit-remaining"));
    const refused = await refusedFull(env.gw, key.key, "{}", "max_pending_per_key", 2);
    // Counted like any request the key's object admitted before the queue refused it.
    assert.equal(Number(refused.headers.get("x-ratelimit-remaining")), remaining - 1);
    assert.deepEqual((await listed(env.gw, "cap-key")).sort(), [first.id, second.id].sort());
    // Another key of the workspace still has room of its own.
    const other = await agent("cap-key", "quiet agent");
    await queued(env.gw, other.key, "{}");
    // A decision frees a place at once.
    assert.equal((await env.gw.admin("POST", `/approvals/${first.id}/reject`, { reason: "no" })).status, 200);
    await queued(env.gw, key.key, "{}");
  });

  test("over max_pending_per_workspace: 429 for every key of that workspace, while another workspace's queue goes on", async () => {
    const [a1, a2, a3] = [await agent("cap-ws-a", "a1"), await agent("cap-ws-a", "a2"), await agent("cap-ws-a", "a3")];
    const b = await agent("cap-ws-b", "b");
    const filled = [(await queued(env.gw, a1.key, "{}")).id, (await queued(env.gw, a1.key, "{}")).id, (await queued(env.gw, a2.key, "{}")).id];
    await refusedFull(env.gw, a3.key, "{}", "max_pending_per_workspace", 3);
    await refusedFull(env.gw, a2.key, "{}", "max_pending_per_workspace", 3);
    assert.deepEqual((await listed(env.gw, "cap-ws-a")).sort(), [...filled].sort(), "nothing more stored");
    // The full workspace does not touch the other one's queue.
    const bIds = [(await queued(env.gw, b.key, "{}")).id, (await queued(env.gw, b.key, "{}")).id];
    assert.deepEqual((await listed(env.gw, "cap-ws-b")).sort(), [...bIds].sort());
    // Each workspace's ids name its own queue: the six characters after `apr_`.
    const shard = (id) => id.slice(4, 10);
    assert.equal(new Set(filled.map(shard)).size, 1);
    assert.equal(new Set(bIds.map(shard)).size, 1);
    assert.notEqual(shard(filled[0]), shard(bIds[0]));
    // The other workspace's approvals are decided as usual.
    const approved = await env.gw.admin("POST", `/approvals/${bIds[0]}/approve`);
    assert.equal(approved.status, 200, approved.text);
    assert.equal(approved.json.result.origin_status, 200);
  });

  test("over max_pending_bytes_per_workspace: 429 at one byte over, 202 at exactly the cap", async () => {
    const key = await agent("cap-bytes", "bulky");
    const first = await queued(env.gw, key.key, JSON.stringify({ pad: "x".repeat(140) }));
    const shown = (await env.gw.admin("GET", `/approvals/${first.id}`)).json;
    const used = storedBytes(shown);
    const overhead = used - shown.body_bytes;
    const body = (n) => JSON.stringify({ p: "y".repeat(n - 8) }); // `{"p":""}` is 8 bytes
    assert.equal(Buffer.byteLength(body(20)), 20);
    const fits = 400 - used - overhead;
    assert.ok(fits > 10 && fits < 200, `a body of ${fits} bytes fits the test's numbers`);
    await refusedFull(env.gw, key.key, body(fits + 1), "max_pending_bytes_per_workspace", 400);
    assert.deepEqual(await listed(env.gw, "cap-bytes"), [first.id], "nothing stored");
    await queued(env.gw, key.key, body(fits));
    assert.equal((await listed(env.gw, "cap-bytes")).length, 2);
  });

  test("a queued request keeps only the allow-listed headers, and the origin gets only those", async () => {
    const key = await agent("hdr", "headers");
    const body = '{"name":"Ada"}';
    const res = await env.gw.rawRequest(
      "/v1/contacts",
      {
        authorization: `Bearer ${key.key}`,
        "content-type": "application/json",
        accept: "application/json",
        "accept-language": "en-NZ",
        "user-agent": "agent/1.0",
        "idempotency-key": "op-42",
        "if-match": '"v7"',
        cookie: "session=s3cret-cookie",
        "x-api-key": "third-party-token",
        "x-custom": "not kept",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "cf-connecting-ip": "203.0.113.9",
        "x-forwarded-for": "203.0.113.9",
        "content-length": String(Buffer.byteLength(body)),
      },
      { method: "POST", body },
    );
    assert.equal(res.status, 202, res.body);
    const id = JSON.parse(res.body).approval_id;
    const shown = await env.gw.admin("GET", `/approvals/${id}`);
    assert.equal(shown.status, 200, shown.text);
    assert.deepEqual(shown.json.headers, {
      "content-type": "application/json",
      accept: "application/json",
      "accept-language": "en-NZ",
      "user-agent": "agent/1.0",
      "idempotency-key": "op-42",
      "if-match": '"v7"',
    });
    for (const secret of ["s3cret-cookie", "third-party-token", "203.0.113.9", "not kept"]) {
      assert.ok(!shown.text.includes(secret), `${secret} is not stored`);
    }
    const approved = await env.gw.admin("POST", `/approvals/${id}/approve`);
    assert.equal(approved.status, 200, approved.text);
    const seen = env.origin.received.filter((r) => r.headers["x-keygate-approval-id"] === id);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].headers["idempotency-key"], "op-42");
    assert.equal(seen[0].headers["if-match"], '"v7"');
    for (const name of ["cookie", "x-api-key", "x-custom", "traceparent", "x-forwarded-for"]) {
      assert.equal(seen[0].headers[name], undefined, `${name} never reaches the origin from the queue`);
    }
  });

  test("the root token lists one workspace: without ?workspace= it is 400 workspace_required", async () => {
    const res = await env.gw.admin("GET", "/approvals");
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.code, "workspace_required");
    assert.match(res.json.detail, /workspace=/);
    const paged = await env.gw.admin("GET", "/approvals?status=pending&limit=5");
    assert.equal(paged.json.code, "workspace_required");
    // A key lists its own workspace without naming it.
    const reviewer = await env.gw.createKey({ name: "reviewer", scopes: ["approvals:read"], workspace: "cap-ws-b" });
    const own = await env.gw.admin("GET", "/approvals", undefined, reviewer.key);
    assert.equal(own.status, 200, own.text);
    assert.ok(own.json.approvals.length >= 1);
    assert.ok(own.json.approvals.every((a) => a.workspace === "cap-ws-b"));
  });
});

describe("retention", () => {
  const RETAIN = "\n[approvals]\nexpire_after_seconds = 2\nretain_decided_seconds = 1\nmax_pending_per_key = 1\nwebhook_retry_seconds = 0\n";
  const env = {};
  before(async () => {
    env.origin = await startOrigin();
    env.hooks = [];
    env.receiver = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        env.hooks.push(req.headers["x-keygate-approval-id"]);
        res.writeHead(200).end("ok");
      });
    });
    await new Promise((resolve) => env.receiver.listen(0, "127.0.0.1", resolve));
    env.gw = await startGateway({ origin: env.origin.url, bindings: { KEYGATE_POLICY: policyText("demo") + RETAIN } });
  });
  after(async () => {
    await env.gw?.dispose();
    await env.origin?.close();
    await new Promise((resolve) => env.receiver?.close(resolve));
  });

  test("approved, rejected (webhook delivered first), failed and expired approvals are purged after retain_decided_seconds; expiry frees the cap", async () => {
    const hook = `http://127.0.0.1:${env.receiver.address().port}/rejected`;
    const make = (name) =>
      env.gw.createKey({ name, scopes: ["contacts:write-approval"], workspace: "purge", rejection_webhook: hook, limits: { per_minute: 100, per_day: 1000 } });
    const [approver, rejecter, revoked, idle] = [await make("approved"), await make("rejected"), await make("failed"), await make("expired")];

    const approved = (await queued(env.gw, approver.key, '{"n":1}')).id;
    const rejected = (await queued(env.gw, rejecter.key, '{"n":2}')).id;
    const failed = (await queued(env.gw, revoked.key, '{"n":3}')).id;
    const expired = (await queued(env.gw, idle.key, '{"n":4}')).id;
    assert.equal((await env.gw.admin("POST", `/approvals/${approved}/approve`)).status, 200);
    assert.equal((await env.gw.admin("POST", `/approvals/${rejected}/reject`, { reason: "no" })).status, 200);
    assert.equal((await env.gw.admin("POST", `/keys/${revoked.id}/revoke`)).status, 200);
    assert.equal((await env.gw.admin("POST", `/approvals/${failed}/approve`)).json.code, "submitter_not_allowed");
    // The idle key's one place is taken until its approval expires...
    await refusedFull(env.gw, idle.key, "{}", "max_pending_per_key", 1);
    // ...and then freed, though the expired approval is still listed until it is purged.
    const again = await poll(() => submit(env.gw, idle.key, "{}"), (res) => res.status === 202, { timeoutMs: 10_000 });
    const againText = await again.text();
    assert.equal(again.status, 202, againText);
    const renewed = JSON.parse(againText).approval_id;
    assert.equal((await env.gw.admin("GET", `/approvals/${expired}`)).json.status, "expired");

    for (const id of [approved, rejected, failed, expired]) {
      const gone = await poll(() => env.gw.admin("GET", `/approvals/${id}`), (res) => res.status === 404);
      assert.equal(gone.status, 404, `${id} purged: ${gone.text}`);
      assert.equal(gone.json.code, "not_found");
    }
    assert.deepEqual(env.hooks, [rejected], "the rejection webhook went out once, before the purge");
    // What is still pending stays (renewed expires and is purged in turn, later).
    const left = await listed(env.gw, "purge");
    assert.ok(left.every((id) => id === renewed), `only the renewed approval can be left: ${left}`);
    assert.equal(env.origin.received.length, 1, "the approved request reached the origin once");
  });
});
