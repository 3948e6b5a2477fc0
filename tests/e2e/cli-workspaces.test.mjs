// `keygate workspaces list|show|set-plan` end to end: the real binary against the real
// gateway on workerd, with a policy that has plans (the demo policy plus a Free plan without
// API access, the default, a Basic plan without `email`, and a Pro plan with everything).
// What it prints, and how it exits (0 done, 1 refused, 2 usage error), as for the keys commands.
//
// This file builds nothing: it runs target/debug/keygate (what `cargo build` or `cargo test`
// leaves there), or the binary named by $KEYGATE_CLI_BIN.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { useGateway, policyText, poll, startGateway, startOrigin, ROOT_TOKEN } from "./harness.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = process.env.KEYGATE_CLI_BIN ?? `${ROOT}target/debug/keygate`;

const PLANS_POLICY = `default_plan = "free"
${policyText("demo")}

[[plans]]
name = "free"
api_access = false

[[plans]]
name = "basic"
resources = ["contacts", "api_keys", "approvals"]
limits = { per_minute = 30, per_day = 1000 }
max_limits = { per_minute = 60, per_day = 2000 }

[[plans]]
name = "pro"
`;

const env = useGateway({ bindings: { KEYGATE_POLICY: PLANS_POLICY } });

before(() => {
  if (!existsSync(BIN)) {
    throw new Error(`the keygate CLI is missing at ${BIN}: build it first with \`cargo build --bin keygate\``);
  }
});

/** Runs the CLI against the test gateway (the root token unless `vars` says otherwise). */
function cli(args, vars = {}) {
  const childEnv = { ...process.env, KEYGATE_ENDPOINT: env.gw.url, KEYGATE_TOKEN: ROOT_TOKEN, ...vars };
  return new Promise((resolve, reject) => {
    execFile(BIN, args, { env: childEnv, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      assert.ok(!stdout.includes(ROOT_TOKEN) && !stderr.includes(ROOT_TOKEN), "the CLI printed the token");
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

async function ok(args, vars) {
  const res = await cli(args, vars);
  assert.equal(res.code, 0, `keygate ${args.join(" ")} exited ${res.code}\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

/** Runs the CLI and insists on exit 1 with the problem `code`; returns stderr. */
async function refused(args, code, vars) {
  const res = await cli(args, vars);
  assert.equal(res.code, 1, `keygate ${args.join(" ")} exited ${res.code}\n${res.stdout}\n${res.stderr}`);
  assert.equal(res.stdout, "");
  assert.match(res.stderr, new RegExp(`^keygate: the gateway refused \\(\\d{3} ${code}\\): `));
  assert.match(res.stderr, /\n {2}request_id: req_[0-9A-Za-z]{22}\n$/);
  return res.stderr;
}

function details(text) {
  const fields = {};
  for (const line of text.split("\n")) {
    const match = /^([a-z_.0-9]+):\s+(.*)$/.exec(line);
    if (match) fields[match[1]] = match[2];
  }
  return fields;
}

function createdId(text) {
  return details(text).id;
}

function secretIn(text) {
  const match = /^ {4}(\S+)$/m.exec(text);
  assert.ok(match, `no secret in:\n${text}`);
  return match[1];
}

describe("keygate workspaces", () => {
  test("a Free workspace is refused keys; set-plan upgrades it; show and list tell its plan", async () => {
    // Unknown to keygate until a key is made or a plan set.
    await refused(["workspaces", "show", "acme"], "not_found");

    // On the default plan, Free: no API access, so no keys, and the refusal names the plan.
    const noAccess = await refused(
      ["keys", "create", "--name", "first", "--scope", "contacts:read", "--workspace", "acme"],
      "plan_required",
    );
    assert.match(noAccess, /\n {2}plan: free\n/);
    assert.match(noAccess, /\n {2}required_plan: basic\n/);
    assert.match(noAccess, /keygate workspaces set-plan WORKSPACE PLAN/);
    await refused(["workspaces", "show", "acme"], "not_found");

    // An unknown plan is a 400 naming the plans.
    const unknown = await refused(["workspaces", "set-plan", "acme", "gold"], "invalid_request");
    assert.match(unknown, /\n {2}plan: no plan named "gold"; plans: free, basic, pro\n/);

    const set = await ok(["workspaces", "set-plan", "acme", "pro"]);
    assert.match(set, /^Workspace acme is on plan pro\.\nThe workspace has no keys yet\.\n\n/);
    const shown = details(await ok(["workspaces", "show", "acme"]));
    assert.equal(shown.id, "acme");
    assert.equal(shown.plan, "pro");
    assert.equal(shown.api_access, "yes");
    assert.match(shown.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(shown.plan_set_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // Now the key is made, and it works.
    const created = await ok([
      "keys", "create", "--name", "first", "--scope", "contacts:read", "--scope", "api_keys:read", "--workspace", "acme",
    ]);
    const key = secretIn(created);
    const res = await env.gw.request("/v1/contacts", { key });
    assert.equal(res.status, 200);

    // --json passes the gateway's answer through.
    const json = JSON.parse(await ok(["workspaces", "show", "acme", "--json"]));
    assert.deepEqual(
      { id: json.id, plan: json.plan, plan_source: json.plan_source, api_access: json.api_access },
      { id: "acme", plan: "pro", plan_source: "set", api_access: true },
    );

    // A downgrade reaches the key: Free refuses its next requests.
    const downgraded = await ok(["workspaces", "set-plan", "acme", "free", "--json"]);
    const answer = JSON.parse(downgraded);
    assert.equal(answer.plan, "free");
    assert.equal(answer.keys_updated + answer.keys_pending, 1);
    const status = await poll(
      async () => (await env.gw.request("/v1/contacts", { key })).status,
      (status) => status === 403,
    );
    assert.equal(status, 403);
  });

  test("policy show lists the plans set-plan takes, the default marked", async () => {
    const shown = await ok(["policy", "show"]);
    assert.match(
      shown,
      /\nplans:\n {2}free \(default\): no API access\n {2}basic: contacts api_keys approvals; 30\/minute, 1000\/day \(at most 60\/minute, 2000\/day\)\n {2}pro: contacts email ai .*; 120\/minute, 50000\/day\n$/,
    );
  });

  test("a plan's offer and max limits bind key creation, and the CLI shows the plan's defaults", async () => {
    await ok(["workspaces", "set-plan", "basic-co", "basic"]);
    const outside = await refused(
      ["keys", "create", "--name", "mailer", "--scope", "email:send", "--workspace", "basic-co"],
      "scope_not_in_plan",
    );
    assert.match(outside, /\n {2}plan: basic\n/);
    assert.match(outside, /\n {2}scopes: email:send\n/);
    const above = await refused(
      ["keys", "create", "--name", "fast", "--scope", "contacts:read", "--workspace", "basic-co", "--per-minute", "61"],
      "limit_exceeds_plan",
    );
    assert.match(above, /\n {2}max: 60\n/);
    const created = await ok(["keys", "create", "--name", "reader", "--scope", "contacts:read", "--workspace", "basic-co"]);
    assert.match(details(created).limits, /^30\/min, 1000\/day\b/);
  });

  test("keys: show their own workspace only, and never list or set plans", async () => {
    await ok(["workspaces", "set-plan", "own", "pro"]);
    await ok(["workspaces", "set-plan", "other", "pro"]);
    const created = await ok([
      "keys", "create", "--name", "reader", "--scope", "api_keys:read", "--workspace", "own",
    ]);
    const key = { KEYGATE_TOKEN: secretIn(created) };
    assert.equal(details(await ok(["workspaces", "show", "own"], key)).plan, "pro");
    await refused(["workspaces", "show", "other"], "not_found", key);
    await refused(["workspaces", "show", "never-seen"], "not_found", key);
    const listed = await refused(["workspaces", "list"], "root_token_required", key);
    assert.match(listed, /hint: only the deployment's root token may do this/);
    await refused(["workspaces", "set-plan", "own", "free"], "root_token_required", key);
    assert.equal(details(await ok(["workspaces", "show", "own"])).plan, "pro", "unchanged");
  });

  test("list pages like keys list: --limit, --cursor, --all, --json", async () => {
    for (const name of ["page-a", "page-b", "page-c"]) await ok(["workspaces", "set-plan", name, "pro"]);
    const first = await ok(["workspaces", "list", "--limit", "2"]);
    const lines = first.split("\n");
    assert.match(lines[0], /^WORKSPACE +PLAN +SOURCE +API ACCESS +CREATED +PLAN SET$/);
    assert.match(lines[1], /^page-c +pro +set +yes +\S+Z +\S+Z$/, "newest first");
    assert.match(lines[2], /^page-b +pro +set +yes /);
    const cursor = /\nMore workspaces: add --cursor (\S+) \(or use --all\)\.\n$/.exec(first)?.[1];
    assert.ok(cursor, first);
    const second = await ok(["workspaces", "list", "--limit", "2", "--cursor", cursor]);
    assert.match(second.split("\n")[1], /^page-a /);

    const all = JSON.parse(await ok(["workspaces", "list", "--all", "--limit", "2", "--json"]));
    const ids = all.workspaces.map((w) => w.id);
    assert.deepEqual(Object.keys(all), ["workspaces"]);
    assert.equal(new Set(ids).size, ids.length, "each once");
    for (const name of ["page-a", "page-b", "page-c", "acme", "own", "other"]) assert.ok(ids.includes(name), name);
    const table = await ok(["workspaces", "list", "--all"]);
    assert.equal(table.trim().split("\n").length, ids.length + 1);
    assert.doesNotMatch(table, /More workspaces/);
  });

  test("names and pages are checked before any request (exit 2)", async () => {
    for (const args of [
      ["workspaces", "show", ".acme"],
      ["workspaces", "set-plan", "a/b", "pro"],
      ["workspaces", "list", "--limit", "0"],
      ["workspaces", "set-plan", "acme"],
    ]) {
      const res = await cli(args);
      assert.equal(res.code, 2, `${args.join(" ")}: ${res.stderr}`);
      assert.equal(res.stdout, "");
      assert.match(res.stderr, /Usage: keygate workspaces/);
    }
    const bad = await refused(["workspaces", "list", "--cursor", "nope"], "invalid_request");
    assert.match(bad, /\n {2}cursor: /);
  });
});

describe("keygate workspaces on a policy without plans", () => {
  test("a workspace shows no plan and full API access; set-plan is a 400 saying why", async () => {
    const origin = await startOrigin();
    const gw = await startGateway({ origin: origin.url });
    try {
      const vars = { KEYGATE_ENDPOINT: gw.url };
      await ok(["keys", "create", "--name", "plain", "--scope", "contacts:read", "--workspace", "plain"], vars);
      const shown = details(await ok(["workspaces", "show", "plain"], vars));
      assert.deepEqual(
        { plan: shown.plan, api_access: shown.api_access, plan_set_at: shown.plan_set_at },
        { plan: "-", api_access: "yes", plan_set_at: "never" },
      );
      const set = await refused(["workspaces", "set-plan", "plain", "pro"], "invalid_request", vars);
      assert.match(set, /\n {2}plan: no plan named "pro": the policy declares no plans\n/);
      const listed = await ok(["workspaces", "list"], vars);
      assert.match(listed, /^plain +- +default +yes +\S+Z +never$/m);
    } finally {
      await gw.dispose();
      await origin.close();
    }
  });
});
