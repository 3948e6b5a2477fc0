// The policy's [portal] table on the page: its title, accent colour, logo and links, and the
// frame-ancestors a provider sets to embed the page in its own app.
import { test } from "node:test";
import assert from "node:assert/strict";
import { policyText } from "../e2e/harness.mjs";
import { usePortal } from "./harness.mjs";

const PORTAL = `
[portal]
title = "Globex developer keys"
accent_color = "#0f766e"
logo_url = "https://cdn.globex.example/logo.svg"
billing_url = "https://globex.example/billing"
docs_url = "/docs/api-keys"
frame_ancestors = ["https://app.globex.example"]
`;
const env = usePortal({ policy: { text: policyText("demo").replace(/\n\[portal\][^[]*/, "\n") + PORTAL } });

test("title, accent colour, logo, docs link and framing come from the policy", async () => {
  const page = await env.open();
  await page.getByRole("heading", { name: "Globex developer keys", level: 1 }).waitFor();
  assert.equal(await page.title(), "Globex developer keys");
  const create = page.getByRole("button", { name: "Create API key" });
  assert.equal(await create.evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(15, 118, 110)");
  assert.equal(await page.locator("header img").getAttribute("src"), "https://cdn.globex.example/logo.svg");
  assert.equal(await page.getByRole("link", { name: "Docs" }).getAttribute("href"), "/docs/api-keys");
  const res = await env.gw.request("/_keygate/portal/");
  assert.match(res.headers.get("content-security-policy"), /frame-ancestors https:\/\/app\.globex\.example(;|$)/);
  assert.match(res.headers.get("content-security-policy"), /img-src 'self' https:\/\/cdn\.globex\.example/);
  assert.equal(res.headers.get("x-frame-options"), null);
  await page.context().close();
});
