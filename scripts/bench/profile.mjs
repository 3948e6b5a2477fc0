#!/usr/bin/env node
// Where keygate's time goes: a V8 CPU profile of the Worker (and its Durable Objects, which
// run in the same isolate locally) on workerd, taken through the inspector while wrk loads
// one key's GET, and summarised by self time.
//
//   KEYGATE_WASM_OPT=0 sh scripts/build.sh    # keeps the wasm's function names
//   node scripts/bench/profile.mjs [--duration 8] [--concurrency 16] [--top 40] [--out FILE]
//                                  [--enforcement exact|lease]
//
// Prints the functions with the most self time, and the same grouped by where they live
// (wasm by crate, JS glue, the runtime's own built-ins). --out writes the .cpuprofile
// (Chrome DevTools opens it). Needs `wrk` on PATH (load.mjs installs it). Everything listens
// on 127.0.0.1 and stops by itself. Run with TMPDIR=/dev/shm where it exists: Miniflare keeps
// Durable Object storage under the temporary directory, and a busy disk's fsync otherwise
// shows up as idle time.

import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { writeFileSync } from "node:fs";
import { WebSocket } from "ws";
import { startGateway } from "../../tests/e2e/harness.mjs";
import { freeListenPort } from "../ports.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
};
const duration = Number(option("--duration", 8));
const concurrency = Number(option("--concurrency", 16));
const top = Number(option("--top", 40));
const out = option("--out", null);
// The key's enforcement ("exact" or "lease"): which of the data plane's paths is profiled.
const enforcement = option("--enforcement", "exact");
const watchdog = setTimeout(() => {
  console.error("profile.mjs: gave up after the run's time budget");
  process.exit(1);
}, (duration + 120) * 1000);

const body = Buffer.from('{"ok":true,"items":[]}');
const origin = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
});
await new Promise((resolve) => origin.listen(0, "127.0.0.1", resolve));
const inspectorPort = await freeListenPort();
const gateway = await startGateway({
  origin: `http://127.0.0.1:${origin.address().port}`,
  miniflare: { inspectorPort },
  worker: { unsafeInspectorProxy: true },
});

try {
  const { key } = await gateway.createKey({
    name: "profile",
    scopes: ["contacts:read"],
    limits: { per_minute: 1_000_000, per_day: 1_000_000_000 },
    enforcement,
  });
  const probe = await gateway.request("/v1/contacts", { key });
  if (probe.status !== 200) throw new Error(`the probe answered ${probe.status}`);

  const socket = new WebSocket(`ws://127.0.0.1:${inspectorPort}/keygate`);
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  let nextId = 1;
  const pending = new Map();
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString());
    if (message.id && pending.has(message.id)) {
      pending.get(message.id)(message);
      pending.delete(message.id);
    }
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
      socket.send(JSON.stringify({ id, method, params }));
    });

  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 100 });
  await wrk(`${gateway.url}/v1/contacts`, key, 2); // warm-up, not profiled
  await send("Profiler.start");
  const load = await wrk(`${gateway.url}/v1/contacts`, key, duration);
  const { profile } = await send("Profiler.stop");
  socket.close();
  if (out) writeFileSync(out, JSON.stringify(profile));
  console.log(load.trim().split("\n").filter((l) => /Requests\/sec|Latency/.test(l)).join("\n"));
  summarise(profile);
} finally {
  await gateway.dispose();
  origin.close();
  clearTimeout(watchdog);
}

function wrk(url, key, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", ["-t1", `-c${concurrency}`, `-d${seconds}s`, "-H", `authorization: Bearer ${key}`, url], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let text = "";
    child.stdout.on("data", (chunk) => (text += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}`));
    });
  });
}

/** Self time per function and per group, from the profile's samples. */
function summarise(profile) {
  const interval = new Map();
  // timeDeltas[i] is the time before sample i: the time of sample i-1's node.
  for (let i = 1; i < profile.samples.length; i++) {
    const node = profile.samples[i - 1];
    interval.set(node, (interval.get(node) ?? 0) + profile.timeDeltas[i]);
  }
  const byFunction = new Map();
  const byGroup = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const us = interval.get(node.id) ?? 0;
    if (!us) continue;
    total += us;
    const { functionName, url } = node.callFrame;
    const name = functionName || "(anonymous)";
    const where = url.includes("wasm") || url.startsWith("wasm://") ? "wasm" : url ? url.split("/").pop() : "";
    const fn = `${name}${where ? `  [${where}]` : ""}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const group = groupOf(name, url);
    byGroup.set(group, (byGroup.get(group) ?? 0) + us);
  }
  const show = (map, n) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`)
      .join("\n");
  console.log(`\nsampled ${(total / 1000).toFixed(0)} ms of CPU in the isolate\n\nby group:\n${show(byGroup, 30)}`);
  console.log(`\nby function (self time, top ${top}):\n${show(byFunction, top)}`);
}

function groupOf(name, url) {
  if (name === "(idle)" || name === "(program)" || name === "(garbage collector)") return name;
  if (url.startsWith("wasm://") || /\.wasm/.test(url)) {
    // Rust symbol names: the crate is the first path segment.
    const crate = /^(?:<)?([a-z_][a-z0-9_]*)::/.exec(name)?.[1] ?? "wasm (unnamed)";
    return `wasm: ${crate}`;
  }
  if (url.endsWith("index.js") || url.includes("/build/")) return "JS glue (build/index.js)";
  if (!url) return `runtime: ${name}`;
  return `JS: ${url.split("/").pop()}`;
}
