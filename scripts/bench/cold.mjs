#!/usr/bin/env node
// Cold start: how long a fresh isolate takes to answer its first request. Each sample starts
// a new Miniflare (a new workerd, so nothing is cached), waits until it listens, and times
// one request: for keygate an admitted data-plane request with a key created once before the
// samples (its storage is copied afresh for each: the wasm is compiled and instantiated, the
// policy read, one KV read, the key's object loaded from storage, the origin fetched); for
// the bare JS passthrough Worker one proxied request. The difference is what keygate's
// Worker costs a new isolate.
//
//   sh scripts/build.sh                 # the release build this measures
//   node scripts/bench/cold.mjs [--samples 10] [--toml-policy]
//
// --toml-policy hands the Worker the policy as TOML, as builds before `keygate policy
// compile` read it: to measure such a build (put its build/ in place) against today's.
//
// Prints the median and the 90th percentile of each. Everything listens on 127.0.0.1 and
// stops by itself; each sample has a timeout.

import { createServer } from "node:http";
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { startGateway } from "../../tests/e2e/harness.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const args = process.argv.slice(2);
const at = args.indexOf("--samples");
const samples = Number(at >= 0 ? args[at + 1] : 10);
if (!Number.isInteger(samples) || samples < 1 || samples > 100) {
  console.error("usage: node scripts/bench/cold.mjs [--samples 1..100]");
  process.exit(2);
}
const compilePolicy = !args.includes("--toml-policy");
const SAMPLE_TIMEOUT_MS = 60_000;
const watchdog = setTimeout(() => {
  console.error("cold.mjs: gave up after the run's time budget");
  process.exit(1);
}, samples * 2 * SAMPLE_TIMEOUT_MS);
watchdog.unref();

const body = Buffer.from('{"ok":true}');
const origin = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
});
await new Promise((resolve) => origin.listen(0, "127.0.0.1", resolve));
const originUrl = `http://127.0.0.1:${origin.address().port}`;

const withTimeout = (promise, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} timed out`)), SAMPLE_TIMEOUT_MS).unref()),
  ]);

async function timeFirst(url, headers) {
  const started = performance.now();
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return { ms: performance.now() - started, status: res.status };
}

// One key, created once; each sample starts from a copy of the storage it left.
const work = mkdtempSync(join(tmpdir(), "keygate-cold-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
const seeded = join(work, "seed");
const seeder = await withTimeout(startGateway({ origin: originUrl, persist: seeded, compilePolicy }), "starting keygate to seed");
let key;
try {
  ({ key } = await seeder.createKey({ name: "cold start", scopes: ["contacts:read"] }));
} finally {
  await seeder.dispose();
}

async function keygateSample(i) {
  const persist = join(work, `sample-${i}`);
  cpSync(seeded, persist, { recursive: true });
  const gw = await withTimeout(startGateway({ origin: originUrl, persist, compilePolicy }), "starting keygate");
  try {
    const first = await withTimeout(
      timeFirst(`${gw.url}/v1/contacts`, { authorization: `Bearer ${key}` }),
      "keygate's first request",
    );
    if (first.status !== 200) throw new Error(`keygate answered ${first.status} to its first request`);
    return first.ms;
  } finally {
    await gw.dispose();
    rmSync(persist, { recursive: true, force: true });
  }
}

async function passthroughSample() {
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    modules: true,
    scriptPath: `${ROOT}scripts/bench/passthrough.js`,
    compatibilityDate: "2026-04-01",
    bindings: { ORIGIN: originUrl },
    cf: false,
  });
  try {
    const url = (await withTimeout(mf.ready, "starting the passthrough")).toString().replace(/\/$/, "");
    const first = await withTimeout(timeFirst(`${url}/v1/contacts`, {}), "the passthrough's first request");
    if (first.status !== 200) throw new Error(`the passthrough answered ${first.status}`);
    return first.ms;
  } finally {
    await mf.dispose();
  }
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};

const times = { keygate: [], passthrough: [] };
try {
  for (let i = 0; i < samples; i++) {
    // Interleaved, so a busy moment of the machine falls on both.
    times.passthrough.push(await passthroughSample());
    times.keygate.push(await keygateSample(i));
  }
} finally {
  origin.close();
}
const wasm = `${ROOT}build/index_bg.wasm`;
console.log(`samples: ${samples} of each, interleaved`);
console.log("target        median ms   p90 ms");
for (const [name, values] of Object.entries(times)) {
  console.log(`${name.padEnd(12)}  ${quantile(values, 0.5).toFixed(1).padStart(9)}  ${quantile(values, 0.9).toFixed(1).padStart(7)}`);
}
console.log(`wasm: ${statSync(wasm).size} B raw, ${gzipSync(readFileSync(wasm), { level: 9 }).length} B gzipped`);
