// scripts/dev.sh and scripts/dev.mjs cannot strand you: a bad origin, port or policy is
// refused with a message naming the setting and leaves nothing listening; a failure after
// start-up stops what was started; two starts in a row keep the root token and the one
// demo key. Runs real wrangler dev (workerd) with its state in a temporary directory, on the
// build scripts/test.sh made (build/index.js, portal/dist).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { acceptsConnections, freeListenPort } from "../../scripts/ports.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Runs a command with the given KEYGATE_* settings (and no others from this process). */
function run(command, args, vars, timeout = 150_000) {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith("KEYGATE_")) delete env[name];
  Object.assign(env, vars);
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { cwd: ROOT, env, timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      // dev.mjs answers the timeout's SIGTERM by stopping cleanly with exit 0: still a failure.
      if (child.killed) return reject(new Error(`${command} ${args.join(" ")}: still running after ${timeout / 1000} s\n${stdout}\n${stderr}`));
      if (error && typeof error.code !== "number") return reject(new Error(`${command} ${args.join(" ")}: ${error.message}\n${stdout}\n${stderr}`));
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

const devSh = (vars) => run("sh", ["scripts/dev.sh", "--smoke"], vars);
const devMjs = (vars) => run("node", ["scripts/dev.mjs", "--smoke"], vars);

describe("scripts/dev.sh refuses bad settings before starting anything", () => {
  let stateDir;
  before(() => {
    stateDir = mkdtempSync(`${tmpdir()}/keygate-dev-`);
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  for (const [what, vars, message] of [
    ["an origin that is not a URL", { KEYGATE_ORIGIN: "ftp://example.com" }, "KEYGATE_ORIGIN: `ftp://example.com` must start with http:// or https://"],
    ["an origin with a query", { KEYGATE_ORIGIN: "https://api.example.com/?x=1" }, "KEYGATE_ORIGIN: `https://api.example.com/?x=1` must not contain a query, fragment or space"],
    ["a plain http origin elsewhere", { KEYGATE_ORIGIN: "http://10.1.2.3:3000" }, "KEYGATE_ORIGIN: `http://10.1.2.3:3000` is plain http to a host that is not this machine; use https://, or set KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN=true"],
    ["a port that is not a number", { KEYGATE_PORT: "eighty" }, "KEYGATE_PORT: `eighty` is not a port number (1-65535)"],
    ["a port out of range", { KEYGATE_PORT: "70000" }, "KEYGATE_PORT: `70000` is not a port number (1-65535)"],
    ["a missing policy file", { KEYGATE_POLICY: "policies/nope.toml" }, "KEYGATE_POLICY: cannot read the policy file policies/nope.toml: ENOENT"],
    ["a short root token", { KEYGATE_ROOT_TOKEN: "short" }, "KEYGATE_ROOT_TOKEN: must be at least 32 characters, without spaces"],
  ]) {
    test(what, async () => {
      const port = vars.KEYGATE_PORT ? null : await freeListenPort();
      const res = await devSh({ KEYGATE_STATE_DIR: stateDir, ...(port ? { KEYGATE_PORT: String(port) } : {}), ...vars });
      assert.notEqual(res.code, 0);
      assert.ok(res.stderr.includes(`keygate dev: ${message}`), res.stderr);
      // Refused by the first line of dev.sh: nothing was installed, built or started.
      assert.doesNotMatch(res.stdout + res.stderr, /build:|Compiling|wrangler/);
      if (port) assert.equal(await acceptsConnections(port), false);
    });
  }

  test("a port already in use", async () => {
    const holder = createServer().listen(0, "127.0.0.1");
    await new Promise((resolve) => holder.once("listening", resolve));
    const port = holder.address().port;
    try {
      const res = await devSh({ KEYGATE_STATE_DIR: stateDir, KEYGATE_PORT: String(port) });
      assert.notEqual(res.code, 0);
      assert.ok(res.stderr.includes(`keygate dev: KEYGATE_PORT: 127.0.0.1:${port} is in use (another keygate dev?); choose another KEYGATE_PORT`), res.stderr);
    } finally {
      holder.close();
    }
  });

  test("an invalid policy: keygate policy check names the problem, nothing starts", async () => {
    const port = await freeListenPort();
    const policy = `${stateDir}/broken.toml`;
    writeFileSync(policy, '[[resources]]\nname = "contacts"\nkind = "ladderish"\n');
    const res = await devSh({ KEYGATE_STATE_DIR: stateDir, KEYGATE_PORT: String(port), KEYGATE_POLICY: policy });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /broken\.toml: invalid policy/);
    assert.doesNotMatch(res.stdout, /keygate is running|smoke:/);
    assert.equal(await acceptsConnections(port), false);
  });
});

describe("scripts/dev.mjs stops what it started when the gateway fails", () => {
  let stateDir;
  before(() => {
    stateDir = mkdtempSync(`${tmpdir()}/keygate-dev-`);
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  test("a policy the Worker refuses (503): exit 1, wrangler and the demo origin stopped", async () => {
    const port = await freeListenPort();
    // Compiled by hand (the CLI would refuse it), so only the Worker can say no.
    const policy = `${stateDir}/broken.json`;
    writeFileSync(policy, JSON.stringify({ keygate_policy: 1, policy: { key_prefix: "NOT VALID" } }));
    const res = await devMjs({ KEYGATE_STATE_DIR: stateDir, KEYGATE_PORT: String(port), KEYGATE_POLICY: policy });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stderr, /keygate dev: the gateway reports a configuration error: .*gateway_misconfigured/);
    assert.equal(await acceptsConnections(port), false, "wrangler dev is still listening");
  });
});

describe("scripts/dev.mjs compiles the policy before starting anything", () => {
  let stateDir;
  before(() => {
    stateDir = mkdtempSync(`${tmpdir()}/keygate-dev-`);
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  test("a policy file the CLI refuses: the CLI's report, nothing started", async () => {
    const port = await freeListenPort();
    const policy = `${stateDir}/broken.toml`;
    writeFileSync(policy, 'key_prefix = "NOT VALID"\n');
    const res = await devMjs({ KEYGATE_STATE_DIR: stateDir, KEYGATE_PORT: String(port), KEYGATE_POLICY: policy });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.ok(res.stderr.includes(`keygate dev: KEYGATE_POLICY: ${policy}: invalid policy\n  key_prefix: "NOT VALID" must be`), res.stderr);
    assert.doesNotMatch(res.stdout + res.stderr, /wrangler|keygate is running/);
    assert.equal(await acceptsConnections(port), false);
  });
});

describe("two starts in a row", () => {
  let stateDir;
  before(() => {
    stateDir = mkdtempSync(`${tmpdir()}/keygate-dev-`);
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  const secretsFile = () => JSON.parse(readFileSync(`${stateDir}/dev-secrets.json`, "utf8"));
  const demoLine = (stdout) => {
    const match = /^smoke: demo key (key_[0-9A-Za-z]{22}) (reused|created); demo keys in the store: (\d+)$/m.exec(stdout);
    assert.ok(match, stdout);
    return { id: match[1], how: match[2], count: Number(match[3]) };
  };

  test("keep the root token and the one demo key; a given root token is used, not stored", async () => {
    const port = String(await freeListenPort());
    const first = await devMjs({ KEYGATE_STATE_DIR: stateDir, KEYGATE_PORT: port });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /^smoke: GET \S+ -> 200, identity verified at the origin: true$/m);
    const kept = secretsFile();
    assert.ok(kept.KEYGATE_ROOT_TOKEN.length >= 32);
    const created = demoLine(first.stdout);
    assert.deepEqual([created.how, created.count], ["created", 1]);
    assert.equal(kept.demo_key.id, created.id);
    assert.equal(statSync(`${stateDir}/dev-secrets.json`).mode & 0o777, 0o600);
    assert.equal(await acceptsConnections(Number(port)), false, "smoke mode stops wrangler dev");

    const second = await devMjs({ KEYGATE_STATE_DIR: stateDir, KEYGATE_PORT: port });
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.deepEqual(demoLine(second.stdout), { id: created.id, how: "reused", count: 1 });
    assert.deepEqual(secretsFile(), kept, "the dev secrets, root token and demo key included, are unchanged");

    const given = "given-root-token-for-this-run-0123456789";
    const third = await devMjs({ KEYGATE_STATE_DIR: stateDir, KEYGATE_PORT: port, KEYGATE_ROOT_TOKEN: given });
    assert.equal(third.code, 0, third.stdout + third.stderr);
    assert.deepEqual(demoLine(third.stdout), { id: created.id, how: "reused", count: 1 });
    assert.deepEqual(secretsFile(), kept, "a given KEYGATE_ROOT_TOKEN is not written to the file");
  });
});
