// A literal path segment spelled with escapes of plain characters (`%65xport` for
// `export`), on workerd: Starlette, Django and Flask route on the decoded path, so keygate
// must authorise the route they will dispatch, not the `{id}` route beside it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useGateway } from "./harness.mjs";

const POLICY = `key_prefix = "kg"

[[resources]]
name = "contacts"
kind = "ladder"

[[resources]]
name = "exports"
kind = "read_only"

[[routes]]
method = "GET"
path = "/v1/contacts/export"
resource = "exports"
action = "read"

[[routes]]
method = "GET"
path = "/v1/contacts/{id}"
resource = "contacts"
action = "read"
`;

const env = useGateway({ bindings: { KEYGATE_POLICY: POLICY } });

test("an escaped spelling of a literal segment needs that route's scope, not the {id} route's", async () => {
  const { key } = await env.gw.createKey({ scopes: ["contacts:read"], limits: { per_minute: 100, per_day: 1000 } });
  assert.equal((await env.gw.request("/v1/contacts/7", { key })).status, 200);
  const before = env.origin.received.length;
  for (const path of ["/v1/contacts/export", "/v1/contacts/%65xport", "/v1/contacts/%65%78%70%6F%72%74", "/v1/%63ontacts/expor%74"]) {
    const res = await env.gw.request(path, { key });
    assert.equal(res.status, 403, path);
    assert.equal((await res.json()).required_scope, "exports:read", path);
  }
  assert.equal(env.origin.received.length, before, "the origin saw none of them");
});
