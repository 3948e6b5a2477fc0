// What a first visit costs: every file the page downloads (as the browser saw them) and
// their gzipped size, and the time to first render measured in Chromium. The figures are
// printed for BENCHMARKS.md; only the download's size is held to a bound (bytes are exact,
// times are not).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { usePortal } from "./harness.mjs";

const DIST = fileURLToPath(new URL("../../portal/dist/", import.meta.url));
const FIRST_VISIT_GZIP_BUDGET = 100 * 1024;
const env = usePortal({ policy: "seed-000-ladders" });

test("first visit: the files downloaded, their gzipped size within budget, the time to first render", async (t) => {
  await env.gw.admin("PUT", "/workspaces/acme", { plan: "pro" });
  const page = await env.open();
  await page.getByRole("heading", { name: "API keys", level: 2 }).waitFor();
  const timing = await page.evaluate(() => {
    const paint = performance.getEntriesByName("first-contentful-paint")[0];
    const nav = performance.getEntriesByType("navigation")[0];
    const files = [nav, ...performance.getEntriesByType("resource")].map((e) => ({ url: new URL(e.name).pathname, bytes: e.encodedBodySize }));
    return { firstContentfulPaintMs: paint?.startTime ?? null, domContentLoadedMs: nav.domContentLoadedEventEnd, readyMs: performance.now(), files };
  });
  // The page's own files (not its API calls), and what each weighs gzipped.
  // A file asked for twice (the icon: by the page and by the browser) counts once.
  const own = timing.files.filter((f, i, all) => f.url.startsWith("/_keygate/portal/") && f.url !== "/_keygate/portal/config" && all.findIndex((g) => g.url === f.url) === i);
  const names = own.map((f) => (f.url.endsWith("/") ? "index.html" : f.url.slice("/_keygate/portal/".length)));
  assert.ok(names.includes("index.html"), names.join(", "));
  assert.ok(names.some((n) => n.endsWith(".js")) && names.some((n) => n.endsWith(".css")), names.join(", "));
  const gzipped = names.map((name) => gzipSync(readFileSync(`${DIST}${name}`), { level: 9 }).length);
  const total = gzipped.reduce((a, b) => a + b, 0);
  t.diagnostic(`first visit: ${names.length} files, ${own.reduce((a, f) => a + f.bytes, 0)} bytes as served (workerd compresses), ${total} bytes gzipped (${names.map((n, i) => `${n} ${gzipped[i]}`).join(", ")})`);
  t.diagnostic(`first contentful paint ${timing.firstContentfulPaintMs?.toFixed(0)} ms, DOMContentLoaded ${timing.domContentLoadedMs.toFixed(0)} ms, keys heading shown by ${timing.readyMs.toFixed(0)} ms`);
  assert.ok(total < FIRST_VISIT_GZIP_BUDGET, `${total} bytes gzipped`);
  await page.context().close();
});
