// End-to-end harness: the built Worker (build/index.js + wasm) on a real workerd through
// Miniflare, with real KV and Durable Objects, in front of a real local origin server.
import { before, after } from "node:test";
import { Miniflare } from "miniflare";
import { spawn } from "node:child_process";
import { createServer, request as httpRequest } from "node:http";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { acceptsConnections, freeListenPort } from "../../scripts/ports.mjs";
import { compilePolicy } from "../../scripts/policy.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const ROOT_TOKEN = "root-token-for-tests-0123456789abcdef";
export const SIGNING_SECRET = "signing-secret-for-tests-0123456789abcdef";
export const WEBHOOK_SECRET = "webhook-secret-for-tests-0123456789abcdef";
export const HASH_SECRET = "hash-secret-for-tests-0123456789abcdef";

export function policyText(name) {
  return readFileSync(`${ROOT}policies/${name}.toml`, "utf8");
}

/**
 * A real HTTP origin on 127.0.0.1 that records every request it receives.
 * Paths ending in /hang never answer; ending in /redirect answer 302 to another origin; anything else
 * echoes the request as JSON.
 */
export async function startOrigin() {
  const received = [];
  const sockets = new Set();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const record = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      received.push(record);
      const path = req.url.split("?")[0];
      if (path.endsWith("/hang")) return; // never answers
      if (path.endsWith("/redirect")) {
        res.writeHead(302, { location: "http://127.0.0.1:9/elsewhere" });
        return res.end();
      }
      res.writeHead(200, { "content-type": "application/json", "x-origin": "yes" });
      res.end(JSON.stringify(record));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(resolve);
      }),
  };
}

/**
 * A port nothing listens on, below the ephemeral range: a connection to it is refused, never
 * connected to itself (scripts/ports.mjs).
 */
export const deadPort = freeListenPort;

/**
 * Starts a server process (a real origin framework) on a free 127.0.0.1 port, killed after
 * 4 minutes whatever happens, and resolves once it accepts connections (30 s at most).
 * `commandFor(port)` is the command line. Resolves to { port, log, stop }.
 */
export async function startServerProcess(name, commandFor, { cwd }) {
  const port = await freeListenPort();
  const [command, ...args] = commandFor(port);
  const child = spawn("timeout", ["-k", "5", "240", command, ...args], { cwd, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (chunk) => (log = (log + chunk).slice(-4000)));
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (await acceptsConnections(port)) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`${name} did not start on port ${port}: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) process.kill(child.pid, "SIGTERM");
      await exited;
    },
  };
}

/**
 * Starts keygate on workerd. `policy` names a file in policies/ passed as KEYGATE_POLICY;
 * `policy: null` passes none, so the policy bundled into the build is in force.
 * `bindings` override the defaults; a KEYGATE_POLICY among them is a policy file's text
 * (TOML), compiled here as the Worker reads it (scripts/policy.mjs), unless it is already
 * a compiled policy (JSON, so a test can pass one the Worker must refuse) or
 * `compilePolicy: false` passes the text as it is. `withStore: false` leaves
 * out the KV and Durable Object bindings, to prove which refusals never touch storage.
 * `persist` names a directory that keeps storage across a restart of the runtime.
 * The built portal page (portal/dist) is the Worker's static assets as wrangler.toml's
 * `[assets]` makes it: the Worker runs first for every request; `withPortal: false` starts
 * it without them, as a deployment without the built page.
 */
export async function startGateway({ origin, policy = "demo", bindings = {}, compilePolicy: compiling = true, withStore = true, withPortal = true, persist, miniflare = {}, worker = {} } = {}) {
  const policyBinding = bindings.KEYGATE_POLICY ?? (policy === null ? undefined : policyText(policy));
  const compiledBinding =
    policyBinding === undefined ? {} : { KEYGATE_POLICY: compiling && !policyBinding.trimStart().startsWith("{") ? compilePolicy(policyBinding) : policyBinding };
  const mf = new Miniflare({
    // More Miniflare options (e.g. the profiler's `inspectorPort`), and more for the Worker.
    ...miniflare,
    // A directory keeps KV and Durable Object storage across restarts of the runtime.
    ...(persist ? { defaultPersistRoot: persist } : {}),
    host: "127.0.0.1",
    port: 0,
    workers: [
      {
        name: "keygate",
        modules: true,
        scriptPath: `${ROOT}build/index.js`,
        modulesRules: [
          { type: "ESModule", include: ["**/*.js"] },
          { type: "CompiledWasm", include: ["**/*.wasm"] },
        ],
        compatibilityDate: "2026-04-01",
        ...(withPortal
          ? {
              assets: {
                directory: `${ROOT}portal/dist`,
                binding: "ASSETS",
                routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true },
                assetConfig: { html_handling: "none", not_found_handling: "none" },
              },
            }
          : {}),
        kvNamespaces: withStore ? ["KEY_INDEX"] : [],
        durableObjects: withStore ? { KEY_AUTHORITY: { className: "KeyAuthority", useSQLite: true }, KEY_DIRECTORY: { className: "KeyDirectory", useSQLite: true }, APPROVAL_QUEUE: { className: "ApprovalQueue", useSQLite: true } } : {},
        bindings: {
          KEYGATE_ORIGIN: origin,
          KEYGATE_HASH_SECRET: HASH_SECRET,
          KEYGATE_SIGNING_SECRET: SIGNING_SECRET,
          KEYGATE_ROOT_TOKEN: ROOT_TOKEN,
          KEYGATE_WEBHOOK_SECRET: WEBHOOK_SECRET,
          KEYGATE_HTTPS_ONLY: "false",
          KEYGATE_ORIGIN_TIMEOUT_MS: "1500",
          ...bindings,
          ...compiledBinding,
        },
        ...worker,
      },
    ],
    cf: false,
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const gateway = {
    mf,
    url,
    /** A request through the real socket, as a client would send it. */
    request: (path, { key, headers = {}, ...init } = {}) =>
      fetch(`${url}${path}`, {
        redirect: "manual",
        ...init,
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
      }),
    admin: async (method, path, body, token = ROOT_TOKEN) => {
      const res = await fetch(`${url}/_keygate/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : null };
    },
    /** Creates a key and returns the 201 body (with the secret in `key`). */
    createKey: async (body) => {
      const res = await gateway.admin("POST", "/keys", { name: "test key", ...body });
      if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
      return res.json;
    },
    /**
     * A raw HTTP/1.1 request, for what fetch() refuses to send (a Connection header, a
     * GET with a body, a WebDAV method).
     * Resolves to { status, headers, body }.
     */
    rawRequest: (path, headers, { method = "GET", body } = {}) =>
      new Promise((resolve, reject) => {
        const req = httpRequest(`${url}${path}`, { method, headers, timeout: 10_000 }, (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        });
        req.on("timeout", () => req.destroy(new Error("raw request timed out")));
        req.on("error", reject);
        req.end(body);
      }),
    dispose: () => mf.dispose(),
  };
  return gateway;
}

/**
 * For a test file: one origin and one gateway in front of it for all its tests, started
 * before the first and disposed after the last. Use `env.origin` and `env.gw` in tests.
 */
export function useGateway(options = {}) {
  const env = {};
  before(async () => {
    env.origin = await startOrigin();
    env.gw = await startGateway({ origin: env.origin.url, ...options });
  });
  after(async () => {
    await env.gw?.dispose();
    await env.origin?.close();
  });
  return env;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `probe` every `intervalMs` until `done(value)` holds or `timeoutMs` passes; returns
 * the last value either way (the caller asserts on it), never loops unbounded.
 */
export async function poll(probe, done, { timeoutMs = 10_000, intervalMs = 150 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await sleep(intervalMs);
    value = await probe();
  }
  return value;
}

/** Parses an IETF `RateLimit` field into { policyName: { r, t } }. */
export function parseRateLimit(value) {
  const out = {};
  for (const item of (value ?? "").split(",")) {
    const [name, ...params] = item.trim().split(";");
    if (!name) continue;
    const entry = {};
    for (const p of params) {
      const [k, v] = p.split("=");
      entry[k.trim()] = Number(v);
    }
    out[name.replace(/"/g, "")] = entry;
  }
  return out;
}
