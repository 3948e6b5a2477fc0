// Portal sessions (issue 12), on workerd: the root token mints a short-lived token for one
// of the provider's members; the admin API takes it for that workspace only, with exactly
// the rights its permissions give; it is revocable (401 from the next request on) and
// expires; the data plane never takes it.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { HASH_SECRET, useGateway } from "./harness.mjs";

const env = useGateway();
const TOKEN = /^kgs_[0-9A-Za-z]{39}$/;

/** Mints a session with the root token; returns the 201 body. */
async function mint(workspace, permissions, extra = {}) {
  const res = await env.gw.admin("POST", "/portal/sessions", {
    workspace,
    member: { id: `user_${workspace}`, name: `Member of ${workspace}` },
    permissions,
    ...extra,
  });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

/** An admin call made with a session token. */
const as = (session, method, path, body) => env.gw.admin(method, path, body, session.token);

/** A write that waits for approval, by `key` (with its secret); returns the approval id. */
async function submit(key) {
  const res = await env.gw.request("/v1/contacts", { key: key.key, method: "POST", body: "{}", headers: { "content-type": "application/json" } });
  const text = await res.text();
  assert.equal(res.status, 202, text);
  return JSON.parse(text).approval_id;
}

describe("minting", () => {
  test("the root token mints a session: 201 with the token shown once and the portal url carrying it in the fragment", async () => {
    const before = Date.now();
    const res = await env.gw.admin("POST", "/portal/sessions", {
      workspace: "mint",
      member: { id: "user_42", name: "Ada Lovelace — admin" },
      permissions: ["keys:manage", "approvals:review"],
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const s = res.json;
    assert.deepEqual(Object.keys(s).sort(), ["created_at", "expires_at", "id", "member", "permissions", "token", "url", "workspace"]);
    assert.match(s.id, /^ses_[0-9A-Za-z]{22}$/);
    assert.match(s.token, TOKEN);
    assert.equal(s.url, `${env.gw.url}/_keygate/portal/#session=${s.token}`);
    assert.equal(s.workspace, "mint");
    assert.deepEqual(s.member, { id: "user_42", name: "Ada Lovelace — admin" });
    assert.deepEqual(s.permissions, ["keys:manage", "approvals:review"]);
    // Default lifetime: an hour.
    const lives = Date.parse(s.expires_at) - Date.parse(s.created_at);
    assert.equal(lives, 3600_000);
    assert.ok(Date.parse(s.created_at) >= before - 1000);
    const short = await mint("mint", ["keys:read"], { ttl_seconds: 60 });
    assert.equal(Date.parse(short.expires_at) - Date.parse(short.created_at), 60_000);
  });

  test("every bad field of the body is a 400 naming it", async () => {
    const good = { workspace: "mint", member: { id: "u", name: "N" }, permissions: ["keys:read"] };
    const cases = [
      [{ ...good, workspace: undefined }, "workspace"],
      [{ ...good, workspace: "no spaces" }, "workspace"],
      [{ ...good, member: undefined }, "member"],
      [{ ...good, member: "Ada" }, "member"],
      [{ ...good, member: { name: "N" } }, "member.id"],
      [{ ...good, member: { id: "", name: "N" } }, "member.id"],
      [{ ...good, member: { id: "x".repeat(129), name: "N" } }, "member.id"],
      [{ ...good, member: { id: "u", name: "a\nb" } }, "member.name"],
      [{ ...good, member: { id: "u", name: "n".repeat(201) } }, "member.name"],
      [{ ...good, member: { id: "u", name: "N", role: "admin" } }, "member.role"],
      [{ ...good, permissions: undefined }, "permissions"],
      [{ ...good, permissions: [] }, "permissions"],
      [{ ...good, permissions: ["keys:write"] }, "permissions"],
      [{ ...good, permissions: ["keys:read", "keys:read"] }, "permissions"],
      [{ ...good, permissions: "keys:read" }, "permissions"],
      [{ ...good, ttl_seconds: 59 }, "ttl_seconds"],
      [{ ...good, ttl_seconds: 43_201 }, "ttl_seconds"],
      [{ ...good, ttl_seconds: 60.5 }, "ttl_seconds"],
      [{ ...good, ttl_seconds: "3600" }, "ttl_seconds"],
      [{ ...good, scopes: ["admin"] }, "scopes"],
    ];
    for (const [body, field] of cases) {
      const res = await env.gw.admin("POST", "/portal/sessions", body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.code, "invalid_request");
      assert.deepEqual(res.json.errors.map((e) => e.field), [field], JSON.stringify(body));
    }
    const res = await env.gw.admin("POST", "/portal/sessions", "not json");
    assert.equal(res.status, 400);
    assert.equal(res.json.errors[0].field, "body");
    // The bounds themselves are accepted.
    await mint("mint", ["keys:read"], { ttl_seconds: 43_200 });
  });

  test("only the root token mints, lists and revokes sessions: a key or a session gets 403 root_token_required", async () => {
    const admin = await env.gw.createKey({ name: "full admin", scopes: ["admin"], workspace: "mint" });
    const session = await mint("mint", ["keys:manage", "approvals:review"]);
    const body = { workspace: "mint", member: { id: "u", name: "N" }, permissions: ["keys:read"] };
    for (const token of [admin.key, session.token]) {
      for (const [method, path, sent] of [
        ["POST", "/portal/sessions", body],
        ["GET", "/portal/sessions?workspace=mint", undefined],
        ["DELETE", `/portal/sessions/${session.id}`, undefined],
      ]) {
        const res = await env.gw.admin(method, path, sent, token);
        assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
        assert.equal(res.json.code, "root_token_required");
      }
    }
    // Nothing was minted or revoked by them.
    assert.equal((await as(session, "GET", "/portal/sessions/current")).status, 200);
    // The root token has no current session.
    assert.equal((await env.gw.admin("GET", "/portal/sessions/current")).status, 404);
    assert.equal((await env.gw.admin("DELETE", "/portal/sessions/current", undefined, admin.key)).status, 404);
  });
});

describe("a session's reach and rights", () => {
  test("it reaches its own workspace only, live and test keys alike: another workspace's key is a 404 like a missing one", async () => {
    const mine = await env.gw.createKey({ name: "mine", scopes: ["contacts:read"], workspace: "reach" });
    const mineTest = await env.gw.createKey({ name: "mine, test", scopes: ["contacts:read"], workspace: "reach", environment: "test" });
    const theirs = await env.gw.createKey({ name: "theirs", scopes: ["contacts:read"], workspace: "reach-other" });
    const reader = await mint("reach", ["keys:read"]);

    assert.equal((await as(reader, "GET", `/keys/${mine.id}`)).status, 200);
    const shown = await as(reader, "GET", `/keys/${mineTest.id}`);
    assert.equal(shown.status, 200);
    assert.ok(shown.json.usage, "a get shows usage");
    const elsewhere = await as(reader, "GET", `/keys/${theirs.id}`);
    const missing = await as(reader, "GET", `/keys/key_0123456789ABCDEFGHIJab`);
    assert.equal(elsewhere.status, 404);
    assert.equal(elsewhere.json.code, missing.json.code);
    assert.equal(elsewhere.json.detail, missing.json.detail);

    const listed = await as(reader, "GET", "/keys");
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json.keys.map((k) => k.id).sort(), [mine.id, mineTest.id].sort());
    const other = await as(reader, "GET", "/keys?workspace=reach-other");
    assert.equal(other.status, 403);
    assert.equal(other.json.code, "workspace_forbidden");
    assert.equal((await as(reader, "GET", "/policy")).status, 200);
  });

  test("each permission gives its routes, and a missing one is 403 permission_required naming it", async () => {
    const key = await env.gw.createKey({ name: "target", scopes: ["contacts:read"], workspace: "rights" });
    const reader = await mint("rights", ["keys:read"]);
    const reviewer = await mint("rights", ["approvals:review"]);
    const create = { name: "by a reader", scopes: ["contacts:read"] };
    for (const [method, path, body] of [
      ["POST", "/keys", create],
      ["PATCH", `/keys/${key.id}`, { name: "renamed" }],
      ["POST", `/keys/${key.id}/revoke`, undefined],
      ["POST", `/keys/${key.id}/activate`, undefined],
      ["POST", `/keys/${key.id}/rotate`, {}],
      ["POST", `/keys/${key.id}/webhook-secret/rotate`, {}],
      ["DELETE", `/keys/${key.id}`, undefined],
    ]) {
      const res = await as(reader, method, path, body);
      assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
      assert.equal(res.json.code, "permission_required");
      assert.equal(res.json.permission, "keys:manage");
    }
    for (const [method, path] of [["GET", "/keys"], ["GET", `/keys/${key.id}`], ["GET", "/policy"]]) {
      const res = await as(reviewer, method, path);
      assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
      assert.equal(res.json.permission, "keys:read");
    }
    const approvals = await as(reader, "GET", "/approvals");
    assert.equal(approvals.status, 403);
    assert.equal(approvals.json.code, "permission_required");
    assert.equal(approvals.json.permission, "approvals:review");
    // The key is untouched.
    const now = await env.gw.admin("GET", `/keys/${key.id}`);
    assert.equal(now.json.name, "target");
    assert.equal(now.json.status, "active");
  });

  test("keys:manage creates a key with any scope of the policy, recorded as made by the member, and manages every key of its workspace", async () => {
    const manager = await mint("manage", ["keys:manage"]);
    // A key holding api_keys:write could never hand out contacts:delete or api_keys:delete.
    const res = await as(manager, "POST", "/keys", { name: "Made by Ada", scopes: ["contacts:delete", "api_keys:delete"] });
    assert.equal(res.status, 201, res.text);
    const made = res.json;
    assert.equal(made.workspace, "manage");
    assert.deepEqual(made.created_by, { type: "member", id: "user_manage", name: "Member of manage" });
    assert.equal(made.limits.source, "policy");
    assert.equal((await env.gw.request("/v1/contacts", { key: made.key })).status, 200);
    // Another workspace is the same 403 a key gets.
    const elsewhere = await as(manager, "POST", "/keys", { name: "x", scopes: ["contacts:read"], workspace: "manage-other" });
    assert.equal(elsewhere.status, 403);
    assert.equal(elsewhere.json.code, "workspace_forbidden");

    // A key made by another key of the workspace: the member edits and rotates it anyway.
    const keyAdmin = await env.gw.createKey({ name: "key admin", scopes: ["api_keys:delete", "contacts:read"], workspace: "manage", limits: { per_minute: 60, per_day: 1000 } });
    const byKey = await env.gw.admin("POST", "/keys", { name: "by a key", scopes: ["contacts:read"], limits: { per_minute: 10, per_day: 100 } }, keyAdmin.key);
    assert.equal(byKey.status, 201, byKey.text);
    const edited = await as(manager, "PATCH", `/keys/${byKey.json.id}`, { name: "renamed by Ada" });
    assert.equal(edited.status, 200, edited.text);
    assert.equal(edited.json.name, "renamed by Ada");
    const rotated = await as(manager, "POST", `/keys/${byKey.json.id}/rotate`, { grace_seconds: 0 });
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal((await env.gw.request("/v1/contacts", { key: rotated.json.key })).status, 200);
    const rootMade = await env.gw.createKey({ name: "root made", scopes: ["contacts:read"], workspace: "manage" });
    assert.equal((await as(manager, "PATCH", `/keys/${rootMade.id}`, { name: "also renamed" })).status, 200);

    // Revoke, re-activate, delete.
    const revoked = await as(manager, "POST", `/keys/${made.id}/revoke`);
    assert.deepEqual(revoked.json.revoked_by, { type: "member", id: "user_manage", name: "Member of manage" });
    assert.equal((await env.gw.request("/v1/contacts", { key: made.key })).status, 401);
    assert.equal((await as(manager, "POST", `/keys/${made.id}/activate`)).status, 200);
    assert.equal((await env.gw.request("/v1/contacts", { key: made.key })).status, 200);
    assert.equal((await as(manager, "DELETE", `/keys/${made.id}`)).status, 204);
    assert.equal((await env.gw.admin("GET", `/keys/${made.id}`)).status, 404);
  });

  test("a member re-activates a key a key or a member revoked, never one the root token revoked", async () => {
    const manager = await mint("undo", ["keys:manage"]);
    const keyAdmin = await env.gw.createKey({ name: "key admin", scopes: ["api_keys:delete", "contacts:read"], workspace: "undo" });
    const a = await env.gw.createKey({ name: "a", scopes: ["contacts:read"], workspace: "undo" });
    const b = await env.gw.createKey({ name: "b", scopes: ["contacts:read"], workspace: "undo" });
    assert.equal((await env.gw.admin("POST", `/keys/${a.id}/revoke`)).status, 200);
    const denied = await as(manager, "POST", `/keys/${a.id}/activate`);
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.json.code, "reactivation_not_allowed");
    assert.equal((await env.gw.admin("POST", `/keys/${b.id}/revoke`, undefined, keyAdmin.key)).status, 200);
    assert.equal((await as(manager, "POST", `/keys/${b.id}/activate`)).status, 200);
  });
});

describe("approvals reviewed by a member", () => {
  test("approvals:review lists, shows and decides its workspace's approvals, recorded as decided by the member; without it, 403", async () => {
    const agent = await env.gw.createKey({ name: "agent", scopes: ["contacts:write-approval"], workspace: "review" });
    const testAgent = await env.gw.createKey({ name: "test agent", scopes: ["contacts:write-approval"], workspace: "review", environment: "test" });
    const outsider = await env.gw.createKey({ name: "outsider", scopes: ["contacts:write-approval"], workspace: "review-other" });
    const first = await submit(agent);
    const second = await submit(testAgent);
    const theirs = await submit(outsider);
    const reviewer = await mint("review", ["approvals:review"]);

    const listed = await as(reviewer, "GET", "/approvals");
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.json.approvals.map((a) => a.id).sort(), [first, second].sort());
    assert.equal((await as(reviewer, "GET", `/approvals/${first}`)).status, 200);
    const notThere = await as(reviewer, "GET", `/approvals/${theirs}`);
    assert.equal(notThere.status, 404);
    assert.equal((await as(reviewer, "POST", `/approvals/${theirs}/approve`, {})).status, 404);

    const approved = await as(reviewer, "POST", `/approvals/${first}/approve`, {});
    assert.equal(approved.status, 200, approved.text);
    assert.deepEqual(approved.json.decided_by, { type: "member", id: "user_review", name: "Member of review" });
    const sent = env.origin.received.filter((r) => r.headers["x-keygate-approval-id"] === first);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].headers["x-keygate-approved-by"], "member:user_review");
    const rejected = await as(reviewer, "POST", `/approvals/${second}/reject`, { reason: "not now" });
    assert.equal(rejected.status, 200, rejected.text);
    assert.deepEqual(rejected.json.decided_by, { type: "member", id: "user_review", name: "Member of review" });

    const keysOnly = await mint("review", ["keys:manage"]);
    for (const [method, path, body] of [
      ["GET", "/approvals", undefined],
      ["GET", `/approvals/${first}`, undefined],
      ["POST", `/approvals/${theirs}/approve`, {}],
      ["POST", `/approvals/${theirs}/reject`, { reason: "x" }],
    ]) {
      const res = await as(keysOnly, method, path, body);
      assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
      assert.equal(res.json.permission, "approvals:review");
    }
  });
});

describe("ending a session", () => {
  test("DELETE /portal/sessions/current: 204, then the token is a 401 at once", async () => {
    const session = await mint("end", ["keys:read"]);
    const current = await as(session, "GET", "/portal/sessions/current");
    assert.equal(current.status, 200, current.text);
    const { token, url, ...shown } = session;
    assert.ok(token && url);
    assert.deepEqual(current.json, shown, "the session, never its token");
    assert.equal((await as(session, "GET", "/keys")).status, 200);
    const ended = await as(session, "DELETE", "/portal/sessions/current");
    assert.equal(ended.status, 204);
    for (const path of ["/keys", "/portal/sessions/current", "/policy"]) {
      const res = await as(session, "GET", path);
      assert.equal(res.status, 401, path);
      assert.equal(res.json.code, "invalid_admin_token");
    }
  });

  test("the root token lists a workspace's live sessions newest first, paginated, and revokes one by id", async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await mint("listing", ["keys:read"]));
    await mint("listing-other", ["keys:read"]);
    const page = await env.gw.admin("GET", "/portal/sessions?workspace=listing&limit=2");
    assert.equal(page.status, 200, page.text);
    assert.equal(page.json.sessions.length, 2);
    assert.ok(page.json.next_cursor);
    const rest = await env.gw.admin("GET", `/portal/sessions?workspace=listing&limit=2&cursor=${page.json.next_cursor}`);
    assert.equal(rest.json.next_cursor, null);
    const ids = [...page.json.sessions, ...rest.json.sessions].map((s) => s.id);
    assert.deepEqual(ids.sort(), made.map((s) => s.id).sort());
    for (const s of [...page.json.sessions, ...rest.json.sessions]) {
      assert.equal(s.token, undefined);
      assert.ok(!JSON.stringify(s).includes("kgs_"));
    }
    const missing = await env.gw.admin("GET", "/portal/sessions");
    assert.equal(missing.status, 400);
    assert.equal(missing.json.errors[0].field, "workspace");
    assert.equal((await env.gw.admin("GET", "/portal/sessions?workspace=listing&status=active")).status, 400);

    const [victim] = made;
    assert.equal((await env.gw.admin("DELETE", `/portal/sessions/${victim.id}`)).status, 204);
    assert.equal((await as(victim, "GET", "/keys")).status, 401);
    assert.equal((await as(made[1], "GET", "/keys")).status, 200, "the others still work");
    assert.equal((await env.gw.admin("DELETE", `/portal/sessions/${victim.id}`)).status, 404);
    assert.equal((await env.gw.admin("DELETE", "/portal/sessions/ses_0123456789ABCDEFGHIJab")).status, 404);
    const after = await env.gw.admin("GET", "/portal/sessions?workspace=listing");
    assert.ok(!after.json.sessions.some((s) => s.id === victim.id));
  });

  test("an expired session is a 401: a row stored past its expiry does not authenticate", async () => {
    // Sessions live at least 60 s; so the directory is given rows directly, as the Worker
    // writes them (the token's labelled HMAC names the row), one live and one expired.
    const namespace = await env.gw.mf.getDurableObjectNamespace("KEY_DIRECTORY");
    const directory = namespace.get(namespace.idFromName("keys"));
    const now = Date.now();
    const store = async (token, id, expiresAt) => {
      const indexName = "s1:" + createHmac("sha256", HASH_SECRET).update("keygate portal session v1\0" + token).digest("hex");
      const command = {
        op: "mint_session",
        index_name: indexName,
        session: { id, workspace: "expiry", member: { id: "u", name: "N" }, permissions: ["keys:read"], created_at: now - 120_000, expires_at: expiresAt },
        now_ms: now - 120_000,
      };
      const res = await directory.fetch("http://directory/", { method: "POST", body: JSON.stringify(command) });
      assert.equal(res.status, 200, await res.text());
    };
    // Tokens of the right shape: minted ones, whose own rows are revoked first.
    const live = await mint("expiry", ["keys:read"]);
    const expired = await mint("expiry", ["keys:read"]);
    for (const s of [live, expired]) assert.equal((await env.gw.admin("DELETE", `/portal/sessions/${s.id}`)).status, 204);
    await store(live.token, "ses_LiveLiveLiveLiveLive00", now + 600_000);
    await store(expired.token, "ses_GoneGoneGoneGoneGone00", now - 1);
    assert.equal((await as(live, "GET", "/keys")).status, 200);
    const res = await as(expired, "GET", "/keys");
    assert.equal(res.status, 401);
    assert.equal(res.json.code, "invalid_admin_token");
    const listed = await env.gw.admin("GET", "/portal/sessions?workspace=expiry");
    assert.deepEqual(listed.json.sessions.map((s) => s.id), ["ses_LiveLiveLiveLiveLive00"]);
  });
});

describe("where a session token is not accepted", () => {
  test("the data plane refuses a session token (401), even one whose session is live", async () => {
    const session = await mint("plane", ["keys:manage"]);
    const res = await env.gw.request("/v1/contacts", { key: session.token });
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.code, "key_malformed");
    assert.ok(!env.origin.received.some((r) => JSON.stringify(r.headers).includes(session.token)));
  });

  test("a session token anywhere but Authorization on the data plane is a 400 key_in_request, never forwarded", async () => {
    const session = await mint("plane", ["keys:read"]);
    const key = await env.gw.createKey({ name: "reader", scopes: ["contacts:read"], workspace: "plane" });
    const before = env.origin.received.length;
    for (const [path, headers] of [
      [`/v1/contacts?session=${session.token}`, {}],
      [`/v1/contacts?session=${session.token.replace("_", "%5F")}`, {}],
      ["/v1/contacts", { "x-portal-session": session.token }],
    ]) {
      const res = await env.gw.request(path, { key: key.key, headers });
      assert.equal(res.status, 400, path);
      assert.equal((await res.json()).code, "key_in_request", path);
    }
    assert.equal(env.origin.received.length, before);
  });

  test("a malformed or made-up session token is 401 invalid_admin_token", async () => {
    const session = await mint("plane", ["keys:read"]);
    const typo = session.token.slice(0, -1) + (session.token.endsWith("a") ? "b" : "a");
    for (const token of [typo, "kgs_", `kgs_${"A".repeat(39)}`]) {
      const res = await env.gw.admin("GET", "/keys", undefined, token);
      assert.equal(res.status, 401, token);
      assert.equal(res.json.code, "invalid_admin_token");
    }
  });
});

describe("a member and its workspace's plan (seed 000: API access requires the Pro plan)", () => {
  const seed = useGateway({ policy: "seed-000-ladders" });
  test("a member's create in a Free workspace is refused like the root token's; upgraded by the provider, it works; the member sees its own workspace only", async () => {
    const gw = seed.gw;
    const res = await gw.admin("POST", "/portal/sessions", {
      workspace: "acme",
      member: { id: "user_1", name: "Ada" },
      permissions: ["keys:manage"],
    });
    assert.equal(res.status, 201, res.text);
    const ada = res.json;
    const create = () => gw.admin("POST", "/keys", { name: "Zapier", scopes: ["contacts:read"] }, ada.token);
    let made = await create();
    assert.equal(made.status, 403, made.text);
    assert.deepEqual([made.json.code, made.json.plan, made.json.required_plan], ["plan_required", "free", "pro"]);

    // The plan is the provider's to set: not the member's.
    const upgrade = await gw.admin("PUT", "/workspaces/acme", { plan: "pro" }, ada.token);
    assert.equal(upgrade.status, 403, upgrade.text);
    assert.equal(upgrade.json.code, "root_token_required");
    assert.equal((await gw.admin("GET", "/workspaces", undefined, ada.token)).json.code, "root_token_required");
    assert.equal((await gw.admin("PUT", "/workspaces/acme", { plan: "pro" })).status, 200);

    made = await create();
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.workspace, "acme");
    assert.equal((await gw.request("/v1/contacts", { key: made.json.key })).status, 200);
    const own = await gw.admin("GET", "/workspaces/acme", undefined, ada.token);
    assert.equal(own.status, 200, own.text);
    assert.equal(own.json.plan, "pro");
    assert.equal((await gw.admin("PUT", "/workspaces/globex", { plan: "pro" })).status, 200);
    assert.equal((await gw.admin("GET", "/workspaces/globex", undefined, ada.token)).status, 404);
  });
});

describe("a member's review and its workspace's plan", () => {
  const POLICY = `
default_plan = "basic"
[[resources]]
name = "contacts"
kind = "ladder"
[[resources]]
name = "approvals"
kind = "read_write"
[[resources]]
name = "api_keys"
kind = "ladder"
[[plans]]
name = "basic"
resources = ["contacts", "api_keys"]
[[plans]]
name = "pro"
[[routes]]
method = "POST"
path = "/v1/contacts"
resource = "contacts"
action = "write"
`;
  const plans = useGateway({ bindings: { KEYGATE_POLICY: POLICY } });
  test("on a plan without the approval queue a member with approvals:review lists and decides nothing (403 scope_not_in_plan); on one with it, it does", async () => {
    const gw = plans.gw;
    const agent = await gw.createKey({ name: "agent", workspace: "rv-member", scopes: ["contacts:write-approval"] });
    const res = await gw.request("/v1/contacts", { key: agent.key, method: "POST", body: "{}" });
    const text = await res.text();
    assert.equal(res.status, 202, text);
    const id = JSON.parse(text).approval_id;
    const minted = await gw.admin("POST", "/portal/sessions", { workspace: "rv-member", member: { id: "u", name: "Reviewer" }, permissions: ["approvals:review"] });
    assert.equal(minted.status, 201, minted.text);
    const token = minted.json.token;
    for (const [method, path, body] of [
      ["GET", "/approvals", undefined],
      ["POST", `/approvals/${id}/approve`, {}],
      ["POST", `/approvals/${id}/reject`, { reason: "no" }],
    ]) {
      const refused = await gw.admin(method, path, body, token);
      assert.equal(refused.status, 403, `${method} ${path}: ${refused.text}`);
      assert.equal(refused.json.code, "scope_not_in_plan", refused.text);
    }
    assert.equal((await gw.admin("PUT", "/workspaces/rv-member", { plan: "pro" })).status, 200);
    const approved = await gw.admin("POST", `/approvals/${id}/approve`, {}, token);
    assert.equal(approved.status, 200, approved.text);
    assert.equal(approved.json.decided_by.type, "member");
  });
});
