// Runs keygate locally with `wrangler dev` (workerd, local KV and Durable Objects) in front
// of an origin, with a demo key, and prints a curl that works. Started by scripts/dev.sh.
//
// Environment: KEYGATE_ORIGIN (default: the demo origin, started here), KEYGATE_ROOT_TOKEN
// (default: generated once and kept in .keygate/dev-secrets.json), KEYGATE_PORT (default
// 8787), KEYGATE_POLICY (policy file path, default policies/demo.toml; compiled here with
// `keygate policy compile`, or already compiled: a file of its JSON is passed as it is),
// KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN (true/false), KEYGATE_STATE_DIR (default .keygate).
// `--check`: check the settings and exit (scripts/dev.sh does this before installing,
// building or starting anything).
// `--smoke`: after start-up, send the printed request, check the answer, stop (for tests).
//
// It cannot strand you: every setting is checked before anything starts, and whatever it
// started (the demo origin, wrangler dev with its workerd) is stopped — by process group
// id, never by name — on any failure, on Ctrl-C, and on exit.
//
// The demo key is made once: its id and secret are kept in the 0600 dev-secrets file beside
// the other dev secrets, and reused while the gateway still knows it as an active key with
// the same scopes. Otherwise it is deleted and a new one made, so demo keys never pile up.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startDemoOrigin } from "./demo-origin.mjs";
import { acceptsConnections, freeListenPort } from "./ports.mjs";
import { compilePolicy, PolicyRefused } from "./policy.mjs";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DEMO_SCOPES = ["contacts:write", "email:send-approval", "analytics:read"];
const DEMO_KEY_NAME = "demo key";
const PORTAL_MEMBER = { id: "dev", name: "Demo admin" };
/** A loaded 2-core machine can take seconds for a Durable Object's first answer. */
const REQUEST_TIMEOUT_MS = 30_000;
const SECRET_NAMES = ["KEYGATE_HASH_SECRET", "KEYGATE_SIGNING_SECRET", "KEYGATE_ROOT_TOKEN", "KEYGATE_WEBHOOK_SECRET"];
const smoke = process.argv.includes("--smoke");

/** A refusal to report as it is (no stack trace). */
class DevError extends Error {}

// --- settings, all checked before anything starts ---------------------------------------

function isLoopback(hostname) {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** The origin URL's shape, by the Worker's own rules (src/config.rs): else a 503 later. */
function checkOrigin(text, allowPlainHttp) {
  const why = (reason) => new DevError(`KEYGATE_ORIGIN: \`${text}\` ${reason}, e.g. http://127.0.0.1:3000 or https://api.internal/v2`);
  if (!/^https?:\/\//.test(text)) throw why("must start with http:// or https://");
  if (/[?# ]/.test(text)) throw why("must not contain a query, fragment or space");
  let url;
  try {
    url = new URL(text);
  } catch {
    throw why("is not a URL (check the host and port)");
  }
  if (url.username || url.password) throw why("must not contain user info");
  if (!url.hostname) throw why("must name a host");
  if (url.protocol === "http:" && !isLoopback(url.hostname) && !allowPlainHttp) {
    throw why("is plain http to a host that is not this machine; use https://, or set KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN=true");
  }
}

/** Every setting, checked; throws a DevError naming the variable and what is wrong. */
export function checkSettings(env = process.env) {
  const portText = env.KEYGATE_PORT ?? "8787";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new DevError(`KEYGATE_PORT: \`${portText}\` is not a port number (1-65535)`);
  }
  const plain = env.KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN;
  if (plain !== undefined && plain !== "true" && plain !== "false") {
    throw new DevError(`KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN: \`${plain}\` must be true or false`);
  }
  const origin = env.KEYGATE_ORIGIN || null;
  if (origin) checkOrigin(origin, plain === "true");
  const rootToken = env.KEYGATE_ROOT_TOKEN || null;
  if (rootToken && (rootToken.length < 32 || /\s/.test(rootToken))) {
    throw new DevError("KEYGATE_ROOT_TOKEN: must be at least 32 characters, without spaces");
  }
  const policyPath = env.KEYGATE_POLICY ?? "policies/demo.toml";
  let policyText;
  try {
    policyText = readFileSync(resolve(ROOT, policyPath), "utf8");
  } catch (e) {
    throw new DevError(`KEYGATE_POLICY: cannot read the policy file ${policyPath}: ${e.code ?? e.message}`);
  }
  if (!policyText.trim()) throw new DevError(`KEYGATE_POLICY: ${policyPath} is empty`);
  return {
    port,
    origin,
    rootToken,
    policyPath,
    policyText,
    usingDemoPolicy: env.KEYGATE_POLICY === undefined,
    allowPlainHttp: plain,
    stateDir: resolve(ROOT, env.KEYGATE_STATE_DIR ?? ".keygate"),
  };
}

/**
 * The policy as the Worker reads it: the file compiled by the CLI (which refuses what
 * `keygate policy check` refuses), or the file as it is when it is a compiled policy already.
 */
function workerPolicy({ policyPath, policyText }) {
  if (policyText.trimStart().startsWith("{")) return policyText;
  try {
    return compilePolicy(policyText);
  } catch (e) {
    if (e instanceof PolicyRefused) throw new DevError(`KEYGATE_POLICY: ${policyPath}: ${e.message.replace(/^the policy: /, "")}`);
    throw new DevError(`KEYGATE_POLICY: cannot compile ${policyPath}: ${e.message}`);
  }
}

/** Resolves when nothing listens on 127.0.0.1:port; throws a DevError when something does. */
function checkPortFree(port) {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", (e) =>
      reject(new DevError(`KEYGATE_PORT: 127.0.0.1:${port} is ${e.code === "EADDRINUSE" ? "in use (another keygate dev?)" : `unavailable (${e.code})`}; choose another KEYGATE_PORT`)),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolvePort()));
  });
}

// --- the dev secrets file ----------------------------------------------------------------

/**
 * The dev secrets, kept across restarts in a 0600 file (keys in the state directory are
 * hashed with them, and the root token and demo key stay the same): each generated once.
 * A given KEYGATE_ROOT_TOKEN is used for this run and never written to the file.
 */
function loadDevSecrets(stateDir) {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = `${stateDir}/dev-secrets.json`;
  let stored = {};
  if (existsSync(file)) {
    try {
      stored = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new DevError(`${file} is not valid JSON (${e.message}); fix it, or remove it to start over with new secrets`);
    }
  }
  const secrets = { ...stored };
  for (const name of SECRET_NAMES) secrets[name] ??= randomBytes(32).toString("base64url");
  const save = () => {
    writeFileSync(file, JSON.stringify(secrets, null, 2) + "\n", { mode: 0o600 });
    chmodSync(file, 0o600); // an older file may have been made with other permissions
  };
  if (SECRET_NAMES.some((name) => stored[name] === undefined)) save();
  return { file, secrets, save };
}

// --- what it starts, and stopping it ------------------------------------------------------

/**
 * wrangler.toml for `wrangler dev`, without its [build]: scripts/dev.sh has built already,
 * and with a custom build wrangler runs it again once its file watcher is ready and reloads
 * the Worker — in the middle of the start-up requests below, which then fail or wait. The
 * paths become absolute, since the file lives in the state directory.
 */
function devConfig(stateDir) {
  const text = readFileSync(`${ROOT}wrangler.toml`, "utf8");
  const withoutBuild = text.replace(/^\[build\]\ncommand = .*\n/m, "");
  if (withoutBuild === text) throw new DevError("wrangler.toml: no [build] command found to leave out for wrangler dev");
  const absolute = withoutBuild
    .replace(/^main = "(.*)"$/m, (_, path) => `main = ${JSON.stringify(resolve(ROOT, path))}`)
    .replace(/^directory = "(.*)"$/gm, (_, path) => `directory = ${JSON.stringify(resolve(ROOT, path))}`);
  const file = `${stateDir}/wrangler.dev.toml`;
  writeFileSync(file, `# Made by scripts/dev.mjs from wrangler.toml on each start; edit that file instead.\n${absolute}`);
  return file;
}

const started = { origin: null, wrangler: null };
let stopping = false;
/** wrangler's output in smoke mode, shown only if something fails. */
const smokeOutput = [];

function alive(child) {
  return child && child.exitCode === null && child.signalCode === null;
}

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal); // wrangler runs in its own process group, with workerd
  } catch {
    // already gone
  }
}

/** Stops what was started: wrangler's process group (TERM, then KILL after 5 s), the origin. */
async function stopAll() {
  const wrangler = started.wrangler;
  if (wrangler) {
    if (alive(wrangler)) {
      const exited = new Promise((done) => wrangler.once("exit", done));
      signalGroup(wrangler, "SIGTERM");
      const timer = new Promise((done) => setTimeout(done, 5000).unref());
      await Promise.race([exited, timer]);
    }
    // workerd may outlive wrangler by a moment: nothing of the group may stay.
    signalGroup(wrangler, "SIGKILL");
  }
  if (started.origin) {
    started.origin.closeAllConnections?.();
    await new Promise((done) => started.origin.close(done));
  }
}

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  await stopAll();
  process.exit(code);
}

async function fail(error) {
  const message = error instanceof DevError ? error.message : error?.stack ?? String(error);
  console.error(`keygate dev: ${message}`);
  if (smoke && smokeOutput.length) console.error(Buffer.concat(smokeOutput).toString());
  await shutdown(1);
}

// Last resort, synchronous: whatever way this process ends, wrangler's group ends with it.
process.on("exit", () => {
  if (started.wrangler) signalGroup(started.wrangler, "SIGKILL");
});
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));
process.on("SIGHUP", () => shutdown(0));
process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);

// --- the gateway --------------------------------------------------------------------------

async function waitUntilReady(port, rootToken, timeoutMs) {
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(started.wrangler)) throw new DevError(`wrangler dev exited with code ${started.wrangler.exitCode}; see its output above`);
    try {
      // Only once something really listens: a request to a port nothing listens on yet can
      // connect to itself and take the port from wrangler (scripts/ports.mjs).
      if (!(await acceptsConnections(port))) throw new Error("not listening yet");
      const res = await fetch(`${base}/_keygate/v1/policy`, {
        headers: { authorization: `Bearer ${rootToken}` },
        signal: AbortSignal.timeout(2000),
      });
      if (res.status === 200) return await res.json(); // awaited: a body cut off is "not ready yet" too
      if (res.status === 503) throw new DevError(`the gateway reports a configuration error: ${await res.text()}`);
    } catch (e) {
      if (e instanceof DevError) throw e;
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new DevError(`the gateway did not answer within ${timeoutMs / 1000}s`);
}

/** A request the demo key may make: the policy's first GET route, parameters filled in. */
function exampleRequest(policy) {
  const route = policy.routes.find((r) => r.method === "GET" || r.method === "*") ?? policy.routes[0];
  if (!route) return null;
  return route.path.replace(/\{[^}]+\}/g, "1").replace(/\/\*$/, "/example");
}

const sameScopes = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

/**
 * With plans in the policy, the demo workspace goes on the plan with API access that offers
 * the most resources, so the demo key works whatever the default plan is. Returns that plan
 * (`null` for a policy without plans).
 */
async function demoPlan(admin, policy) {
  const plans = (policy.plans ?? []).filter((p) => p.api_access);
  if ((policy.plans ?? []).length === 0) return null;
  if (plans.length === 0) throw new DevError("no plan in the policy has API access, so no key could work; give one `api_access = true`");
  const plan = plans.reduce((best, p) => (p.resources.length > best.resources.length ? p : best));
  const res = await admin("PUT", "/workspaces/demo", { plan: plan.name });
  if (res.status !== 200) throw new DevError(`could not put the demo workspace on the ${plan.name} plan: ${res.status} ${await res.text()}`);
  return plan;
}

/**
 * The demo key: the stored one while the gateway knows it as active with `scopes`; else a
 * new one (the stale one deleted first), stored for the next start.
 */
async function demoKey(admin, scopes, dev) {
  const stored = dev.secrets.demo_key;
  if (stored?.id && stored?.key) {
    const res = await admin("GET", `/keys/${encodeURIComponent(stored.id)}`);
    if (res.status === 200) {
      const record = await res.json();
      if (record.status === "active" && sameScopes(record.scopes, scopes)) return { ...stored, reused: true };
      const deleted = await admin("DELETE", `/keys/${encodeURIComponent(stored.id)}`);
      if (deleted.status !== 204) throw new DevError(`could not delete the old demo key ${stored.id}: ${deleted.status} ${await deleted.text()}`);
    } else if (res.status !== 404) {
      throw new DevError(`could not read the demo key ${stored.id}: ${res.status} ${await res.text()}`);
    }
  }
  const created = await admin("POST", "/keys", { name: DEMO_KEY_NAME, scopes, workspace: "demo", limits: { per_minute: 60, per_day: 1000 } });
  if (created.status !== 201) throw new DevError(`could not create the demo key: ${created.status} ${await created.text()}`);
  const { id, key } = await created.json();
  dev.secrets.demo_key = { id, key, scopes };
  dev.save();
  return { id, key, scopes, reused: false };
}

/**
 * A portal session for the demo workspace, as a provider's backend would mint one for a
 * member: every permission, 12 hours. Its link opens the portal page on the demo's keys.
 */
async function portalSession(admin) {
  const res = await admin("POST", "/portal/sessions", {
    workspace: "demo",
    member: PORTAL_MEMBER,
    permissions: ["keys:manage", "approvals:review"],
    ttl_seconds: 43_200,
  });
  if (res.status !== 201) throw new DevError(`could not mint a portal session: ${res.status} ${await res.text()}`);
  return res.json();
}

async function main() {
  const settings = checkSettings();
  await checkPortFree(settings.port);
  if (process.argv.includes("--check")) return 0;
  if (!existsSync(`${ROOT}build/index.js`)) throw new DevError("build/index.js is missing; run scripts/dev.sh, which builds first");
  const compiledPolicy = workerPolicy(settings);
  const dev = loadDevSecrets(settings.stateDir);
  const { secrets } = dev;
  const rootToken = settings.rootToken ?? secrets.KEYGATE_ROOT_TOKEN;
  for (const name of ["KEYGATE_HASH_SECRET", "KEYGATE_SIGNING_SECRET", "KEYGATE_WEBHOOK_SECRET"]) {
    if (secrets[name] === rootToken) throw new DevError(`KEYGATE_ROOT_TOKEN: equals ${name}; the gateway refuses two equal secrets`);
  }
  await checkPortFree(settings.port); // again: the build ran since the check
  const inspectorPort = await freeListenPort();

  // Nothing was started before this line.
  let originUrl = settings.origin;
  if (!originUrl) {
    started.origin = await startDemoOrigin({ port: 0, secret: secrets.KEYGATE_SIGNING_SECRET });
    originUrl = `http://127.0.0.1:${started.origin.address().port}`;
  }

  const config = devConfig(settings.stateDir);
  // Secrets go through an env file, so wrangler lists them as hidden rather than printing them.
  const envFile = `${settings.stateDir}/dev.env`;
  writeFileSync(envFile, SECRET_NAMES.map((name) => `${name}=${name === "KEYGATE_ROOT_TOKEN" ? rootToken : secrets[name]}`).join("\n") + "\n", { mode: 0o600 });
  const args = [
    "dev",
    "--config", config,
    "--ip", "127.0.0.1",
    "--port", String(settings.port),
    "--inspector-port", String(inspectorPort),
    "--persist-to", `${settings.stateDir}/state`,
    "--env-file", envFile,
    "--show-interactive-dev-session=false",
    "--var", `KEYGATE_ORIGIN:${originUrl}`,
    "--var", "KEYGATE_HTTPS_ONLY:false",
    "--var", `KEYGATE_POLICY:${compiledPolicy}`,
    // A plain http:// origin that is not loopback is refused unless this says so.
    ...(settings.allowPlainHttp ? ["--var", `KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN:${settings.allowPlainHttp}`] : []),
  ];
  started.wrangler = spawn(`${ROOT}node_modules/.bin/wrangler`, args, {
    cwd: ROOT,
    stdio: ["ignore", smoke ? "pipe" : "inherit", "inherit"],
    detached: true, // its own process group, so stopping it stops workerd too
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
    },
  });
  started.wrangler.stdout?.on("data", (chunk) => smokeOutput.push(chunk));
  started.wrangler.on("exit", (code) => {
    if (!stopping) fail(new DevError(`wrangler dev exited (${code})`));
  });

  const base = `http://127.0.0.1:${settings.port}`;
  const policy = await waitUntilReady(settings.port, rootToken, 120_000);
  /** A request to the gateway, bounded: a gateway that stops answering ends the run with this. */
  const gatewayFetch = async (path, init, what) => {
    try {
      return await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (e) {
      throw new DevError(`${what} did not answer ${init.method ?? "GET"} ${path}: ${e.name === "TimeoutError" ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : e.message}`);
    }
  };
  const admin = (method, path, body) =>
    gatewayFetch(
      `/_keygate/v1${path}`,
      {
        method,
        headers: { authorization: `Bearer ${rootToken}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      },
      "the admin API",
    );
  const plan = await demoPlan(admin, policy);
  const offered = (scope) => !plan || policy.coarse_scopes.includes(scope) || plan.resources.includes(scope.split(":")[0]);
  const scopes = (settings.usingDemoPolicy ? DEMO_SCOPES : policy.scopes).filter(offered);
  const demo = await demoKey(admin, scopes, dev);
  const portal = await portalSession(admin);
  const path = exampleRequest(policy);

  if (smoke) {
    const listed = await admin("GET", "/keys?limit=100&workspace=demo");
    const demoKeys = listed.status === 200 ? (await listed.json()).keys.filter((k) => k.name === DEMO_KEY_NAME).length : "unknown";
    console.log(`smoke: demo key ${demo.id} ${demo.reused ? "reused" : "created"}; demo keys in the store: ${demoKeys}`);
    const page = await gatewayFetch(new URL(portal.url).pathname, {}, "the portal page");
    console.log(`smoke: GET ${new URL(portal.url).pathname} -> ${page.status} ${page.headers.get("content-type")}`);
    if (page.status !== 200) return 1;
    const res = await gatewayFetch(path, { headers: { authorization: `Bearer ${demo.key}` } }, "the gateway");
    const body = await res.text();
    const verified = started.origin ? JSON.parse(body).identity_verified === true : true;
    console.log(`smoke: GET ${path} -> ${res.status}, identity verified at the origin: ${verified}`);
    return res.status === 200 && verified ? 0 : 1;
  }
  console.log(`
keygate is running on ${base}
  origin:         ${originUrl}${started.origin ? " (demo origin: echoes what it receives, verifies the signature)" : ""}
  policy:         ${settings.policyPath}
  root token:     ${rootToken}${settings.rootToken ? "   (from KEYGATE_ROOT_TOKEN)" : ""}
  signing secret: ${secrets.KEYGATE_SIGNING_SECRET}   (your origin verifies X-Keygate-Signature with it)
  webhook secret: ${secrets.KEYGATE_WEBHOOK_SECRET}   (deployment-level webhooks; each key's webhook gets its own secret)
  demo key:       ${demo.key}   (${demo.reused ? "the one from the last start" : "new"}; ${demo.id})
                  scopes: ${scopes.join(" ")}
  kept in:        ${dev.file} (the same root token and demo key on every start)
  portal page:    ${portal.url}
                  (the page your members use, as ${PORTAL_MEMBER.name} of the demo workspace; this link works for 12 hours)

Try it:
  curl -s ${base}${path} -H "Authorization: Bearer ${demo.key}"
${
  settings.usingDemoPolicy
    ? `  curl -s -X DELETE ${base}/v1/contacts/1 -H "Authorization: Bearer ${demo.key}"     # 403: needs contacts:delete
  curl -s ${base}/v1/contacts                                                   # 401: no key
`
    : ""
}  curl -s ${base}/_keygate/v1/policy -H "Authorization: Bearer ${rootToken}"

Press Ctrl-C to stop. State persists in ${settings.stateDir}/state.
`);
  return null; // keep running until Ctrl-C
}

try {
  const code = await main();
  if (code !== null) await shutdown(code);
} catch (error) {
  await fail(error);
}
