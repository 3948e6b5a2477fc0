#!/usr/bin/env node
// Listing benchmark: creates N keys in one workspace through the admin API on workerd
// (Miniflare, as in tests/e2e/harness.mjs), then times list pages.
//
//   sh scripts/build.sh
//   node scripts/bench/list.mjs [--keys 10000] [--samples 50]
//
// Prints: create throughput; latency (p50/p95/max) of the first page, of pages deep in the
// list (by cursor), of a status-filtered page, and the time to walk the whole list.
import { startGateway, startOrigin } from "../../tests/e2e/harness.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const KEYS = option("keys", 10_000);
const SAMPLES = option("samples", 50);
if (!(KEYS >= 100 && SAMPLES >= 1)) {
  console.error("usage: node scripts/bench/list.mjs [--keys N>=100] [--samples N>=1]");
  process.exit(2);
}

const origin = await startOrigin();
const gw = await startGateway({ origin: origin.url });
const hardStop = setTimeout(() => {
  console.error("list.mjs: gave up after 20 minutes");
  process.exit(1);
}, 20 * 60_000);

try {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < KEYS) {
        const i = next++;
        const res = await gw.admin("POST", "/keys", { name: `bench ${i}`, scopes: ["contacts:read"], workspace: "bench" });
        if (res.status !== 201) throw new Error(`create ${i}: ${res.status} ${res.text}`);
      }
    }),
  );
  const createSecs = (performance.now() - started) / 1000;

  const timed = async (path) => {
    const t = performance.now();
    const res = await gw.admin("GET", path);
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${res.text}`);
    return { ms: performance.now() - t, body: res.json };
  };
  const stats = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return `p50 ${at(0.5).toFixed(1)} ms, p95 ${at(0.95).toFixed(1)} ms, max ${sorted.at(-1).toFixed(1)} ms`;
  };

  // Walk the whole list once, keeping cursors to sample deep pages later.
  const cursors = [];
  let cursor = null;
  let listed = 0;
  const walkStart = performance.now();
  do {
    const { body } = await timed(`/keys?workspace=bench&limit=100${cursor ? `&cursor=${cursor}` : ""}`);
    listed += body.keys.length;
    cursor = body.next_cursor;
    if (cursor) cursors.push(cursor);
  } while (cursor);
  const walkMs = performance.now() - walkStart;
  if (listed !== KEYS) throw new Error(`listed ${listed} of ${KEYS}`);

  const first = [];
  const deep = [];
  const filtered = [];
  for (let i = 0; i < SAMPLES; i++) {
    first.push((await timed("/keys?workspace=bench&limit=100")).ms);
    deep.push((await timed(`/keys?workspace=bench&limit=100&cursor=${cursors[Math.floor((i / SAMPLES) * cursors.length)]}`)).ms);
    filtered.push((await timed("/keys?workspace=bench&status=active&limit=100")).ms);
  }
  console.log(`keys: ${KEYS}; created in ${createSecs.toFixed(1)} s (${(KEYS / createSecs).toFixed(0)} creates/s, 16 in flight)`);
  console.log(`first page of 100:        ${stats(first)}`);
  console.log(`page by cursor, anywhere: ${stats(deep)}`);
  console.log(`status=active, 100:       ${stats(filtered)}`);
  console.log(`whole list (${cursors.length + 1} pages):  ${walkMs.toFixed(0)} ms`);
} finally {
  clearTimeout(hardStop);
  await gw.dispose();
  await origin.close();
}
