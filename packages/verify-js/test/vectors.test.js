// Every case of the shared vectors (tests/vectors/ at the repository's root), which keygate's
// Rust verifier also passes: the same verdict, the same identity, the same error code.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { verifyRequest, verifyWebhook } from "@keygate/verify";

const vectors = (name) => JSON.parse(readFileSync(new URL(`../../../tests/vectors/${name}`, import.meta.url), "utf8"));
const IDENTITY = vectors("identity-v3.json");
const WEBHOOK = vectors("webhook-v1.json");

describe("identity-v3.json", () => {
  for (const vector of IDENTITY.cases) {
    test(vector.name, () => {
      const r = vector.request;
      const outcome = verifyRequest(
        { method: r.method, host: r.host, pathAndQuery: r.path_and_query, headers: r.headers, body: new TextEncoder().encode(r.body) },
        IDENTITY.secret,
        { nowSecs: vector.now_secs, toleranceSecs: IDENTITY.tolerance_secs },
      );
      if (vector.expect.ok) {
        assert.ok(outcome.ok, outcome.error);
        assert.equal(outcome.bodySigned, vector.expect.body_signed);
        assert.equal(outcome.secretIndex, 0);
        const e = vector.expect.identity;
        assert.deepEqual(outcome.identity, {
          keyId: e.key_id,
          keyName: e.key_name,
          workspace: e.workspace,
          environment: e.environment,
          scopes: e.scopes,
          requestId: e.request_id,
          approvalId: e.approval_id,
          approvedBy: e.approved_by,
          timestamp: e.timestamp,
        });
      } else {
        assert.equal(outcome.ok, false);
        assert.equal(outcome.code, vector.expect.error, outcome.error);
      }
    });
  }
});

describe("webhook-v1.json", () => {
  for (const vector of WEBHOOK.cases) {
    test(vector.name, () => {
      const outcome = verifyWebhook(
        { headers: vector.delivery.headers, body: new TextEncoder().encode(vector.delivery.body) },
        vector.receiver_secret,
        { nowSecs: vector.now_secs, toleranceSecs: WEBHOOK.tolerance_secs },
      );
      if (vector.expect.ok) {
        assert.ok(outcome.ok, outcome.error);
      } else {
        assert.equal(outcome.ok, false);
        assert.equal(outcome.code, vector.expect.error, outcome.error);
      }
    });
  }
});
