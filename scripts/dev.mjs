// Runs keygate locally with `wrangler dev` (workerd, local KV and Durable Objects) in front
// of an origin, creates a demo key and prints a curl that works. Started by scripts/dev.sh.
//
// Environment: KEYGATE_ORIGIN (default: the demo origin, started here), KEYGATE_ROOT_TOKEN
// (default: generated and printed), KEYGATE_PORT (default 8787), KEYGATE_POLICY (policy
// file path, default policies/demo.toml).
// `--smoke`: after start-up, send the printed request, check the answer, stop (for tests).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { startDemoOrigin } from "./demo-origin.mjs";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const STATE_DIR = `${ROOT}.keygate`;
const smoke = process.argv.includes("--smoke");
const port = Number(process.env.KEYGATE_PORT ?? 8787);
const policyPath = process.env.KEYGATE_POLICY ?? "policies/demo.toml";
const usingDemoPolicy = process.env.KEYGATE_POLICY === undefined;

function fail(message) {
  console.error(`keygate dev: ${message}`);
  process.exit(1);
}

if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`KEYGATE_PORT must be a port number, got ${process.env.KEYGATE_PORT}`);
if (!existsSync(`${ROOT}build/index.js`)) fail("build/index.js is missing; run scripts/dev.sh, which builds first");

/** Secrets that must survive restarts (keys in .keygate/state are hashed with them). */
function devSecrets() {
  mkdirSync(STATE_DIR, { recursive: true });
  const file = `${STATE_DIR}/dev-secrets.json`;
  const stored = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  // A secret added by a newer keygate is generated once and kept with the others.
  const secrets = { ...stored };
  for (const name of ["KEYGATE_HASH_SECRET", "KEYGATE_SIGNING_SECRET", "KEYGATE_WEBHOOK_SECRET"]) {
    secrets[name] ??= randomBytes(32).toString("base64url");
  }
  if (Object.keys(secrets).length !== Object.keys(stored).length) {
    writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  return secrets;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port: p } = server.address();
      server.close(() => resolve(p));
    });
  });
}

async function waitUntilReady(base, rootToken, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) fail(`wrangler dev exited with code ${child.exitCode}; see its output above`);
    try {
      const res = await fetch(`${base}/_keygate/v1/policy`, {
        headers: { authorization: `Bearer ${rootToken}` },
        signal: AbortSignal.timeout(2000),
      });
      if (res.status === 200) return res.json();
      if (res.status === 503) fail(`the gateway reports a configuration error: ${await res.text()}`);
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  fail(`the gateway did not answer within ${timeoutMs / 1000}s`);
}

/** A request the demo key may make: the policy's first GET route, parameters filled in. */
function exampleRequest(policy) {
  const route = policy.routes.find((r) => r.method === "GET" || r.method === "*") ?? policy.routes[0];
  if (!route) return null;
  return route.path.replace(/\{[^}]+\}/g, "1").replace(/\/\*$/, "/example");
}

const secrets = devSecrets();
const rootToken = process.env.KEYGATE_ROOT_TOKEN ?? randomBytes(24).toString("base64url");
if (rootToken.length < 32) fail("KEYGATE_ROOT_TOKEN must be at least 32 characters");
let policyText;
try {
  policyText = readFileSync(policyPath, "utf8");
} catch (e) {
  fail(`cannot read the policy file ${policyPath}: ${e.message}`);
}

let demoOrigin = null;
let originUrl = process.env.KEYGATE_ORIGIN;
if (!originUrl) {
  demoOrigin = await startDemoOrigin({ port: 0, secret: secrets.KEYGATE_SIGNING_SECRET });
  originUrl = `http://127.0.0.1:${demoOrigin.address().port}`;
}

// Secrets go through an env file, so wrangler lists them as hidden rather than printing them.
const envFile = `${STATE_DIR}/dev.env`;
writeFileSync(
  envFile,
  [`KEYGATE_HASH_SECRET=${secrets.KEYGATE_HASH_SECRET}`, `KEYGATE_SIGNING_SECRET=${secrets.KEYGATE_SIGNING_SECRET}`, `KEYGATE_ROOT_TOKEN=${rootToken}`, `KEYGATE_WEBHOOK_SECRET=${secrets.KEYGATE_WEBHOOK_SECRET}`].join("\n") + "\n",
  { mode: 0o600 },
);
const args = [
  "dev",
  "--ip", "127.0.0.1",
  "--port", String(port),
  "--inspector-port", String(await freePort()),
  "--persist-to", `${STATE_DIR}/state`,
  "--env-file", envFile,
  "--show-interactive-dev-session=false",
  "--var", `KEYGATE_ORIGIN:${originUrl}`,
  "--var", "KEYGATE_HTTPS_ONLY:false",
  "--var", `KEYGATE_POLICY:${policyText}`,
  // A plain http:// origin that is not loopback is refused unless this says so.
  ...(process.env.KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN ? ["--var", `KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN:${process.env.KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN}`] : []),
];
const child = spawn(`${ROOT}node_modules/.bin/wrangler`, args, {
  cwd: ROOT,
  stdio: ["ignore", smoke ? "pipe" : "inherit", "inherit"],
  detached: true, // own process group, so stopping it stops workerd too
  env: {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    KEYGATE_WASM_OPT: "0", // wrangler re-runs the build on start; skip wasm-opt there
  },
});
const smokeOutput = [];
child.stdout?.on("data", (chunk) => smokeOutput.push(chunk));

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    // already gone
  }
  demoOrigin?.close();
  setTimeout(() => process.exit(code), 500).unref();
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
child.on("exit", (code) => {
  if (!stopping) {
    console.error(`keygate dev: wrangler dev exited (${code})`);
    if (smoke) console.error(Buffer.concat(smokeOutput).toString());
    stop(code ?? 1);
  }
});

const base = `http://127.0.0.1:${port}`;
const policy = await waitUntilReady(base, rootToken, child, 120_000);
const scopes = usingDemoPolicy ? ["contacts:write", "email:send-approval", "analytics:read"] : policy.scopes;
const created = await fetch(`${base}/_keygate/v1/keys`, {
  method: "POST",
  headers: { authorization: `Bearer ${rootToken}`, "content-type": "application/json" },
  body: JSON.stringify({ name: "demo key", scopes, workspace: "demo", limits: { per_minute: 60, per_day: 1000 } }),
});
if (created.status !== 201) fail(`could not create the demo key: ${created.status} ${await created.text()}`);
const demoKey = (await created.json()).key;
const path = exampleRequest(policy);

if (smoke) {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${demoKey}` } });
  const body = await res.text();
  const verified = demoOrigin ? JSON.parse(body).identity_verified === true : true;
  console.log(`smoke: GET ${path} -> ${res.status}, identity verified at the origin: ${verified}`);
  stop(res.status === 200 && verified ? 0 : 1);
} else {
  console.log(`
keygate is running on ${base}
  origin:         ${originUrl}${demoOrigin ? " (demo origin: echoes what it receives, verifies the signature)" : ""}
  policy:         ${policyPath}
  root token:     ${rootToken}
  signing secret: ${secrets.KEYGATE_SIGNING_SECRET}   (your origin verifies X-Keygate-Signature with it)
  webhook secret: ${secrets.KEYGATE_WEBHOOK_SECRET}   (deployment-level webhooks; each key's webhook gets its own secret)
  demo key:       ${demoKey}
                  scopes: ${scopes.join(" ")} (shown once; create more with the admin API)

Try it:
  curl -s ${base}${path} -H "Authorization: Bearer ${demoKey}"
${
  usingDemoPolicy
    ? `  curl -s -X DELETE ${base}/v1/contacts/1 -H "Authorization: Bearer ${demoKey}"     # 403: needs contacts:delete
  curl -s ${base}/v1/contacts                                                   # 401: no key
`
    : ""
}  curl -s ${base}/_keygate/v1/policy -H "Authorization: Bearer ${rootToken}"

Press Ctrl-C to stop. State persists in .keygate/state.
`);
}
