// The deployment as `wrangler deploy` would upload it, built here without an account or a
// network: wrangler.toml is ready for production, the policy travels inside the bundle in
// the compiled form `keygate policy compile` prints (never in vars, never as the file's
// TOML), and a Worker built with a 50 KB policy answers by that policy's routes on workerd
// with no KEYGATE_POLICY variable at all.
//
// Builds the Worker three times (the 50 KB policy, then the demo policy for staging and
// production), and leaves build/ as scripts/build.sh makes it: the demo policy, wasm-opt'd.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_readConfig } from "wrangler";
import { startGateway, startOrigin } from "../e2e/harness.mjs";
import { compilePolicy } from "../../scripts/policy.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DEMO = readFileSync(`${ROOT}policies/demo.toml`, "utf8");
const scratch = mkdtempSync(join(tmpdir(), "keygate-deploy-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** No account, no telemetry, no request.cf download: what CI has. */
function offlineEnv(extra = {}) {
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", ...extra };
  delete env.CLOUDFLARE_API_TOKEN;
  delete env.CLOUDFLARE_ACCOUNT_ID;
  return env;
}

// Where the machine allows it (root, or user namespaces), wrangler runs in a network
// namespace of its own with no interfaces: proof that the dry run needs no network.
const isolated = spawnSync("unshare", ["-n", "true"]).status === 0;

function run(command, args, env) {
  const [file, argv] = isolated ? ["unshare", ["-n", command, ...args]] : [command, args];
  const result = spawnSync(file, argv, { cwd: ROOT, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function dryRun(environment, extraEnv) {
  const outdir = join(scratch, `dry-run-${environment || "production"}`);
  const { status, output } = run(
    `${ROOT}node_modules/.bin/wrangler`,
    ["deploy", "--dry-run", "--outdir", outdir, `--env=${environment}`],
    offlineEnv(extraEnv),
  );
  assert.equal(status, 0, output);
  assert.match(output, /Total Upload: /);
  assert.match(output, /--dry-run: exiting now\./);
  const wasmFiles = readdirSync(outdir).filter((name) => name.endsWith(".wasm"));
  assert.equal(wasmFiles.length, 1, `one wasm module in ${readdirSync(outdir)}`);
  return { output, wasm: readFileSync(join(outdir, wasmFiles[0])), js: readFileSync(join(outdir, "index.js"), "utf8") };
}

/** The bindings wrangler lists for the upload, `env.NAME (value)` per line. */
function boundNames(output) {
  return [...output.matchAll(/^env\.([A-Z_]+) /gm)].map((m) => m[1]);
}

/** A policy as a large API has one: `resources` resources, five routes each. */
function largePolicy(resources) {
  let text = '# A generated policy for a large API.\nkey_prefix = "kg"\n\n[limits]\nper_minute = 600\nper_day = 100000\n';
  for (let i = 0; i < resources; i++) {
    const n = String(i).padStart(3, "0");
    text += `\n[[resources]]\nname = "res_${n}"\nkind = "ladder"\ndescription = "Generated resource ${i}: records of kind ${i}."\n`;
    for (const [method, path, action] of [
      ["GET", "items", "read"],
      ["GET", "items/{id}", "read"],
      ["POST", "items", "write"],
      ["PATCH", "items/{id}", "write"],
      ["DELETE", "items/{id}", "delete"],
    ]) {
      text += `\n[[routes]]\nmethod = "${method}"\npath = "/v1/res${n}/${path}"\nresource = "res_${n}"\naction = "${action}"\n`;
    }
  }
  return text;
}

function build(policyFile, extraEnv = {}) {
  const result = spawnSync("sh", ["scripts/build.sh"], {
    cwd: ROOT,
    env: { ...process.env, KEYGATE_POLICY_FILE: policyFile, KEYGATE_WASM_OPT: "0", ...extraEnv },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("wrangler.toml", () => {
  for (const environment of ["", "staging"]) {
    test(`${environment || "production"}: one public door, logs on, every binding its own, no policy in vars`, () => {
      const config = unstable_readConfig({ config: `${ROOT}wrangler.toml`, env: environment || undefined });
      assert.equal(config.name, environment ? `keygate-${environment}` : "keygate");
      assert.equal(config.workers_dev, false, "the workers.dev address would be a second door to the admin API");
      assert.equal(config.preview_urls, false, "preview URLs would be more doors");
      assert.equal(config.observability?.enabled, true);
      assert.notEqual(config.keep_vars, true, "a deploy must replace the variables with these");
      assert.deepEqual(Object.keys(config.vars).sort(), ["KEYGATE_HTTPS_ONLY", "KEYGATE_ORIGIN", "KEYGATE_ORIGIN_TIMEOUT_MS"]);
      assert.equal(config.vars.KEYGATE_HTTPS_ONLY, "true");
      assert.deepEqual(config.kv_namespaces.map((kv) => kv.binding), ["KEY_INDEX"]);
      assert.deepEqual(
        config.durable_objects.bindings.map((b) => [b.name, b.class_name]),
        [["KEY_AUTHORITY", "KeyAuthority"], ["KEY_DIRECTORY", "KeyDirectory"], ["APPROVAL_QUEUE", "ApprovalQueue"]],
      );
      assert.deepEqual(
        config.migrations.map((m) => [m.tag, m.new_sqlite_classes]),
        [["v1", ["KeyAuthority"]], ["v2", ["KeyDirectory"]], ["v3", ["ApprovalQueue"]]],
      );
      assert.match(config.build.command, /^KEYGATE_POLICY_FILE=\S+ sh scripts\/build\.sh$/);
      // The portal page is the Worker's static assets, and the Worker runs first for every
      // request: no file answers in place of keygate or the origin.
      assert.equal(config.assets?.directory, "portal/dist");
      assert.equal(config.assets?.binding, "ASSETS");
      assert.equal(config.assets?.run_worker_first, true);
      assert.equal(config.assets?.html_handling, "none");
    });
  }

  test("staging has its own KV namespace", () => {
    const id = (env) => unstable_readConfig({ config: `${ROOT}wrangler.toml`, env }).kv_namespaces[0].id;
    assert.notEqual(id("staging"), id(undefined));
  });
});

describe("the policy is part of the build", () => {
  test("a bad policy stops the build before anything is compiled", () => {
    const bad = join(scratch, "bad.toml");
    writeFileSync(bad, 'key_prefix = "kg"\n[[routes]]\nmethod = "GET"\npath = "/v1/x"\nresource = "nowhere"\naction = "read"\n');
    const before = statSync(`${ROOT}build/index_bg.wasm`).mtimeMs;
    const { status, output } = build(bad);
    assert.notEqual(status, 0, output);
    assert.match(output, /bad\.toml: invalid/);
    assert.equal(statSync(`${ROOT}build/index_bg.wasm`).mtimeMs, before, "the previous build is untouched");
  });

  test("a Worker built with a 50 KB policy answers by its routes, with no KEYGATE_POLICY variable", async () => {
    const text = largePolicy(100);
    assert.ok(text.length > 50_000, `${text.length} bytes`);
    const file = join(scratch, "large.toml");
    writeFileSync(file, text);
    const built = build(file);
    assert.equal(built.status, 0, built.output);
    assert.match(built.output, /large\.toml: ok/);
    const wasm = readFileSync(`${ROOT}build/index_bg.wasm`);
    assert.ok(wasm.includes(Buffer.from(compilePolicy(text))), "the compiled policy is inside the wasm");
    assert.ok(!wasm.includes(Buffer.from('path = "/v1/res099/items"')), "the file's TOML is not: the Worker cannot read it");

    const origin = await startOrigin();
    const gw = await startGateway({ origin: origin.url, policy: null });
    try {
      const policy = await gw.admin("GET", "/policy");
      assert.equal(policy.status, 200, policy.text);
      assert.equal(policy.json.routes.length, 500);
      const { key } = await gw.createKey({ scopes: ["res_099:read"] });
      const read = await gw.request("/v1/res099/items/42", { key });
      assert.equal(read.status, 200, await read.clone().text());
      assert.equal(origin.received.at(-1).url, "/v1/res099/items/42");
      const remove = await gw.request("/v1/res099/items/42", { key, method: "DELETE" });
      assert.equal(remove.status, 403);
      assert.equal((await remove.json()).code, "insufficient_scope");
      // The demo policy's routes are not in this bundle.
      assert.equal((await gw.request("/v1/contacts", { key })).status, 404);
    } finally {
      await gw.dispose();
    }
    // A KEYGATE_POLICY variable still overrides the bundle (local runs and tests).
    const overridden = await startGateway({ origin: origin.url });
    try {
      const policy = await overridden.admin("GET", "/policy");
      assert.ok(policy.json.routes.some((r) => r.path === "/v1/contacts/{id}"));
      assert.ok(!policy.json.routes.some((r) => r.path.startsWith("/v1/res")));
    } finally {
      await overridden.dispose();
      await origin.close();
    }
  });
});

describe("wrangler deploy --dry-run, offline", () => {
  // Staging first, without wasm-opt; production last, as `wrangler deploy` builds it.
  for (const [environment, extraEnv] of [["staging", { KEYGATE_WASM_OPT: "0" }], ["", {}]]) {
    test(`${environment || "production"}: the bundle builds, the policy is inside it, no policy in vars${isolated ? " (no network)" : ""}`, () => {
      const { output, wasm, js } = dryRun(environment, extraEnv);
      assert.match(output, /policies\/demo\.toml: ok \(/, "the build checked the policy");
      assert.ok(wasm.includes(Buffer.from(compilePolicy(DEMO))), "policies/demo.toml, compiled, is inside the uploaded wasm");
      assert.ok(wasm.includes(Buffer.from('"path":"/v1/contacts/{id}"')));
      assert.ok(!wasm.includes(Buffer.from('path = "/v1/contacts/{id}"')), "the file's TOML is not");
      assert.ok(!js.includes("KEYGATE_POLICY"), "the JS glue carries no policy variable");
      const names = boundNames(output);
      assert.deepEqual(
        names.sort(),
        ["APPROVAL_QUEUE", "ASSETS", "KEYGATE_HTTPS_ONLY", "KEYGATE_ORIGIN", "KEYGATE_ORIGIN_TIMEOUT_MS", "KEY_AUTHORITY", "KEY_DIRECTORY", "KEY_INDEX"],
      );
      assert.ok(!/KEYGATE_POLICY/.test(output.split("Your Worker has access to the following bindings:")[1]));
    });
  }
});
