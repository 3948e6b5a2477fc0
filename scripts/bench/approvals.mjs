// Approval-queue latency, one request at a time on one gateway (Miniflare/workerd, real KV,
// Durable Objects and a local origin): an allowed POST (200) vs the same POST queued (202)
// vs approving it (re-check + decide + the origin call + record).
// Run after `sh scripts/build.sh`: node scripts/bench/approvals.mjs [N=200]
import { startOrigin, startGateway, policyText } from "../../tests/e2e/harness.mjs";
const N = Number(process.argv[2] ?? 200);
const origin = await startOrigin();
// Every request stays pending until the approve phase: caps above N (the default per key is 100).
const caps = "\n[approvals]\nmax_pending_per_key = 10000\nmax_pending_per_workspace = 100000\n";
const gw = await startGateway({ origin: origin.url, bindings: { KEYGATE_POLICY: policyText("demo") + caps } });
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const time = async (f) => { const t = performance.now(); await f(); return performance.now() - t; };
try {
  const writer = await gw.createKey({ name: "w", scopes: ["contacts:write"], limits: { per_minute: 100000, per_day: 1000000 } });
  const agent = await gw.createKey({ name: "a", scopes: ["contacts:write-approval"], limits: { per_minute: 100000, per_day: 1000000 } });
  const body = JSON.stringify({ name: "Ada", note: "x".repeat(200) });
  for (let i = 0; i < 20; i++) { await (await gw.request("/v1/contacts", { key: writer.key, method: "POST", body })).text(); }
  const direct = [], queued = [], approve = [], ids = [];
  for (let i = 0; i < N; i++) {
    direct.push(await time(async () => { const r = await gw.request("/v1/contacts", { key: writer.key, method: "POST", body }); await r.text(); if (r.status !== 200) throw new Error(r.status); }));
    queued.push(await time(async () => { const r = await gw.request("/v1/contacts", { key: agent.key, method: "POST", body }); const j = await r.json(); if (r.status !== 202) throw new Error(r.status); ids.push(j.approval_id); }));
  }
  for (const id of ids) approve.push(await time(async () => { const r = await gw.admin("POST", `/approvals/${id}/approve`); if (r.status !== 200) throw new Error(r.text); }));
  const line = (n, xs) => console.log(`${n.padEnd(22)} p50 ${pct(xs, .5).toFixed(2)} ms  p99 ${pct(xs, .99).toFixed(2)} ms  (n=${xs.length})`);
  line("POST allowed (200)", direct); line("POST queued (202)", queued); line("approve (origin call)", approve);
} finally { await gw.dispose(); await origin.close(); }
