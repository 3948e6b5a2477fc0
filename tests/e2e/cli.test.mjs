// The operator CLI (`keygate keys …`, `keygate policy show`) end to end: the real binary
// against the real gateway on workerd, through a key's whole lifecycle, checking what it
// prints and how it exits (0 done, 1 refused, 2 usage error, 3 unreachable).
//
// This file builds nothing: it runs target/debug/keygate (what `cargo build` or `cargo test`
// leaves there), or the binary named by $KEYGATE_CLI_BIN.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { useGateway, deadPort, ROOT_TOKEN } from "./harness.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = process.env.KEYGATE_CLI_BIN ?? `${ROOT}target/debug/keygate`;

const env = useGateway();

before(() => {
  if (!existsSync(BIN)) {
    throw new Error(`the keygate CLI is missing at ${BIN}: build it first with \`cargo build --bin keygate\``);
  }
});

/**
 * Runs the CLI against the test gateway; resolves to { code, stdout, stderr } whatever the
 * exit status. `vars` adds or overrides environment variables (undefined removes one).
 * Asynchronous on purpose: the origin server lives in this process and must keep answering.
 */
function cli(args, vars = {}) {
  const childEnv = { ...process.env, KEYGATE_ENDPOINT: env.gw.url, KEYGATE_TOKEN: ROOT_TOKEN, ...vars };
  for (const [name, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[name];
  return new Promise((resolve, reject) => {
    execFile(BIN, args, { env: childEnv, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error); // did not run, or was killed
      assert.ok(!stdout.includes(ROOT_TOKEN) && !stderr.includes(ROOT_TOKEN), "the CLI printed the token");
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

/** Runs the CLI and insists on exit 0; returns stdout. */
async function ok(args, vars) {
  const res = await cli(args, vars);
  assert.equal(res.code, 0, `keygate ${args.join(" ")} exited ${res.code}\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

/** The `field: value` lines of `keys show` as an object. */
function details(text) {
  const fields = {};
  for (const line of text.split("\n")) {
    const match = /^([a-z_.0-9]+):\s+(.*)$/.exec(line);
    if (match) fields[match[1]] = match[2];
  }
  return fields;
}

/** The secret from a create or rotate answer: the indented line of its own. */
function secretIn(text) {
  const match = /^ {4}(\S+)$/m.exec(text);
  assert.ok(match, `no secret in:\n${text}`);
  return match[1];
}

describe("the CLI through a key's lifecycle", () => {
  test("create → list → show → edit → rotate → revoke → activate → delete", async () => {
    // create: the secret once, prominently, and a key that works.
    const created = await ok([
      "keys", "create", "--name", "CLI e2e", "--scope", "contacts:read", "--scope", "email:send",
      "--workspace", "cli-e2e", "--metadata", '{"team":"cli"}', "--expires-at", "2099-01-01T00:00:00Z",
    ]);
    assert.match(created, /shown once — store it now/);
    const secret = secretIn(created);
    assert.match(secret, /^kg_live_[0-9A-Za-z]{39}$/);
    const fields = details(created);
    const id = fields.id;
    assert.match(id, /^key_[0-9A-Za-z]{22}$/);
    assert.equal(fields.name, "CLI e2e");
    assert.equal(fields.workspace, "cli-e2e");
    assert.equal(fields.status, "active");
    assert.equal(fields.scopes, "contacts:read, email:send");
    assert.equal(fields.expires_at, "2099-01-01T00:00:00Z");
    assert.equal(fields.metadata, '{"team":"cli"}');
    assert.equal(fields.hint, `kg_live_…${secret.slice(-4)}`);
    assert.equal((await env.gw.request("/v1/contacts", { key: secret })).status, 200);

    // list: a table with the key, and the same key in --json --all.
    const table = await ok(["keys", "list", "--workspace", "cli-e2e"]);
    const [header, ...rows] = table.trimEnd().split("\n");
    assert.deepEqual(header.split(/\s{2,}/), ["ID", "NAME", "WORKSPACE", "STATUS", "HINT", "SCOPES", "LAST USED"]);
    const row = rows.find((r) => r.startsWith(id));
    assert.ok(row, `${id} not listed:\n${table}`);
    assert.match(row, /CLI e2e\s+cli-e2e\s+active\s+kg_live_…\S{4}\s+contacts:read,email:send\s+(\d{4}-\S+|never)$/);
    const listed = JSON.parse(await ok(["--json", "keys", "list", "--workspace", "cli-e2e", "--all", "--limit", "1"]));
    assert.deepEqual(Object.keys(listed), ["keys"]);
    assert.ok(listed.keys.some((k) => k.id === id));
    assert.ok(!JSON.stringify(listed).includes(secret), "a list never carries the secret");

    // show: every field and the usage counts.
    const shown = details(await ok(["keys", "show", id]));
    assert.equal(shown.id, id);
    assert.notEqual(shown.last_used_at, "never");
    for (const window of ["usage.last_24h", "usage.last_7d", "usage.last_30d"]) {
      assert.match(shown[window] ?? "", /^\d+$/, window);
    }
    assert.ok(Number(shown["usage.last_24h"]) >= 1);

    // edit: name and own limits, then back to the policy's limits.
    const edited = await ok(["keys", "edit", id, "--name", "CLI e2e renamed", "--per-minute", "5", "--per-day", "100", "--no-expiry"]);
    assert.match(edited, new RegExp(`^Updated key ${id}\\.`));
    assert.equal(details(edited).name, "CLI e2e renamed");
    assert.equal(details(edited).limits, "5/min, 100/day (the key's own)");
    assert.equal(details(edited).expires_at, "never");
    const asJson = JSON.parse(await ok(["keys", "show", id, "--json"]));
    assert.deepEqual(asJson.limits, { per_minute: 5, per_day: 100, source: "key" });
    assert.equal(asJson.expires_at, null);
    const reset = JSON.parse(await ok(["--json", "keys", "edit", id, "--default-limits"]));
    assert.equal(reset.limits.source, "policy");

    // rotate: a new secret; the old one keeps working through the grace period.
    const rotated = await ok(["keys", "rotate", id, "--grace", "300"]);
    const newSecret = secretIn(rotated);
    assert.notEqual(newSecret, secret);
    assert.match(rotated, /shown once — store it now/);
    assert.match(rotated, /previous secret keeps working until \d{4}-\d\d-\d\dT/);
    assert.equal((await env.gw.request("/v1/contacts", { key: newSecret })).status, 200);
    assert.equal((await env.gw.request("/v1/contacts", { key: secret })).status, 200);

    // revoke: the very next request is refused.
    const revoked = await ok(["keys", "revoke", id]);
    assert.match(revoked, new RegExp(`^Revoked key ${id}\\.`));
    assert.equal(details(revoked).status, "revoked");
    const refused = await env.gw.request("/v1/contacts", { key: newSecret });
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).code, "key_revoked");
    const revokedList = JSON.parse(await ok(["--json", "keys", "list", "--status", "revoked", "--all"]));
    assert.ok(revokedList.keys.some((k) => k.id === id));

    // activate: the demo policy allows re-activation.
    const activated = await ok(["keys", "activate", id]);
    assert.match(activated, new RegExp(`^Activated key ${id}\\.`));
    assert.equal(details(activated).status, "active");
    assert.equal((await env.gw.request("/v1/contacts", { key: newSecret })).status, 200);

    // delete: gone for good.
    assert.equal(await ok(["keys", "delete", id]), `Deleted key ${id}.\n`);
    const gone = await cli(["keys", "show", id]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /\(404 not_found\)/);
    assert.equal((await env.gw.request("/v1/contacts", { key: newSecret })).status, 401);
  });
});

describe("policy show", () => {
  test("summarises the scope table, or passes the JSON through", async () => {
    const text = await ok(["policy", "show"]);
    assert.match(text, /^key_prefix:\s+kg$/m);
    assert.match(text, /^limits:\s+120\/min, 50000\/day$/m);
    assert.match(text, /^RESOURCE\s+KIND\s+LEVELS\s+GROUP\s+DESCRIPTION$/m);
    assert.match(text, /^contacts\s+ladder\s+read < write-approval < write < delete-approval < delete\b/m);
    assert.match(text, /^GET\s+\/v1\/contacts\s+contacts\s+read$/m);
    assert.match(text, /^ {2}email:send-approval$/m);
    const json = JSON.parse(await ok(["--json", "policy", "show"]));
    assert.deepEqual(json, (await env.gw.admin("GET", "/policy")).json);
  });
});

describe("refusals and failures", () => {
  test("unknown scopes exit 1 listing the unknown and the valid ones", async () => {
    const res = await cli(["keys", "create", "--name", "x", "--scope", "contacts:read", "--scope", "contacts:admin"]);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, "");
    assert.match(res.stderr, /\(400 unknown_scopes\)/);
    assert.match(res.stderr, /^ {2}unknown scopes: contacts:admin$/m);
    assert.match(res.stderr, /^ {2}valid scopes: .*contacts:write-approval/m);
  });

  test("invalid fields exit 1 with one line per field", async () => {
    const res = await cli([
      "keys", "create", "--name", "x", "--scope", "contacts:read",
      "--expires-at", "2001-01-01T00:00:00Z", "--webhook", "http://example.com/hook",
    ]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /\(400 invalid_request\)/);
    assert.match(res.stderr, /^ {2}expires_at: must be in the future$/m);
    assert.match(res.stderr, /^ {2}rejection_webhook: .*https/m);
  });

  test("a wrong token exits 1 with invalid_admin_token, and is never printed", async () => {
    const wrong = "wrong-token-0123456789-wrong-token";
    const res = await cli(["keys", "list"], { KEYGATE_TOKEN: wrong });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /\(401 invalid_admin_token\)/);
    assert.ok(!res.stderr.includes(wrong) && !res.stdout.includes(wrong));
  });

  test("a missing token and bad flags exit 2 before any request", async () => {
    const missing = await cli(["keys", "list"], { KEYGATE_TOKEN: undefined });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no admin token/);
    const bad = await cli(["keys", "list", "--limit", "0"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit: 0 is out of range/);
  });

  test("an unreachable gateway exits 3 and names the endpoint", async () => {
    const endpoint = `http://127.0.0.1:${await deadPort()}`;
    const res = await cli(["keys", "list"], { KEYGATE_ENDPOINT: endpoint });
    assert.equal(res.code, 3);
    assert.ok(res.stderr.includes(`cannot reach the gateway at ${endpoint}`), res.stderr);
  });
});
