// Rejection webhooks per receiver (issue #9) on workerd: each key's webhook is signed with
// its own secret, shown once when the webhook is set, rotatable with an overlap; a webhook
// may not point at private, link-local or metadata addresses; key objects never show the
// webhook's query. Real receivers on 127.0.0.1 check what arrives with the shipped verifier.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { useGateway, policyText, SIGNING_SECRET, WEBHOOK_SECRET } from "./harness.mjs";
import { verifyWebhook } from "@keygate/verify";

const env = useGateway({ bindings: { KEYGATE_POLICY: policyText("demo") + "\n[approvals]\nwebhook_retry_seconds = 3\n" } });
const WHSEC = /^whsec_[0-9A-Za-z]{43}$/;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A receiver on 127.0.0.1 that records every request with its raw body and answers `status`. */
async function startReceiver(status = 200) {
  const received = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ url: req.url, headers: req.headers, rawBody: Buffer.concat(chunks) });
      res.writeHead(status).end(status < 300 ? "ok" : "failing on purpose");
    });
  });
  const sockets = new Set();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/hooks/rejected`;
  const close = () =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(resolve);
    });
  return { received, url, close };
}

/** Queues a write from `key`, rejects it, and waits for its delivery at `receiver`. */
async function rejectAndReceive(key, receiver) {
  const res = await env.gw.request("/v1/contacts", { key: key.key, method: "POST", body: "{}", headers: { "content-type": "application/json" } });
  const { approval_id: id } = await res.json();
  assert.equal(res.status, 202);
  const rejected = await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "no" });
  assert.equal(rejected.status, 200, rejected.text);
  // The approval as reviewers see it never holds the secret.
  assert.ok(!rejected.text.includes(key.rejection_webhook_secret));
  const deadline = Date.now() + 10_000;
  let delivery;
  while (!(delivery = receiver.received.find((d) => d.headers["x-keygate-approval-id"] === id)) && Date.now() < deadline) {
    await sleep(100);
  }
  assert.ok(delivery, `the webhook for ${id} arrived`);
  return delivery;
}

const verifies = (delivery, secret) => verifyWebhook({ headers: delivery.headers, body: delivery.rawBody }, secret).ok;

describe("each receiver has its own secret", () => {
  let alpha;
  let beta;
  before(async () => {
    alpha = await startReceiver();
    beta = await startReceiver();
  });
  after(async () => {
    await alpha?.close();
    await beta?.close();
  });

  test("a webhook verifies with its key's own secret, not another key's nor the deployment's", async () => {
    const a = await env.gw.createKey({ name: "Tenant A", scopes: ["contacts:write-approval"], workspace: "wh-a", rejection_webhook: alpha.url });
    const b = await env.gw.createKey({ name: "Tenant B", scopes: ["contacts:write-approval"], workspace: "wh-b", rejection_webhook: beta.url });
    assert.match(a.rejection_webhook_secret ?? "", WHSEC);
    assert.match(b.rejection_webhook_secret ?? "", WHSEC);
    assert.notEqual(a.rejection_webhook_secret, b.rejection_webhook_secret);
    const delivery = await rejectAndReceive(a, alpha);
    assert.match(delivery.headers["x-keygate-signature"], /^v1=[A-Za-z0-9_-]{43}$/, "one signature, base64url without padding");
    assert.ok(verifies(delivery, a.rejection_webhook_secret), "verifies with the key's own secret");
    for (const other of [b.rejection_webhook_secret, WEBHOOK_SECRET, SIGNING_SECRET]) {
      assert.ok(!verifies(delivery, other), "no other secret verifies it");
    }
    // Tenant B's receiver cannot be handed A's notice either: B's own verifies only B's.
    const forB = await rejectAndReceive(b, beta);
    assert.ok(verifies(forB, b.rejection_webhook_secret));
    assert.ok(!verifies(forB, a.rejection_webhook_secret));
  });

  test("the secret is shown once: in the create or PATCH answer that set the webhook, never after", async () => {
    const create = await env.gw.admin("POST", "/keys", { name: "Shown once", scopes: ["contacts:write-approval"], workspace: "wh-once", rejection_webhook: alpha.url });
    assert.equal(create.status, 201, create.text);
    assert.equal(create.headers.get("cache-control"), "no-store");
    const first = create.json.rejection_webhook_secret;
    assert.match(first, WHSEC);
    const id = create.json.id;
    const later = [
      await env.gw.admin("GET", `/keys/${id}`),
      await env.gw.admin("GET", "/keys?workspace=wh-once"),
      await env.gw.admin("PATCH", `/keys/${id}`, { name: "Renamed" }),
      await env.gw.admin("PATCH", `/keys/${id}`, { rejection_webhook: alpha.url }),
      await env.gw.admin("POST", `/keys/${id}/revoke`),
      await env.gw.admin("POST", `/keys/${id}/activate`),
    ];
    for (const res of later) {
      assert.equal(res.status, 200, res.text);
      assert.ok(!res.text.includes(first), res.text);
      assert.ok(!res.text.includes("rejection_webhook_secret"), res.text);
    }
    // A PATCH to another URL is a new receiver: a new secret, shown in that answer.
    const moved = await env.gw.admin("PATCH", `/keys/${id}`, { rejection_webhook: beta.url });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.headers.get("cache-control"), "no-store");
    const second = moved.json.rejection_webhook_secret;
    assert.match(second, WHSEC);
    assert.notEqual(second, first);
    // Deliveries now go to the new receiver, signed with its secret only.
    const fresh = await env.gw.createKey({ name: "Sender", scopes: ["contacts:write-approval"], workspace: "wh-once2", rejection_webhook: beta.url });
    const delivery = await rejectAndReceive(fresh, beta);
    assert.ok(verifies(delivery, fresh.rejection_webhook_secret));
    assert.ok(!verifies(delivery, second), "another key on the same URL has its own secret");
    // A key without a webhook gets no secret.
    const quiet = await env.gw.createKey({ name: "Quiet", scopes: ["contacts:read"] });
    assert.equal(quiet.rejection_webhook_secret, undefined);
  });

  test("a PATCH to a new URL retires the old secret at once", async () => {
    const key = await env.gw.createKey({ name: "Mover", scopes: ["contacts:write-approval"], workspace: "wh-move", rejection_webhook: alpha.url });
    const moved = await env.gw.admin("PATCH", `/keys/${key.id}`, { rejection_webhook: beta.url });
    const delivery = await rejectAndReceive({ ...key, rejection_webhook_secret: moved.json.rejection_webhook_secret }, beta);
    assert.ok(verifies(delivery, moved.json.rejection_webhook_secret));
    assert.ok(!verifies(delivery, key.rejection_webhook_secret), "the old receiver's secret signs nothing for the new one");
  });
});

describe("a receiver the key dropped", () => {
  test("a delivery still owed to a URL the key no longer has is not sent: failed, receiver_removed", async () => {
    const failing = await startReceiver(503);
    const next = await startReceiver();
    try {
      const key = await env.gw.createKey({ name: "Dropping", scopes: ["contacts:write-approval"], workspace: "wh-drop", rejection_webhook: failing.url });
      const res = await env.gw.request("/v1/contacts", { key: key.key, method: "POST", body: "{}", headers: { "content-type": "application/json" } });
      const { approval_id: id } = await res.json();
      assert.equal((await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "no" })).status, 200);
      const deadline = Date.now() + 10_000;
      while (failing.received.length === 0 && Date.now() < deadline) await sleep(100);
      assert.equal(failing.received.length, 1, "the first attempt reached the first receiver");
      const shown = (await env.gw.admin("GET", `/approvals/${id}`)).json.webhook;
      assert.equal(shown.last_error, "receiver_error", "coarse: not 503");
      // The owner moves the webhook before the retry: the retry goes nowhere.
      assert.equal((await env.gw.admin("PATCH", `/keys/${key.id}`, { rejection_webhook: next.url })).status, 200);
      let webhook;
      while (Date.now() < deadline + 5_000) {
        webhook = (await env.gw.admin("GET", `/approvals/${id}`)).json.webhook;
        if (webhook.status !== "pending") break;
        await sleep(150);
      }
      assert.equal(webhook.status, "failed", JSON.stringify(webhook));
      assert.equal(webhook.last_error, "receiver_removed");
      assert.equal(failing.received.length, 1, "no retry to the dropped receiver");
      assert.equal(next.received.length, 0, "nor a notice meant for the old one at the new one");
    } finally {
      await failing.close();
      await next.close();
    }
  });
});

describe("rotating a webhook secret", () => {
  let receiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver?.close();
  });

  test("during the grace deliveries carry two signatures, the new one first; then only the new", async () => {
    const key = await env.gw.createKey({ name: "Rotating", scopes: ["contacts:write-approval"], workspace: "wh-rot", rejection_webhook: receiver.url });
    const old = key.rejection_webhook_secret;
    const before = Date.now();
    const rotated = await env.gw.admin("POST", `/keys/${key.id}/webhook-secret/rotate`, { grace_seconds: 3600 });
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal(rotated.headers.get("cache-control"), "no-store");
    const fresh = rotated.json.rejection_webhook_secret;
    assert.match(fresh, WHSEC);
    assert.notEqual(fresh, old);
    assert.equal(rotated.json.id, key.id);
    const until = Date.parse(rotated.json.previous_webhook_secret_valid_until);
    assert.ok(Math.abs(until - (before + 3_600_000)) < 60_000, rotated.json.previous_webhook_secret_valid_until);
    assert.equal(rotated.json.key, undefined, "the key's own secret is not rotated");
    assert.ok(!(await env.gw.admin("GET", `/keys/${key.id}`)).text.includes(fresh));

    const both = await rejectAndReceive(key, receiver);
    assert.match(both.headers["x-keygate-signature"], /^v1=[A-Za-z0-9_-]{43}, v1=[A-Za-z0-9_-]{43}$/);
    assert.ok(verifies(both, fresh), "a receiver that switched verifies");
    assert.ok(verifies(both, old), "a receiver that has not switched yet verifies");
    assert.ok(!verifies(both, WEBHOOK_SECRET));

    // No grace: the previous secret stops at once.
    const again = await env.gw.admin("POST", `/keys/${key.id}/webhook-secret/rotate`, { grace_seconds: 0 });
    assert.equal(again.status, 200, again.text);
    const newest = again.json.rejection_webhook_secret;
    const one = await rejectAndReceive(key, receiver);
    assert.match(one.headers["x-keygate-signature"], /^v1=[A-Za-z0-9_-]{43}$/);
    assert.ok(verifies(one, newest));
    assert.ok(!verifies(one, fresh) && !verifies(one, old));
  });

  test("a key without a webhook has nothing to rotate; bad bodies and strangers are refused", async () => {
    const quiet = await env.gw.createKey({ name: "No hook", scopes: ["contacts:read"] });
    const res = await env.gw.admin("POST", `/keys/${quiet.id}/webhook-secret/rotate`);
    assert.equal(res.status, 409, res.text);
    assert.equal(res.json.code, "no_rejection_webhook");
    const hooked = await env.gw.createKey({ name: "Hooked", scopes: ["contacts:read"], workspace: "wh-rot2", rejection_webhook: receiver.url });
    const bad = await env.gw.admin("POST", `/keys/${hooked.id}/webhook-secret/rotate`, { grace_seconds: -1 });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.errors[0].field, "grace_seconds");
    // A key of another workspace may not rotate it (and learns nothing of it).
    const stranger = await env.gw.createKey({ name: "Other", scopes: ["api_keys:write", "contacts:read"], workspace: "wh-elsewhere" });
    const theirs = await env.gw.admin("POST", `/keys/${hooked.id}/webhook-secret/rotate`, undefined, stranger.key);
    assert.equal(theirs.status, 404, theirs.text);
  });
});

describe("where a webhook may point", () => {
  test("private, shared, link-local and metadata addresses, in any spelling, are 400 on the field", async () => {
    const key = await env.gw.createKey({ name: "Target", scopes: ["contacts:read"] });
    for (const url of [
      "https://169.254.169.254/latest/meta-data/",
      "https://10.0.0.1/hook",
      "https://172.16.5.4/hook",
      "https://192.168.1.10/hook",
      "https://100.64.0.1/hook",
      "https://0.0.0.0/hook",
      "https://[fc00::1]/hook",
      "https://[fe80::1]/hook",
      "https://[::ffff:169.254.169.254]/hook",
      "https://2852039166/hook",
      "https://0xa9.0xfe.0xa9.0xfe/hook",
      "https://10.1/hook",
    ]) {
      const create = await env.gw.admin("POST", "/keys", { name: "Bad hook", scopes: ["contacts:read"], rejection_webhook: url });
      assert.equal(create.status, 400, `${url}: ${create.text}`);
      assert.equal(create.json.code, "invalid_request");
      assert.deepEqual(create.json.errors.map((e) => e.field), ["rejection_webhook"], url);
      const edit = await env.gw.admin("PATCH", `/keys/${key.id}`, { rejection_webhook: url });
      assert.equal(edit.status, 400, `${url}: ${edit.text}`);
      assert.deepEqual(edit.json.errors.map((e) => e.field), ["rejection_webhook"], url);
    }
    // A host name is accepted whatever it may resolve to; loopback only in local dev (here).
    for (const url of ["https://hooks.example.com/r", "http://127.0.0.1:9/r", "http://0x7f.1:9/r"]) {
      const ok = await env.gw.admin("PATCH", `/keys/${key.id}`, { rejection_webhook: url });
      assert.equal(ok.status, 200, `${url}: ${ok.text}`);
    }
  });

  test("key objects never show a webhook's query; the delivery still goes to the full URL", async () => {
    const receiver = await startReceiver();
    try {
      const url = `${receiver.url}?token=hook-t0ken-s3cret&v=2`;
      const create = await env.gw.admin("POST", "/keys", { name: "Tokened", scopes: ["contacts:write-approval"], workspace: "wh-query", rejection_webhook: url });
      assert.equal(create.status, 201, create.text);
      assert.equal(create.json.rejection_webhook, `${receiver.url}?…`);
      const id = create.json.id;
      const shown = [
        create,
        await env.gw.admin("GET", `/keys/${id}`),
        await env.gw.admin("GET", "/keys?workspace=wh-query"),
        await env.gw.admin("PATCH", `/keys/${id}`, { name: "Tokened 2" }),
        await env.gw.admin("POST", `/keys/${id}/webhook-secret/rotate`, { grace_seconds: 0 }),
      ];
      for (const res of shown) {
        assert.ok(res.status < 300, res.text);
        assert.ok(!res.text.includes("t0ken"), res.text);
      }
      assert.equal(shown[2].json.keys[0].rejection_webhook, `${receiver.url}?…`);
      const secret = shown[4].json.rejection_webhook_secret;
      const delivery = await rejectAndReceive({ key: create.json.key, rejection_webhook_secret: secret }, receiver);
      assert.equal(delivery.url, "/hooks/rejected?token=hook-t0ken-s3cret&v=2");
      assert.ok(verifies(delivery, secret));
    } finally {
      await receiver.close();
    }
  });
});
