// Plans per workspace, on workerd: what a workspace's plan lets its keys do, set by the
// root token, and how fast a change reaches every key of the workspace.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { poll, useGateway } from "./harness.mjs";

const PLANS = `
default_plan = "free"

[[resources]]
name = "contacts"
kind = "ladder"

[[resources]]
name = "deals"
kind = "read_write"

[[resources]]
name = "api_keys"
kind = "ladder"

[[plans]]
name = "free"
api_access = false

[[plans]]
name = "starter"
resources = ["contacts", "api_keys"]
limits = { per_minute = 10, per_day = 100 }
max_limits = { per_minute = 20, per_day = 200 }

[[plans]]
name = "pro"

[[routes]]
method = "GET"
path = "/v1/contacts"
resource = "contacts"
action = "read"

[[routes]]
method = "POST"
path = "/v1/contacts"
resource = "contacts"
action = "write"

[[routes]]
method = "GET"
path = "/v1/deals"
resource = "deals"
action = "read"
`;

const env = useGateway({ bindings: { KEYGATE_POLICY: PLANS } });

const setPlan = (workspace, plan) => env.gw.admin("PUT", `/workspaces/${workspace}`, { plan });
const create = (body) => env.gw.admin("POST", "/keys", { name: "test key", ...body });
const status = async (path, key) => (await env.gw.request(path, { key })).status;

describe("plans", () => {
  test("a workspace never set is on the default plan: no API access, so no key is made", async () => {
    let res = await create({ workspace: "newco", scopes: ["contacts:read"] });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "plan_required");
    assert.equal(res.json.plan, "free");
    // The first plan (in file order) that has API access.
    assert.equal(res.json.required_plan, "starter");
    // Refused: keygate has heard of no key there.
    res = await env.gw.admin("GET", "/workspaces/newco");
    assert.equal(res.status, 404, res.text);

    res = await setPlan("newco", "starter");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      { id: res.json.id, plan: res.json.plan, source: res.json.plan_source, api: res.json.api_access },
      { id: "newco", plan: "starter", source: "set", api: true },
    );
    assert.equal(res.json.keys_updated, 0);
    assert.equal(res.json.keys_pending, 0);
    assert.match(res.json.plan_set_at, /^\d{4}-\d\d-\d\dT/);
    res = await create({ workspace: "newco", scopes: ["contacts:read"] });
    assert.equal(res.status, 201, res.text);
    assert.equal(await status("/v1/contacts", res.json.key), 200);
  });

  test("a key gets only scopes its plan offers, and its plan's limits", async () => {
    assert.equal((await setPlan("smallco", "starter")).status, 200);
    let res = await create({ workspace: "smallco", scopes: ["contacts:write", "deals:read"] });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "scope_not_in_plan");
    assert.deepEqual([res.json.plan, res.json.scopes], ["starter", ["deals:read"]]);
    assert.match(res.json.detail, /`starter`.*`deals:read`/);

    res = await create({ workspace: "smallco", scopes: ["contacts:read"], limits: { per_minute: 50, per_day: 150 } });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "limit_exceeds_plan");
    assert.deepEqual([res.json.plan, res.json.window, res.json.max], ["starter", "minute", 20]);

    res = await create({ workspace: "smallco", scopes: ["contacts:read"] });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json.limits, { per_minute: 10, per_day: 100, source: "plan" });
    const key = res.json;
    const admitted = await env.gw.request("/v1/contacts", { key: key.key });
    assert.equal(admitted.status, 200);
    assert.match(admitted.headers.get("ratelimit-policy"), /10;w=60/);

    // An edit is held to the plan too.
    res = await env.gw.admin("PATCH", `/keys/${key.id}`, { scopes: ["deals:read"] });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "scope_not_in_plan");
    res = await env.gw.admin("PATCH", `/keys/${key.id}`, { limits: { per_minute: 21 } });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "limit_exceeds_plan");
    res = await env.gw.admin("PATCH", `/keys/${key.id}`, { name: "Renamed" });
    assert.equal(res.status, 200, res.text);
  });

  test("a downgrade refuses the very next request, an upgrade lets it through again", async () => {
    assert.equal((await setPlan("bigco", "pro")).status, 200);
    const keys = [];
    for (let i = 0; i < 12; i++) {
      const res = await create({ workspace: "bigco", scopes: ["contacts:write", "deals:read"] });
      assert.equal(res.status, 201, res.text);
      keys.push(res.json.key);
    }
    for (const key of keys) assert.equal(await status("/v1/deals", key), 200);

    // The change has reached every key when the PUT answers.
    let res = await setPlan("bigco", "starter");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.json.keys_updated, res.json.keys_pending], [12, 0]);
    for (const key of keys) {
      const refused = await env.gw.request("/v1/deals", { key });
      assert.equal(refused.status, 403);
      const body = await refused.json();
      assert.deepEqual([body.code, body.plan, body.scopes], ["scope_not_in_plan", "starter", ["deals:read"]]);
      assert.equal(await status("/v1/contacts", key), 200);
    }

    res = await setPlan("bigco", "free");
    assert.equal(res.json.keys_updated, 12);
    const refused = await env.gw.request("/v1/contacts", { key: keys[0] });
    assert.equal(refused.status, 403);
    const body = await refused.json();
    assert.deepEqual([body.code, body.plan, body.required_plan], ["plan_required", "free", "starter"]);

    assert.equal((await setPlan("bigco", "pro")).status, 200);
    for (const key of keys) assert.equal(await status("/v1/deals", key), 200);
  });

  test("beyond the first 100 keys, the directory's alarm tells the rest", async () => {
    assert.equal((await setPlan("hugeco", "pro")).status, 200);
    const keys = [];
    for (let batch = 0; batch < 13; batch++) {
      const made = await Promise.all(
        Array.from({ length: 10 }, () => create({ workspace: "hugeco", scopes: ["deals:read"] })),
      );
      for (const res of made) {
        assert.equal(res.status, 201, res.text);
        keys.push(res.json.key);
      }
    }
    const res = await setPlan("hugeco", "starter");
    assert.equal(res.status, 200, res.text);
    // One pass of 100 before the answer; the other 30 are still being told.
    assert.deepEqual([res.json.keys_updated, res.json.keys_pending], [100, 30]);
    const refusedAll = async () => {
      const statuses = await Promise.all(keys.map((key) => status("/v1/deals", key)));
      return statuses.filter((s) => s === 403).length;
    };
    const refused = await poll(refusedAll, (n) => n === keys.length, { timeoutMs: 15_000, intervalMs: 250 });
    assert.equal(refused, keys.length, "every key has the new plan once the alarm has run");
  });

  test("a key made while its workspace's plan changes ends on the new plan", async () => {
    assert.equal((await setPlan("racing", "pro")).status, 200);
    // Creates and a downgrade, all in flight at once: however they interleave, no key may
    // keep the old plan once everything has answered.
    const creates = Array.from({ length: 8 }, () => create({ workspace: "racing", scopes: ["deals:read"] }));
    const change = setPlan("racing", "starter");
    const made = await Promise.all(creates);
    assert.equal((await change).status, 200);
    for (const res of made) {
      // Made on pro with `deals:read`, or refused because starter does not offer it.
      if (res.status === 403) {
        assert.equal(res.json.code, "scope_not_in_plan", res.text);
        continue;
      }
      assert.equal(res.status, 201, res.text);
      assert.equal(await status("/v1/deals", res.json.key), 403, "a key kept the old plan");
    }
  });

  test("keys read their own workspace; only the root token lists workspaces or sets a plan", async () => {
    assert.equal((await setPlan("keyco", "pro")).status, 200);
    const manager = (await create({ workspace: "keyco", scopes: ["api_keys:read"] })).json;
    await create({ workspace: "otherco", scopes: ["api_keys:read"] }).catch(() => {});
    const as = (method, path, body) => env.gw.admin(method, path, body, manager.key);
    let res = await as("GET", "/workspaces/keyco");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.plan, "pro");
    for (const path of ["/workspaces/otherco", "/workspaces/nowhere"]) {
      res = await as("GET", path);
      assert.equal(res.status, 404, `${path}: ${res.text}`);
    }
    res = await as("PUT", "/workspaces/keyco", { plan: "pro" });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "root_token_required");
    res = await as("GET", "/workspaces");
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "root_token_required");
  });

  test("a bad plan change is a 400 that changes nothing", async () => {
    assert.equal((await setPlan("strictco", "starter")).status, 200);
    for (const body of [{ plan: "gold" }, {}, { plan: "pro", extra: 1 }, { plan: 7 }, "not json"]) {
      const res = await env.gw.admin("PUT", "/workspaces/strictco", body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.code, "invalid_request");
    }
    const res = await env.gw.admin("GET", "/workspaces/strictco");
    assert.equal(res.json.plan, "starter");
    for (const path of ["/workspaces/a%2Fb", "/workspaces/-x"]) {
      assert.equal((await env.gw.admin("PUT", path, { plan: "pro" })).status, 404, path);
    }
  });

  test("workspaces are listed newest first, a page at a time", async () => {
    for (const name of ["list-a", "list-b", "list-c"]) assert.equal((await setPlan(name, "pro")).status, 200);
    const seen = [];
    let cursor = null;
    for (let page = 0; page < 50; page++) {
      const res = await env.gw.admin("GET", `/workspaces?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      assert.equal(res.status, 200, res.text);
      assert.ok(res.json.workspaces.length <= 2);
      seen.push(...res.json.workspaces.map((w) => w.id));
      cursor = res.json.next_cursor;
      if (!cursor) break;
    }
    assert.equal(new Set(seen).size, seen.length, "no workspace twice");
    const order = ["list-c", "list-b", "list-a"].map((name) => seen.indexOf(name));
    assert.ok(order.every((i) => i >= 0) && order[0] < order[1] && order[1] < order[2], JSON.stringify(seen));
    assert.equal((await env.gw.admin("GET", "/workspaces?status=active")).status, 400);
  });

  test("a workspace's change is not queued behind another workspace's: its keys have it when the PUT answers", async () => {
    // A big workspace's change is still being sent from the alarm (100 keys a pass) when a
    // small workspace is downgraded; the small one's PUT tells its own keys first.
    assert.equal((await setPlan("crowd", "pro")).status, 200);
    for (let made = 0; made < 240; made += 30) {
      const batch = await Promise.all(Array.from({ length: 30 }, () => create({ workspace: "crowd", scopes: ["deals:read"] })));
      for (const res of batch) assert.equal(res.status, 201, res.text);
    }
    assert.equal((await setPlan("tinyco", "pro")).status, 200);
    const small = [];
    for (let i = 0; i < 3; i++) small.push((await create({ workspace: "tinyco", scopes: ["deals:read"] })).json.key);
    for (const key of small) assert.equal(await status("/v1/deals", key), 200);

    const crowd = await setPlan("crowd", "starter");
    assert.equal(crowd.status, 200, crowd.text);
    assert.ok(crowd.json.keys_pending > 100, crowd.text);
    const res = await setPlan("tinyco", "starter");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.json.keys_updated, res.json.keys_pending], [3, 0], res.text);
    for (const key of small) assert.equal(await status("/v1/deals", key), 403, "the downgrade waited behind another workspace's");
  });
});

describe("a policy without plans", () => {
  const plain = useGateway();
  test("has no plan to set, and keys work as before", async () => {
    const res = await plain.gw.admin("PUT", "/workspaces/acme", { plan: "pro" });
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /declares no plans/);
    const key = await plain.gw.createKey({ workspace: "acme", scopes: ["contacts:read"] });
    assert.equal((await plain.gw.request("/v1/contacts", { key: key.key })).status, 200);
    const shown = await plain.gw.admin("GET", "/workspaces/acme");
    assert.equal(shown.status, 200, shown.text);
    assert.deepEqual([shown.json.plan, shown.json.api_access], [null, true]);
  });
});
