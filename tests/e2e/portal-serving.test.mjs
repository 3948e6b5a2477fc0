// The portal page as the Worker serves it on workerd: the built portal/dist from the
// static-assets binding (the Worker runs first, as wrangler.toml's [assets] says), the
// policy's [portal] branding, the headers of every answer, and what it refuses. A portal
// path reads no key and never reaches the origin.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startGateway, startOrigin, useGateway } from "./harness.mjs";
import { compilePolicy } from "../../scripts/policy.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUILT_HTML = readFileSync(`${ROOT}portal/dist/index.html`, "utf8");
// The built page names its hashed script (scripts/build.sh ran vite).
const SCRIPT = BUILT_HTML.match(/\/_keygate\/portal\/assets\/([A-Za-z0-9._-]+\.js)/)?.[1];

const DEFAULT_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; require-trusted-types-for 'script'; trusted-types 'none'; frame-ancestors 'none'";

/** The headers every portal answer carries, refusals included. */
function assertSecurityHeaders(res, csp = DEFAULT_CSP) {
  assert.equal(res.headers.get("content-security-policy"), csp);
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("cross-origin-opener-policy"), "same-origin");
  assert.match(res.headers.get("x-keygate-request-id") ?? "", /^req_/);
}

/** A keygate problem (its own `type`, never the policy's type_base). */
async function assertProblem(res, status, code) {
  assert.equal(res.status, status);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = await res.json();
  assert.equal(body.code, code);
  assert.equal(body.type, `urn:keygate:problem:${code}`);
  return body;
}

describe("the portal with the demo policy", () => {
  const env = useGateway();
  let seenByOrigin;
  before(() => {
    seenByOrigin = env.origin.received.length;
  });
  after(() => {
    // Every request in this block was a portal path: none reached the origin.
    assert.equal(env.origin.received.length, seenByOrigin, JSON.stringify(env.origin.received));
  });

  test("the built page names a hashed script", () => {
    assert.ok(SCRIPT, BUILT_HTML);
  });

  test("/_keygate/portal redirects to /_keygate/portal/ (308)", async () => {
    const res = await env.gw.request("/_keygate/portal");
    assert.equal(res.status, 308);
    assert.equal(res.headers.get("location"), "/_keygate/portal/");
    assertSecurityHeaders(res);
  });

  test("the page: the built HTML, revalidated, with every header", async () => {
    for (const path of ["/_keygate/portal/", "/_keygate/portal/index.html", "/_keygate/portal/?from=email"]) {
      const res = await env.gw.request(path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
      assert.equal(res.headers.get("cache-control"), "no-cache");
      assert.equal(res.headers.get("x-frame-options"), "DENY");
      assertSecurityHeaders(res);
      assert.equal(await res.text(), BUILT_HTML);
    }
  });

  test("a key or a session in Authorization is ignored: the page is public", async () => {
    const res = await env.gw.request("/_keygate/portal/", { headers: { authorization: "Bearer not-a-key" } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), BUILT_HTML);
  });

  test("an asset: its content type, cached for a year, immutable", async () => {
    const res = await env.gw.request(`/_keygate/portal/assets/${SCRIPT}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^(text|application)\/javascript\b/);
    assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.ok(res.headers.get("etag"), "the store's ETag is kept");
    assertSecurityHeaders(res);
    assert.equal(await res.text(), readFileSync(`${ROOT}portal/dist/assets/${SCRIPT}`, "utf8"));
  });

  test("the branding: the demo policy's [portal] as JSON, revalidated", async () => {
    const res = await env.gw.request("/_keygate/portal/config");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(res.headers.get("cache-control"), "no-cache");
    assertSecurityHeaders(res);
    assert.deepEqual(await res.json(), {
      title: "Acme API keys",
      accent_color: "#7c3aed",
      logo_url: null,
      billing_url: null,
      docs_url: "https://docs.example.com/api-keys",
    });
  });

  test("GET /policy shows the same branding and who may frame the page", async () => {
    const res = await env.gw.admin("GET", "/policy");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.portal, {
      title: "Acme API keys",
      accent_color: "#7c3aed",
      logo_url: null,
      billing_url: null,
      docs_url: "https://docs.example.com/api-keys",
      frame_ancestors: [],
    });
  });

  test("HEAD: the same status and headers, no body", async () => {
    for (const [path, status, type] of [
      ["/_keygate/portal/", 200, "text/html; charset=utf-8"],
      [`/_keygate/portal/assets/${SCRIPT}`, 200, null],
      ["/_keygate/portal/config", 200, "application/json"],
      ["/_keygate/portal/nope", 404, "application/problem+json"],
    ]) {
      const res = await env.gw.rawRequest(path, {}, { method: "HEAD" });
      assert.equal(res.status, status, path);
      if (type) assert.equal(res.headers["content-type"], type, path);
      assert.equal(res.headers["content-security-policy"], DEFAULT_CSP, path);
      assert.equal(res.body, "", path);
    }
  });

  test("unknown paths, unknown assets and other kinds of file are 404 problems", async () => {
    for (const path of [
      "/_keygate/portal/nope",
      "/_keygate/portal/index.htm",
      "/_keygate/portal/config.json",
      "/_keygate/portal/assets/",
      "/_keygate/portal/assets/missing-0000.js",
      "/_keygate/portal/assets/index.html",
      `/_keygate/portal/assets/${SCRIPT.replace(/\.js$/, ".txt")}`,
    ]) {
      const res = await env.gw.request(path);
      await assertProblem(res, 404, "not_found");
      assertSecurityHeaders(res);
      assert.equal(res.headers.get("cache-control"), "no-store", path);
    }
  });

  test("traversal and encoded forms name no file", async () => {
    for (const path of [
      `/_keygate/portal/assets/..%2f..%2fassets%2f${SCRIPT}`,
      "/_keygate/portal/assets/%2e%2e%2findex.html",
      "/_keygate/portal/assets/..%5cindex.html",
      `/_keygate/portal/assets//${SCRIPT}`,
      `/_keygate/portal//assets/${SCRIPT}`,
      `/_keygate/portal/assets/${SCRIPT}%00`,
      `/_keygate/portal/assets/%2e${SCRIPT}`,
      `/_keygate/portal/assets/x/${SCRIPT}`,
      "/_keygate/portal//index.html",
      "/_keygate/portal/index.html/",
      "/_keygate/portal/%69ndex.html",
    ]) {
      // Sent as written: fetch() would normalise some of them first.
      const res = await env.gw.rawRequest(path, {});
      assert.equal(res.status, 404, `${path}: ${res.body}`);
      assert.equal(JSON.parse(res.body).code, "not_found", path);
      assert.equal(res.headers["content-security-policy"], DEFAULT_CSP, path);
    }
  });

  test("other methods are 405 with Allow: GET, HEAD; a small body sent anyway is dropped, the connection kept", async () => {
    // One after the other, on a kept-alive connection: each body is drained, so the next
    // request on it parses. A DELETE's or an OPTIONS' body is left on the connection by the
    // runtime here (the next request would not parse), so those two are sent without one.
    for (const [method, body] of [
      ["POST", "x".repeat(10_000)],
      ["PUT", "x".repeat(10_000)],
      ["PATCH", "x".repeat(10_000)],
      ["DELETE", undefined],
      ["OPTIONS", undefined],
    ]) {
      const res = await env.gw.rawRequest(
        "/_keygate/portal/",
        { "content-type": "text/plain", authorization: "Bearer whatever" },
        { method, body },
      );
      assert.equal(res.status, 405, method);
      assert.equal(res.headers["content-type"], "application/problem+json");
      assert.equal(JSON.parse(res.body).code, "method_not_allowed");
      assert.equal(res.headers.allow, "GET, HEAD");
      assert.equal(res.headers["content-security-policy"], DEFAULT_CSP);
    }
  });

  test("a path that only starts like the portal's is the data plane's", async () => {
    const res = await env.gw.request("/_keygate/portalx");
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("content-security-policy"), null);
  });
});

describe("the portal with a policy that lets a site frame it", () => {
  const POLICY = `
[[resources]]
name = "contacts"
kind = "ladder"

[[routes]]
method = "GET"
path = "/v1/contacts"
resource = "contacts"
action = "read"

[problems]
type_base = "https://docs.example.com/errors/"

[portal]
title = "Example keys"
accent_color = "#0F766E"
logo_url = "https://cdn.example.com:8443/brand/logo.svg"
billing_url = "/settings/billing"
docs_url = "https://docs.example.com/keys#scopes"
frame_ancestors = ["'self'", "https://app.example.com"]
`;
  const CSP =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https://cdn.example.com:8443; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; require-trusted-types-for 'script'; trusted-types 'none'; frame-ancestors 'self' https://app.example.com";
  const env = useGateway({ policy: null, bindings: { KEYGATE_POLICY: POLICY } });

  test("the CSP names the framing sites and the logo's origin; no X-Frame-Options", async () => {
    for (const path of ["/_keygate/portal/", "/_keygate/portal/config", "/_keygate/portal/nope"]) {
      const res = await env.gw.request(path);
      assertSecurityHeaders(res, CSP);
      assert.equal(res.headers.get("x-frame-options"), null, path);
    }
  });

  test("the branding is the policy's", async () => {
    const res = await env.gw.request("/_keygate/portal/config");
    assert.deepEqual(await res.json(), {
      title: "Example keys",
      accent_color: "#0F766E",
      logo_url: "https://cdn.example.com:8443/brand/logo.svg",
      billing_url: "/settings/billing",
      docs_url: "https://docs.example.com/keys#scopes",
    });
  });

  test("the portal's problems keep keygate's type, whatever the data plane's type_base", async () => {
    await assertProblem(await env.gw.request("/_keygate/portal/nope"), 404, "not_found");
  });

  test("an invalid [portal] makes the deployment misconfigured, portal included", async () => {
    // Edited after compiling: the CLI refuses to compile the invalid colour, the Worker
    // must refuse to load it.
    const compiled = JSON.parse(compilePolicy(POLICY));
    assert.equal(compiled.policy.portal.accent_color, "#0F766E");
    compiled.policy.portal.accent_color = "green";
    const origin = await startOrigin();
    const gw = await startGateway({
      origin: origin.url,
      policy: null,
      bindings: { KEYGATE_POLICY: JSON.stringify(compiled) },
    });
    try {
      const res = await gw.request("/_keygate/portal/");
      await assertProblem(res, 503, "gateway_misconfigured");
    } finally {
      await gw.dispose();
      await origin.close();
    }
  });
});

describe("the portal with HTTPS-only on", () => {
  const env = useGateway({ bindings: { KEYGATE_HTTPS_ONLY: "true" } });

  test("plain HTTP is refused (403 https_required), every path: the page would send the session token over it", async () => {
    for (const path of ["/_keygate/portal", "/_keygate/portal/", `/_keygate/portal/assets/${SCRIPT}`, "/_keygate/portal/config", "/_keygate/portal/nope"]) {
      const res = await env.gw.request(path);
      await assertProblem(res, 403, "https_required");
      assertSecurityHeaders(res);
    }
    const head = await env.gw.rawRequest("/_keygate/portal/", {}, { method: "HEAD" });
    assert.equal(head.status, 403);
    assert.equal(env.origin.received.length, 0);
  });

  test("HTTPS serves the page", async () => {
    // dispatchFetch presents an https:// URL to the Worker, as Cloudflare's edge would.
    const res = await env.gw.mf.dispatchFetch("https://gateway.example/_keygate/portal/");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), BUILT_HTML);
  });
});

describe("a Worker deployed without the built page", () => {
  const env = useGateway({ withPortal: false });

  test("every file path is a 404 saying how to deploy the page; the branding still answers", async () => {
    for (const path of ["/_keygate/portal/", `/_keygate/portal/assets/${SCRIPT}`]) {
      const res = await env.gw.request(path);
      const body = await assertProblem(res, 404, "portal_not_deployed");
      assert.equal(
        body.detail,
        "the portal page is not deployed with this Worker: build it (scripts/build.sh) and deploy with wrangler.toml's [assets]",
      );
      assertSecurityHeaders(res);
    }
    assert.equal((await env.gw.request("/_keygate/portal/config")).status, 200);
    assert.equal(env.origin.received.length, 0);
  });
});
