// Plans and the approval queue, on workerd: deciding on a workspace's queued requests is
// calling the `approvals` resource, so a plan that does not offer it leaves no key of the
// workspace a reviewer — not one holding `approvals:write` from a bigger plan, nor one
// holding the coarse `admin`, which is allowed on any plan and reaches only what it offers.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { useGateway } from "./harness.mjs";

const POLICY = `
default_plan = "basic"
coarse_scopes = ["admin"]

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

const env = useGateway({ bindings: { KEYGATE_POLICY: POLICY } });

const setPlan = async (workspace, plan) => {
  const res = await env.gw.admin("PUT", `/workspaces/${workspace}`, { plan });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.keys_pending, 0, res.text);
};

/** A request queued by a fresh key of `workspace`; returns the approval's id. */
async function queued(workspace) {
  const submitter = await env.gw.createKey({ workspace, scopes: ["contacts:write-approval"] });
  const res = await env.gw.request("/v1/contacts", { key: submitter.key, method: "POST", body: "{}" });
  const text = await res.text();
  assert.equal(res.status, 202, text);
  return { id: JSON.parse(text).approval_id, submitter };
}

const reachedOrigin = (submitter) => env.origin.received.filter((r) => r.headers["x-keygate-key-id"] === submitter.id);

describe("plans and the approval queue", () => {
  test("a key holding admin on a plan without approvals cannot approve or reject", async () => {
    await setPlan("rv-coarse", "basic");
    const reviewer = await env.gw.createKey({ workspace: "rv-coarse", scopes: ["admin"] });
    const { id, submitter } = await queued("rv-coarse");
    for (const action of ["approve", "reject"]) {
      const res = await env.gw.admin("POST", `/approvals/${id}/${action}`, action === "reject" ? { reason: "no" } : {}, reviewer.key);
      assert.equal(res.status, 403, `${action}: ${res.text}`);
      assert.equal(res.json.code, "scope_not_in_plan", res.text);
    }
    assert.deepEqual(reachedOrigin(submitter), []);
    const listed = await env.gw.admin("GET", "/approvals", undefined, reviewer.key);
    assert.equal(listed.status, 403, listed.text);
    assert.equal(listed.json.code, "scope_not_in_plan", listed.text);
    // The root token is the provider, not the workspace: it still decides.
    assert.equal((await env.gw.admin("GET", `/approvals/${id}`)).json.status, "pending");
  });

  test("a reviewer given approvals:write on a bigger plan loses it with the downgrade, and has it back after an upgrade", async () => {
    await setPlan("rv-down", "pro");
    const reviewer = await env.gw.createKey({ workspace: "rv-down", scopes: ["approvals:write"] });
    const { id, submitter } = await queued("rv-down");
    await setPlan("rv-down", "basic");
    let res = await env.gw.admin("POST", `/approvals/${id}/approve`, {}, reviewer.key);
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "scope_not_in_plan", res.text);
    assert.deepEqual(res.json.scopes, ["approvals:write"]);
    assert.equal(res.json.plan, "basic");
    assert.deepEqual(reachedOrigin(submitter), []);

    await setPlan("rv-down", "pro");
    res = await env.gw.admin("POST", `/approvals/${id}/approve`, {}, reviewer.key);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, "approved");
  });
});
