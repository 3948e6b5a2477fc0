// What signing bodies costs end to end: POSTs of several body sizes, one at a time, through
// one gateway (Miniflare/workerd, real KV and Durable Objects, a local origin). Bodies up to
// 64 KiB are read whole and hashed before the origin is called; larger ones are streamed.
// Run after `sh scripts/build.sh`: node scripts/bench/bodies.mjs [N=200]
import { startOrigin, startGateway } from "../../tests/e2e/harness.mjs";
const N = Number(process.argv[2] ?? 200);
const SIZES = [0, 1024, 16 * 1024, 64 * 1024, 64 * 1024 + 1, 256 * 1024];
const origin = await startOrigin();
const gw = await startGateway({ origin: origin.url });
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
try {
  const { key } = await gw.createKey({ name: "bodies", scopes: ["contacts:write"], limits: { per_minute: 1000000, per_day: 10000000 } });
  const post = async (body) => {
    const started = performance.now();
    const res = await gw.request("/v1/contacts", { key, method: "POST", headers: { "content-type": "application/octet-stream" }, body });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    origin.received.length = 0; // the harness origin keeps every request; this run needs none
    return performance.now() - started;
  };
  for (let i = 0; i < 20; i++) await post("warm-up");
  const timings = new Map(SIZES.map((size) => [size, []]));
  // Interleaved, so drift on the machine hits every size alike.
  for (let i = 0; i < N; i++) {
    for (const size of SIZES) timings.get(size).push(await post(Buffer.alloc(size, 0x78)));
  }
  for (const [size, xs] of timings) {
    console.log(`${String(size).padStart(7)} B  p50 ${pct(xs, 0.5).toFixed(2)} ms  p99 ${pct(xs, 0.99).toFixed(2)} ms  (n=${xs.length})`);
  }
} finally {
  await gw.dispose();
  await origin.close();
}
