// `keygate doctor` end to end: the real CLI binary against the real gateway on workerd in
// front of the demo origin (scripts/demo-origin.mjs, which verifies keygate's signature).
// A healthy deployment passes every check; a wrong token, a different policy and an origin
// holding the wrong signing secret each give a clear FAIL line and exit 1 — and the
// temporary test key is deleted every time.
//
// Like cli.test.mjs, this file builds nothing: it runs target/debug/keygate (or $KEYGATE_CLI_BIN).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startGateway, ROOT_TOKEN, SIGNING_SECRET } from "./harness.mjs";
import { startDemoOrigin } from "../../scripts/demo-origin.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = process.env.KEYGATE_CLI_BIN ?? `${ROOT}target/debug/keygate`;

/** Runs `keygate doctor` against `gw`; resolves to { code, stdout, stderr }. */
function doctor(gw, args, token = ROOT_TOKEN) {
  const env = { ...process.env, KEYGATE_TOKEN: token };
  delete env.KEYGATE_ENDPOINT;
  return new Promise((resolve, reject) => {
    execFile(BIN, ["--endpoint", gw.url, "doctor", ...args], { env, timeout: 60_000, cwd: ROOT }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      assert.ok(!stdout.includes(token) && !stderr.includes(token), "the doctor printed the token");
      assert.ok(!/kg_(live|test)_[0-9A-Za-z]{39}/.test(stdout + stderr), "the doctor printed a key's secret");
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

/** Keys the doctor may have left behind. */
async function doctorKeys(gw) {
  const res = await gw.admin("GET", "/keys?limit=100");
  assert.equal(res.status, 200, res.text);
  return res.json.keys.filter((k) => k.name === "keygate doctor (temporary)");
}

const lines = (stdout) => stdout.trimEnd().split("\n");

describe("keygate doctor on workerd in front of the demo origin", () => {
  let origin;
  let gw;
  before(async () => {
    if (!existsSync(BIN)) throw new Error(`the keygate CLI is missing at ${BIN}: build it first with \`cargo build --bin keygate\``);
    origin = await startDemoOrigin({ port: 0, secret: SIGNING_SECRET });
    gw = await startGateway({ origin: `http://127.0.0.1:${origin.address().port}` });
  });
  after(async () => {
    await gw?.dispose();
    await new Promise((resolve) => (origin ? origin.close(resolve) : resolve()));
  });

  test("a healthy deployment: every check ok, exit 0, no key left behind", async () => {
    const res = await doctor(gw, ["--policy", "policies/demo.toml", "--path", "/v1/contacts"]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const out = lines(res.stdout);
    assert.equal(out[0], `keygate doctor: ${gw.url}`);
    assert.match(out[1], /^ok {4}admin API answers the token \(deployed policy: \d+ routes, \d+ scopes\)$/);
    assert.equal(out[2], "ok    the deployed policy is policies/demo.toml");
    assert.equal(out[3], 'ok    GET /v1/contacts without a key: 401 missing_credentials, WWW-Authenticate: Bearer realm="keygate"');
    assert.match(out[4], /^ok {4}created test key key_[0-9A-Za-z]{22} \(scope contacts:read, environment test, expires in 10 minutes\)$/);
    assert.match(out[5], /^ok {4}GET \/v1\/contacts with the test key: 200, RateLimit: "minute";r=\d+;t=\d+/);
    assert.equal(out[6], "ok    the origin verified keygate's signature (identity_verified: true)");
    assert.match(out[7], /^ok {4}deleted test key key_[0-9A-Za-z]{22}$/);
    assert.equal(out[8], "7 ok, 0 failed, 0 skipped: the deployment works");
    assert.deepEqual(await doctorKeys(gw), []);
  });

  test("without --path it calls the policy's first plain GET route", async () => {
    const res = await doctor(gw, []);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /skip  deployed policy not compared with a file \(pass --policy FILE\)/);
    assert.match(res.stdout, /ok {4}GET \/\S+ with the test key: 200/);
    assert.deepEqual(await doctorKeys(gw), []);
  });

  test("a wrong token: a FAIL line that says what to do, exit 1, no key created", async () => {
    const res = await doctor(gw, ["--path", "/v1/contacts"], "not-the-root-token-0123456789abcdef");
    assert.equal(res.code, 1, res.stdout + res.stderr);
    const out = lines(res.stdout);
    assert.match(out[1], /^FAIL {2}admin API refused the token: 401 \S+: .* — set KEYGATE_TOKEN to KEYGATE_ROOT_TOKEN from your secrets file/);
    assert.equal(out[3], 'ok    GET /v1/contacts without a key: 401 missing_credentials, WWW-Authenticate: Bearer realm="keygate"');
    assert.equal(out[4], "skip  test key: needs the admin API (see above)");
    assert.equal(out.at(-1), "1 ok, 1 failed, 2 skipped");
    assert.deepEqual(await doctorKeys(gw), []);
  });

  test("a different local policy: FAIL naming the differing fields", async () => {
    const res = await doctor(gw, ["--policy", "policies/seed-001-simple.toml", "--path", "/v1/contacts"]);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /^FAIL {2}the deployed policy differs from policies\/seed-001-simple\.toml \(in [a-z_, ]+\) — deploy it/m);
  });

  test("a path no route maps: FAIL before any key is made", async () => {
    const res = await doctor(gw, ["--path", "/not/mapped"]);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /^FAIL {2}test key: no route of the deployed policy matches GET \/not\/mapped — pass a --path the policy maps$/m);
    assert.deepEqual(await doctorKeys(gw), []);
  });
});

describe("keygate doctor when the origin holds the wrong signing secret", () => {
  let origin;
  let gw;
  before(async () => {
    origin = await startDemoOrigin({ port: 0, secret: "not-the-signing-secret-0123456789abcdef" });
    gw = await startGateway({ origin: `http://127.0.0.1:${origin.address().port}` });
  });
  after(async () => {
    await gw?.dispose();
    await new Promise((resolve) => (origin ? origin.close(resolve) : resolve()));
  });

  test("FAIL on the signature, exit 1, and the test key is still deleted", async () => {
    const res = await doctor(gw, ["--path", "/v1/contacts"]);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /^FAIL {2}the demo origin could not verify keygate's signature — give it KEYGATE_SIGNING_SECRET from your secrets file$/m);
    assert.match(res.stdout, /^ok {4}deleted test key key_/m);
    assert.deepEqual(await doctorKeys(gw), []);
  });
});
