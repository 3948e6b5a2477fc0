// Browser harness: Debian's Chromium driven by playwright-core, against the portal page that
// keygate serves on workerd (tests/e2e/harness.mjs: real KV, Durable Objects and origin).
// Elements are found by role and accessible name, the way a person finds them.
import { before, after } from "node:test";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { poll, startGateway, startOrigin, ROOT_TOKEN } from "../e2e/harness.mjs";

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

const CSP_VIOLATION = "CSP violation:";

/** Runs in each document before its own scripts: says every violation on the console. */
function reportCspViolations() {
  document.addEventListener("securitypolicyviolation", (event) => {
    console.error(`CSP violation: ${event.effectiveDirective} blocked ${event.blockedURI || "(inline)"} at ${event.sourceFile || event.documentURI}:${event.lineNumber} ${event.sample}`);
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
    // The page needs nothing its Content-Security-Policy forbids (no inline script or style
    // attribute, no other origin): any violation anywhere in the spec's walk fails it.
    if (env.cspViolations.length) throw new Error(`Content-Security-Policy violations: ${env.cspViolations.join("; ")}`);
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
    await context.addInitScript(reportCspViolations);
    context.on("console", (message) => message.text().startsWith(CSP_VIOLATION) && env.cspViolations.push(message.text()));
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.on("pageerror", (error) => env.pageErrors.push(error.message));
    await page.goto(minted.url);
    return page;
  };
  env.pageErrors = [];
  /** Every `securitypolicyviolation` in any page the spec opened (checked after the spec). */
  env.cspViolations = [];

  /** The root token's view of a key, for what the page should have done. */
  env.keyById = async (id) => (await env.gw.admin("GET", `/keys/${encodeURIComponent(id)}`)).json;
  /** The workspace's keys, as the root token lists them. */
  env.keys = async (workspace = "acme", status = "active") => (await env.gw.admin("GET", `/keys?workspace=${workspace}&status=${status}&limit=100`)).json.keys;
  return env;
}

/**
 * Through the page: Create API key, a name, `fill(dialog)` for the rest, Create, then Copy in
 * the shown-once dialog. Resolves to `{ secret, shown }` — the secret as the clipboard has it
 * (checked to equal the one shown) and the dialog, still open, for the caller's Done.
 */
export async function createKeyInPage(page, name, fill = async () => {}) {
  await page.getByRole("button", { name: "Create API key" }).click();
  const dialog = page.getByRole("dialog", { name: "Create API key" });
  await dialog.getByLabel("Name").fill(name);
  await fill(dialog);
  await dialog.getByRole("button", { name: "Create key" }).click();
  const shown = page.getByRole("dialog", { name: "API key created" });
  await shown.getByText("It will not be shown again").waitFor();
  await shown.getByRole("button", { name: "Copy" }).click();
  await shown.getByText("Copied to the clipboard.").waitFor();
  const secret = await page.evaluate(() => navigator.clipboard.readText());
  if ((await shown.getByLabel("Your new API key").textContent()) !== secret) throw new Error("the clipboard does not hold the key shown");
  return { secret, shown };
}

/**
 * The row's ⋯ button, once the key has exactly one row: after an action both lists reload,
 * each keeping its rows until its new page arrives, so for a moment a key just revoked or
 * activated can be in both.
 */
async function menuButton(page, keyName) {
  const button = page.getByRole("button", { name: `Actions for ${keyName}` });
  const rows = await poll(() => button.count(), (n) => n === 1);
  if (rows !== 1) throw new Error(`${rows} rows for the key ${keyName}`);
  return button;
}

/** The row's ⋯ menu, then one of its actions. */
export async function rowAction(page, keyName, action) {
  await (await menuButton(page, keyName)).click();
  await page.getByRole("menuitem", { name: action, exact: true }).click();
}

/** The actions the row's ⋯ menu offers, then the menu closed again with Escape. */
export async function rowActions(page, keyName) {
  await (await menuButton(page, keyName)).click();
  const menu = page.getByRole("menu", { name: `Actions for ${keyName}` });
  const items = await menu.getByRole("menuitem").allTextContents();
  await page.keyboard.press("Escape");
  await menu.waitFor({ state: "detached" });
  return items;
}

/** A screenshot for docs/ and the README, from the page as the test left it. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: false, animations: "disabled" });
}

export { ROOT_TOKEN };
