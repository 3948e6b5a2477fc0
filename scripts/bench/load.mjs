#!/usr/bin/env node
// End-to-end load benchmark: keygate's built Worker on workerd (through Miniflare, as in
// tests/e2e/harness.mjs) against a bare JS passthrough Worker, both in front of the same
// fast local origin, driven by the same load generator with the same settings.
//
//   sh scripts/build.sh            # release build + wasm-opt; this script measures build/
//   node scripts/bench/load.mjs [--duration 8] [--concurrency 16] [--warmup 2]
//                               [--threads 1] [--keys 1] [--platform] [--rounds 1]
//                               [--generator wrk|node] [--no-install] [--json]
//
// Settings can also come from the environment: BENCH_DURATION, BENCH_CONCURRENCY,
// BENCH_WARMUP, BENCH_THREADS, BENCH_KEYS, BENCH_ROUNDS, BENCH_GENERATOR. --keys N creates N keys and
// sends requests round-robin over them (to both targets), to spread keygate's per-key
// Durable Object work; the default, 1, is one client's traffic. --platform adds two more
// targets, scripts/bench/platform.js: a JS Worker making only keygate's platform calls (KV
// read, Durable Object request with a storage put, origin fetch), once as is and once with
// the KV answer kept in the isolate (as keygate keeps it). --rounds N measures every target
// N times, interleaved (target by target, round by round), and reports each round's ratios
// to the passthrough of the same round and their medians.
//
// The load generator is `wrk` when it is on PATH; when it is not and this runs as root,
// `apt-get install -y wrk` is tried once (unless --no-install), and otherwise a built-in
// Node keep-alive loop with fixed concurrency is used. Everything binds 127.0.0.1. Exit codes: 0 ok, 1 failure (including
// any gateway answer other than 200), 2 usage or missing build.

import { Miniflare } from "miniflare";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { gzipSync } from "node:zlib";

// Miniflare keeps Durable Object storage under os.tmpdir(). On a disk-backed /tmp every
// storage put waits on fsync, and the baselines and keygate then measure the disk (on this
// VM: 186 req/s for the platform-calls JS Worker on /tmp, 644 on /dev/shm). A memory-backed
// directory is closer to what the platform's own storage costs a request; TMPDIR set by the
// caller wins.
if (!process.env.TMPDIR && existsSync("/dev/shm")) process.env.TMPDIR = "/dev/shm";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ROUTE = "/v1/contacts"; // GET, mapped to contacts:read in policies/demo.toml
const STARTUP_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;
const DISPOSE_TIMEOUT_MS = 10_000;
const INSTALL_TIMEOUT_MS = 180_000;

// ---------------------------------------------------------------------------------------
// Settings

function usage(message) {
  if (message) console.error(`load.mjs: ${message}`);
  console.error(
    "usage: node scripts/bench/load.mjs [--duration S] [--concurrency N] [--warmup S] [--threads N]\n" +
      "                                  [--keys N] [--platform] [--rounds N] [--generator wrk|node] [--no-install] [--json]",
  );
  process.exit(2);
}

function parseSettings(argv) {
  const env = process.env;
  const s = {
    duration: Number(env.BENCH_DURATION ?? 8),
    concurrency: Number(env.BENCH_CONCURRENCY ?? 16),
    warmup: Number(env.BENCH_WARMUP ?? 2),
    threads: Number(env.BENCH_THREADS ?? 1),
    keys: Number(env.BENCH_KEYS ?? 1),
    rounds: Number(env.BENCH_ROUNDS ?? 1),
    generator: env.BENCH_GENERATOR ?? "auto",
    install: true,
    platform: false,
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--duration": s.duration = Number(value()); break;
      case "--concurrency": s.concurrency = Number(value()); break;
      case "--warmup": s.warmup = Number(value()); break;
      case "--threads": s.threads = Number(value()); break;
      case "--keys": s.keys = Number(value()); break;
      case "--rounds": s.rounds = Number(value()); break;
      case "--generator": s.generator = value(); break;
      case "--no-install": s.install = false; break;
      case "--platform": s.platform = true; break;
      case "--json": s.json = true; break;
      case "-h": case "--help": usage(); break;
      default: usage(`unknown argument ${arg}`);
    }
  }
  const whole = (n, min) => Number.isInteger(n) && n >= min;
  if (!whole(s.duration, 1) || s.duration > 600) usage("--duration must be a whole number of seconds, 1..600");
  if (!whole(s.warmup, 0) || s.warmup > 60) usage("--warmup must be a whole number of seconds, 0..60");
  if (!whole(s.concurrency, 1) || s.concurrency > 1024) usage("--concurrency must be 1..1024");
  if (!whole(s.threads, 1) || s.threads > s.concurrency) usage("--threads must be 1..concurrency");
  if (!whole(s.keys, 1) || s.keys > 1000) usage("--keys must be 1..1000");
  if (!whole(s.rounds, 1) || s.rounds > 20) usage("--rounds must be 1..20");
  if (!["auto", "wrk", "node"].includes(s.generator)) usage("--generator must be wrk, node or auto");
  return s;
}

const settings = parseSettings(process.argv.slice(2));
const log = (...args) => console.error("[bench]", ...args);

// ---------------------------------------------------------------------------------------
// Cleanup: every resource registers how to release it; released in reverse order, always.

const cleanups = [];
/** Synchronous, idempotent releases, also run from the 'exit' event (see below). */
const exitReleases = [];
let cleaning = null;

function register(what, release, { sync = false } = {}) {
  cleanups.push({ what, release });
  if (sync) exitReleases.push(release);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function cleanup() {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const { what, release } = cleanups.pop();
      try {
        await withTimeout(Promise.resolve().then(release), DISPOSE_TIMEOUT_MS, `releasing ${what}`);
      } catch (error) {
        log(`could not release ${what}: ${error.message}`);
      }
    }
  })();
  return cleaning;
}

// On SIGINT/SIGTERM Miniflare's own exit hook kills its workerd and calls process.exit()
// at once, so the async cleanup above may not finish; releases marked `sync` (the wrk
// child, the temporary directory) also run from the synchronous 'exit' event.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (cleaning) return;
    log(`${signal}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}
process.on("exit", () => {
  for (const release of exitReleases) {
    try {
      release();
    } catch {
      // best effort: the process is going away
    }
  }
});

// ---------------------------------------------------------------------------------------
// Preconditions

const WASM = join(ROOT, "build/index_bg.wasm");
const GLUE = join(ROOT, "build/index.js");

function checkBuild() {
  if (!existsSync(WASM) || !existsSync(GLUE)) {
    console.error(
      "load.mjs: build/index.js and build/index_bg.wasm are missing.\n" +
        "Run `sh scripts/build.sh` first (release build with wasm-opt), then this script.",
    );
    process.exit(2);
  }
  // Warn, don't fail: a stale build still runs, it just is not what the sources say.
  const built = statSync(WASM).mtimeMs;
  const newer = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".rs") && statSync(path).mtimeMs > built) newer.push(path.slice(ROOT.length));
    }
  };
  walk(join(ROOT, "src"));
  for (const f of ["Cargo.toml", "Cargo.lock"]) {
    if (statSync(join(ROOT, f)).mtimeMs > built) newer.push(f);
  }
  if (newer.length) log(`warning: build/ is older than ${newer.slice(0, 3).join(", ")}${newer.length > 3 ? ", ..." : ""}; rerun sh scripts/build.sh`);
}

function wasmSize() {
  const bytes = readFileSync(WASM);
  const gzip = spawnSync("gzip", ["-9c", WASM], { maxBuffer: 64 << 20, timeout: 30_000 });
  if (gzip.status === 0) return { raw: bytes.length, gzip9: gzip.stdout.length, gzipTool: "gzip -9" };
  return { raw: bytes.length, gzip9: gzipSync(bytes, { level: 9 }).length, gzipTool: "zlib level 9" };
}

// ---------------------------------------------------------------------------------------
// The origin: node http on 127.0.0.1 in its own thread, so a Node load loop in this thread
// cannot starve it. A tiny fixed JSON body, keep-alive, no logging.

async function startFastOrigin() {
  const source = `
    const { parentPort } = require("node:worker_threads");
    const { createServer } = require("node:http");
    const body = Buffer.from('{"ok":true,"items":[]}');
    let served = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        served++;
        res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
        res.end(body);
      });
    });
    server.keepAliveTimeout = 60_000;
    server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
    parentPort.on("message", (m) => {
      if (m === "served") parentPort.postMessage({ served });
      if (m === "close") { server.closeAllConnections(); server.close(() => process.exit(0)); }
    });
  `;
  const worker = new Worker(source, { eval: true });
  const { port } = await withTimeout(
    new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    }),
    STARTUP_TIMEOUT_MS,
    "starting the origin",
  );
  return {
    url: `http://127.0.0.1:${port}`,
    served: () =>
      withTimeout(new Promise((resolve) => {
        worker.once("message", (m) => resolve(m.served));
        worker.postMessage("served");
      }), 5_000, "asking the origin for its count"),
    close: async () => {
      const exited = new Promise((resolve) => worker.once("exit", resolve));
      worker.postMessage("close");
      await withTimeout(exited, 5_000, "closing the origin").catch(() => worker.terminate());
    },
  };
}

// ---------------------------------------------------------------------------------------
// The two Workers under test.

async function startPassthrough(origin) {
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    workers: [
      {
        name: "passthrough",
        modules: true,
        scriptPath: join(ROOT, "scripts/bench/passthrough.js"),
        compatibilityDate: "2026-04-01",
        bindings: { ORIGIN: origin },
      },
    ],
    cf: false,
  });
  register("passthrough Miniflare", () => mf.dispose());
  const url = (await withTimeout(mf.ready, STARTUP_TIMEOUT_MS, "starting the passthrough Worker")).toString().replace(/\/$/, "");
  return { url };
}

/** The --platform target: keygate's KV + Durable Object + fetch calls, in plain JS. */
async function startPlatform(origin, keys, { cacheKv }) {
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    workers: [
      {
        name: "platform",
        modules: true,
        scriptPath: join(ROOT, "scripts/bench/platform.js"),
        compatibilityDate: "2026-04-01",
        kvNamespaces: ["KEY_INDEX"],
        durableObjects: { KEY_AUTHORITY: { className: "KeyAuthority", useSQLite: true }, KEY_DIRECTORY: { className: "KeyDirectory", useSQLite: true } },
        bindings: { ORIGIN: origin, CACHE_KV: cacheKv ? "1" : "0" },
      },
    ],
    cf: false,
  });
  register("platform Miniflare", () => mf.dispose());
  const url = (await withTimeout(mf.ready, STARTUP_TIMEOUT_MS, "starting the platform Worker")).toString().replace(/\/$/, "");
  const kv = await mf.getKVNamespace("KEY_INDEX");
  await withTimeout(Promise.all(keys.map((key, i) => kv.put(`h1:${key}`, `key_${i}`))), REQUEST_TIMEOUT_MS, "seeding the platform KV");
  return { url };
}

async function startKeygate(origin) {
  // Imported here so a missing build is reported by checkBuild(), not by an import error.
  const { startGateway } = await import("../../tests/e2e/harness.mjs");
  const started = startGateway({ origin });
  // Register disposal as soon as the instance exists, even if `ready` then times out.
  register("keygate Miniflare", async () => (await started).dispose());
  const gw = await withTimeout(started, STARTUP_TIMEOUT_MS, "starting keygate on workerd");
  // The same gateway, the same policy: the lease-mode keys choose it per key.
  const create = async (enforcement) => {
    const keys = [];
    for (let i = 0; i < settings.keys; i++) {
      const created = await withTimeout(
        gw.createKey({
          name: `load benchmark ${enforcement} ${i + 1}`,
          scopes: ["contacts:read"],
          limits: { per_minute: 1_000_000, per_day: 1_000_000_000 },
          enforcement,
        }),
        REQUEST_TIMEOUT_MS,
        `creating a benchmark key (${enforcement})`,
      );
      keys.push(created.key);
    }
    return keys;
  };
  return { url: gw.url, keys: await create("exact"), leaseKeys: await create("lease") };
}

/** One request through the real socket, to prove a target answers 200 before loading it. */
async function probe(name, url, headers) {
  const res = await withTimeout(fetch(url, { headers, redirect: "manual" }), REQUEST_TIMEOUT_MS, `probing ${name}`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${name} answered ${res.status} to the probe: ${text.slice(0, 300)}`);
}

// ---------------------------------------------------------------------------------------
// Load generators. Both return
// { requests, seconds, rps, latencyMs: { mean, p50, p99, max }, statuses, non2xx, non200, errors }.
// `keys` are sent round-robin as `Authorization: Bearer <key>`; `headers` with every request.

function onPath(command) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  return null;
}

function tryInstallWrk() {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    log("wrk is not on PATH and this is not root: using the built-in Node load loop");
    return false;
  }
  const policy = spawnSync("apt-cache", ["policy", "wrk"], { encoding: "utf8", timeout: 30_000 });
  const candidate = /Candidate:\s*(\S+)/.exec(policy.stdout ?? "")?.[1];
  if (policy.status !== 0 || !candidate || candidate === "(none)") {
    log("wrk is not on PATH and apt has no candidate for it: using the built-in Node load loop");
    return false;
  }
  log(`wrk is not on PATH: apt-get install -y wrk (${candidate}); pass --no-install to skip`);
  const install = spawnSync("apt-get", ["install", "-y", "wrk"], {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
    timeout: INSTALL_TIMEOUT_MS,
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (install.status !== 0) {
    log(`apt-get install wrk failed (${install.error?.message ?? install.stderr?.trim().split("\n").pop()}): using the built-in Node load loop`);
    return false;
  }
  return onPath("wrk") !== null;
}

function chooseGenerator() {
  if (settings.generator === "node") return "node";
  if (onPath("wrk")) return "wrk";
  if (settings.generator === "wrk" || settings.install) {
    if (settings.install && tryInstallWrk()) return "wrk";
    if (settings.generator === "wrk") throw new Error("--generator wrk, but wrk is not available");
  } else {
    log("wrk is not on PATH (and --no-install): using the built-in Node load loop");
  }
  return "node";
}

// wrk counts only status > 399 as errors; this script counts every status, so that a 202
// or a 3xx is caught too. The callbacks run in each thread's Lua state; done() sums them.
const WRK_SCRIPT = `
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do merged[status] = (merged[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(merged) do table.insert(parts, string.format('"%d":%d', status, n)) end
  local e = summary.errors
  io.write(string.format(
    'KEYGATE_BENCH {"requests":%d,"duration_us":%d,"mean_us":%f,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"statuses":{%s}}\\n',
    summary.requests, summary.duration, latency.mean, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
`;

// With one key the request is static (wrk's fast path); with several, request() rotates them.
const wrkRotation = (keys) => `
local keys = { ${keys.map((k) => JSON.stringify(k)).join(", ")} }
local n = 0
function request()
  n = n % #keys + 1
  wrk.headers["authorization"] = "Bearer " .. keys[n]
  return wrk.format()
end
`;

let wrkScriptPath = null;
function wrkScript(keys) {
  if (!wrkScriptPath) {
    const dir = mkdtempSync(join(tmpdir(), "keygate-bench-"));
    register("wrk script", () => rmSync(dir, { recursive: true, force: true }), { sync: true });
    wrkScriptPath = join(dir, "count.lua");
    writeFileSync(wrkScriptPath, WRK_SCRIPT + (keys.length > 1 ? wrkRotation(keys) : ""));
  }
  return wrkScriptPath;
}

function runWrk(url, keys, headers, seconds) {
  const args = ["-t", String(settings.threads), "-c", String(settings.concurrency), "-d", `${seconds}s`,
    "--timeout", "5s", "-s", wrkScript(keys)];
  for (const [name, value] of Object.entries({ authorization: `Bearer ${keys[0]}`, ...headers })) {
    args.push("-H", `${name}: ${value}`);
  }
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    const release = () => { if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL"); };
    register("wrk", release, { sync: true });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    const timer = setTimeout(() => { release(); reject(new Error(`wrk did not finish within ${seconds + 30} s`)); }, (seconds + 30) * 1000);
    child.on("error", (e) => { clearTimeout(timer); reject(e); });
    child.on("close", (code) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith("KEYGATE_BENCH "));
      if (code !== 0 || !line) return reject(new Error(`wrk failed (exit ${code}): ${(err || out).trim().slice(0, 500)}`));
      const r = JSON.parse(line.slice("KEYGATE_BENCH ".length));
      const secs = r.duration_us / 1e6;
      const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
      resolve(summarise({
        requests: r.requests, seconds: secs, statuses: r.statuses, errors,
        latencyMs: { mean: r.mean_us / 1000, p50: r.p50_us / 1000, p99: r.p99_us / 1000, max: r.max_us / 1000 },
      }));
    });
  });
}

/** The fallback: `concurrency` loops, each one request at a time over keep-alive fetch. */
async function runNodeLoop(url, keys, headers, seconds) {
  const latencies = [];
  let next = 0;
  const statuses = {};
  let errors = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(seconds) * 1_000_000_000n;
  const loop = async () => {
    while (process.hrtime.bigint() < end) {
      const t0 = process.hrtime.bigint();
      try {
        const authorization = `Bearer ${keys[next++ % keys.length]}`;
        const res = await fetch(url, { headers: { authorization, ...headers }, redirect: "manual", signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      } catch {
        errors++;
      }
    }
  };
  await withTimeout(Promise.all(Array.from({ length: settings.concurrency }, loop)), (seconds + 30) * 1000, "the Node load loop");
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  latencies.sort((a, b) => a - b);
  const pick = (q) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : NaN);
  const mean = latencies.reduce((a, b) => a + b, 0) / (latencies.length || 1);
  return summarise({
    requests: latencies.length, seconds: secs, statuses, errors,
    latencyMs: { mean, p50: pick(0.5), p99: pick(0.99), max: latencies.at(-1) ?? NaN },
  });
}

function summarise(r) {
  const count = (pred) => Object.entries(r.statuses).filter(([s]) => pred(Number(s))).reduce((a, [, n]) => a + n, 0);
  return {
    ...r,
    rps: r.requests / r.seconds,
    non2xx: count((s) => s < 200 || s > 299),
    non200: count((s) => s !== 200),
  };
}

// ---------------------------------------------------------------------------------------
// Report

/** A target against the passthrough of the same round. */
const versus = (g, base) => ({
  throughputRatio: g.rps / base.rps,
  addedP50Ms: g.latencyMs.p50 - base.latencyMs.p50,
  addedMeanMs: g.latencyMs.mean - base.latencyMs.mean,
});

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r, ri) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  ") +
      (ri === 0 ? `\n${widths.map((w) => "-".repeat(w)).join("  ")}` : ""))
    .join("\n");
}

function report(result, targets) {
  const { rounds, medians, wasm, settings: s, generator } = result;
  console.log(`load generator: ${generator}, ${s.concurrency} connections, ${s.threads} thread(s), ` +
    `${s.duration} s per target after ${s.warmup} s warm-up, GET ${ROUTE}, ${s.keys} key(s), ${s.rounds} round(s)`);
  rounds.forEach((round, i) => {
    if (rounds.length > 1) console.log(`\nround ${i + 1}`);
    console.log(table([
      ["target", "req/s", "ratio", "mean ms", "p50 ms", "+p50 ms", "p99 ms", "max ms", "requests", "non-2xx", "errors"],
      ...targets.map(({ name, label }) => {
        const r = round.results[name];
        const v = round.ratios[name];
        return [label, fmt(r.rps, 0), fmt(v.throughputRatio, 3), fmt(r.latencyMs.mean), fmt(r.latencyMs.p50),
          fmt(v.addedP50Ms), fmt(r.latencyMs.p99), fmt(r.latencyMs.max), r.requests, r.non2xx, r.errors];
      }),
    ]));
  });
  console.log(`\n${rounds.length > 1 ? `median of ${rounds.length} rounds` : "summary"} (ratios to the passthrough of the same round):`);
  console.log(table([
    ["target", "throughput ratio", "added p50 ms"],
    ...targets.filter(({ name }) => name !== "passthrough").map(({ name, label }) =>
      [label, fmt(medians[name].throughputRatio, 3), fmt(medians[name].addedP50Ms)]),
  ]));
  console.log(`wasm: build/index_bg.wasm ${wasm.raw} B raw, ${wasm.gzip9} B gzipped (${wasm.gzipTool})`);
}

// ---------------------------------------------------------------------------------------

async function main() {
  checkBuild();
  // Measured before anything starts: build/ may be rebuilt by someone else meanwhile.
  const wasm = wasmSize();
  const generator = chooseGenerator();
  const run = generator === "wrk" ? runWrk : runNodeLoop;
  log(`load generator: ${generator}`);

  const origin = await startFastOrigin();
  register("origin", () => origin.close());
  log(`origin on ${origin.url}`);

  const gateway = await startKeygate(origin.url);
  log(`keygate on ${gateway.url}`);
  const passthrough = await startPassthrough(origin.url);
  log(`passthrough on ${passthrough.url}`);
  const targets = [{ name: "passthrough", label: "passthrough (JS)", url: passthrough.url }];
  if (settings.platform) {
    const platform = await startPlatform(origin.url, gateway.keys, { cacheKv: false });
    const cached = await startPlatform(origin.url, gateway.keys, { cacheKv: true });
    log(`platform on ${platform.url}, with KV cached on ${cached.url}`);
    targets.push({ name: "platform", label: "platform calls (JS)", url: platform.url });
    targets.push({ name: "platform_cached", label: "platform calls, KV cached (JS)", url: cached.url });
  }
  targets.push({ name: "gateway", label: "keygate (exact)", url: gateway.url });
  targets.push({ name: "gateway_lease", label: "keygate (lease)", url: gateway.url, keys: gateway.leaseKeys });

  // The same headers to every target; the passthrough forwards the Authorization header
  // to the origin, keygate strips it. Every target but the lease one sends the exact keys.
  for (const target of targets) target.keys ??= gateway.keys;
  const headers = { accept: "application/json" };
  for (const { name, url, keys } of targets) {
    for (const key of keys) await probe(name, `${url}${ROUTE}`, { authorization: `Bearer ${key}`, ...headers });
  }

  const rounds = [];
  for (let round = 1; round <= settings.rounds; round++) {
    const results = {};
    for (const { name, url, keys } of targets) {
      if (settings.warmup > 0) {
        log(`round ${round}, ${name}: warm-up ${settings.warmup} s`);
        const warm = await run(`${url}${ROUTE}`, keys, headers, settings.warmup);
        if (warm.non2xx || warm.errors) log(`${name}: warm-up saw ${warm.non2xx} non-2xx and ${warm.errors} errors`);
      }
      log(`round ${round}, ${name}: measuring ${settings.duration} s`);
      results[name] = await run(`${url}${ROUTE}`, keys, headers, settings.duration);
    }
    const ratios = Object.fromEntries(targets.map(({ name }) => [name, versus(results[name], results.passthrough)]));
    rounds.push({ results, ratios });
  }
  const medians = Object.fromEntries(targets.map(({ name }) => [name, {
    throughputRatio: median(rounds.map((r) => r.ratios[name].throughputRatio)),
    addedP50Ms: median(rounds.map((r) => r.ratios[name].addedP50Ms)),
  }]));
  const originServed = await origin.served().catch(() => null);

  const result = {
    generator,
    settings: {
      duration: settings.duration, warmup: settings.warmup, concurrency: settings.concurrency,
      threads: settings.threads, keys: settings.keys, rounds: settings.rounds, route: `GET ${ROUTE}`,
    },
    rounds,
    medians,
    originServed,
    wasm,
  };
  if (settings.json) console.log(JSON.stringify(result, null, 2));
  else report(result, targets);

  const problems = [];
  for (const [i, { results }] of rounds.entries()) {
    for (const { name } of targets) {
      const r = results[name];
      // keygate must answer exactly 200; the JS targets only some 2xx.
      const bad = name.startsWith("gateway") ? r.non200 : r.non2xx;
      if (bad > 0 || r.errors > 0) problems.push(`round ${i + 1}, ${name}: ${bad} unexpected statuses, ${r.errors} socket errors or timeouts: ${JSON.stringify(r.statuses)}`);
      if (r.requests === 0) problems.push(`round ${i + 1}, ${name}: completed no requests`);
    }
  }
  return problems;
}

let exitCode = 0;
const budgetMs = STARTUP_TIMEOUT_MS * 6 + INSTALL_TIMEOUT_MS + 5 * settings.rounds * (settings.duration + settings.warmup + 60) * 1000;
const watchdog = setTimeout(() => {
  log(`the whole run exceeded ${Math.round(budgetMs / 1000)} s; giving up`);
  cleanup().finally(() => process.exit(1));
}, budgetMs);
try {
  const problems = await main();
  for (const p of problems) log(`FAIL: ${p}`);
  if (problems.length) exitCode = 1;
} catch (error) {
  log(`FAIL: ${error?.stack ?? error}`);
  exitCode = 1;
} finally {
  await cleanup();
  clearTimeout(watchdog);
}
process.exit(exitCode);
