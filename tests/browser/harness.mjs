// Browser harness: Debian's Chromium driven by playwright-core, against the portal page that
// keygate serves on workerd (tests/e2e/harness.mjs: real KV, Durable Objects and origin).
// Elements are found by role and accessible name, the way a person finds them.
import { before, after } from "node:test";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startGateway, startOrigin, ROOT_TOKEN } from "../e2e/harness.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SCREENSHOTS = `${ROOT}docs/portal`;
const CHROMIUM = process.env.KEYGATE_CHROMIUM ?? "/usr/bin/chromium";
/** How long one step (a click, a wait for text) may take before the test fails. */
const STEP_TIMEOUT_MS = 10_000;

/**
 * Headless Chromium: no sandbox (the tests run as root), no GPU, and nothing that calls out
 * to the network on its own. Playwright gives every launch a fresh temporary profile.
 */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A receiver for rejection webhooks on 127.0.0.1: records each delivery's headers and body. */
export async function startWebhookReceiver() {
  const received = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hooks/rejected`,
    received,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * For a spec file: an origin, a gateway with `policy` (a policies/ name or `{ text }`) and one
 * browser, shared by its tests. `env.open(options)` mints a portal session as the provider's
 * backend would and opens its link in a new browser context (its own sessionStorage).
 */
export function usePortal({ policy = "demo", bindings = {} } = {}) {
  const env = { pages: [] };
  before(async () => {
    env.origin = await startOrigin();
    const policyOptions = typeof policy === "string" ? { policy } : { bindings: { KEYGATE_POLICY: policy.text } };
    env.gw = await startGateway({ origin: env.origin.url, ...policyOptions, bindings: { ...policyOptions.bindings, ...bindings } });
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.gw?.dispose();
    await env.origin?.close();
  });

  /** Mints a session (root token, as the provider's backend) and returns its 201 body. */
  env.mint = async ({ workspace = "acme", permissions = ["keys:manage", "approvals:review"], member = { id: "user_42", name: "Ada Lovelace" }, ttl_seconds } = {}) => {
    const res = await env.gw.admin("POST", "/portal/sessions", { workspace, member, permissions, ...(ttl_seconds ? { ttl_seconds } : {}) });
    if (res.status !== 201) throw new Error(`mint failed: ${res.status} ${res.text}`);
    return res.json;
  };

  /** A new page on the portal link of a new session (or of `session`); resolves to the page. */
  env.open = async ({ session, viewport = { width: 1280, height: 860 }, ...mintOptions } = {}) => {
    const minted = session ?? (await env.mint(mintOptions));
    const context = await env.browser.newContext({ viewport, locale: "en-US", timezoneId: "UTC" });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: env.gw.url });
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.on("pageerror", (error) => env.pageErrors.push(error.message));
    await page.goto(minted.url);
    return page;
  };
  env.pageErrors = [];

  /** The root token's view of a key, for what the page should have done. */
  env.keyById = async (id) => (await env.gw.admin("GET", `/keys/${encodeURIComponent(id)}`)).json;
  /** The workspace's keys, as the root token lists them. */
  env.keys = async (workspace = "acme", status = "active") => (await env.gw.admin("GET", `/keys?workspace=${workspace}&status=${status}&limit=100`)).json.keys;
  return env;
}

/** A screenshot for docs/ and the README, from the page as the test left it. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: false, animations: "disabled" });
}

export { ROOT_TOKEN };
