// What an attacker's request cannot make the origin do: method overrides in bodies and in
// decoded or mangled query names, encoded control characters, keys outside Authorization,
// dot segments, and bodies read without a bound. Built wasm on workerd, real KV and
// Durable Objects, a real origin.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { gzipSync } from "node:zlib";
import { useGateway, startGateway, policyText, ROOT_TOKEN, SIGNING_SECRET } from "./harness.mjs";
import { verifyRequest as verifyKeygateRequest } from "@keygate/verify";

const env = useGateway();

async function problemCode(res) {
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  return (await res.json()).code;
}

function originCalls() {
  return env.origin.received.length;
}

const FORM = { "content-type": "application/x-www-form-urlencoded" };
const JSON_TYPE = { "content-type": "application/json" };

describe("method overrides in bodies", () => {
  test("a form, multipart or JSON body with a top-level _method is a 400, the origin untouched", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:write"] });
    const before = originCalls();
    const multipart = new FormData();
    multipart.append("name", "Ada");
    multipart.append("_method", "DELETE");
    for (const [label, headers, body] of [
      ["form", FORM, "name=Ada&_method=DELETE"],
      ["form, encoded name", FORM, "name=Ada&%5F%6D%65%74%68%6F%64=DELETE"],
      ["form, PHP-mangled name", FORM, "name=Ada&.method=DELETE"],
      ["typeless body (Rack reads it as a form)", {}, "_method=DELETE"],
      ["multipart", {}, multipart],
      ["JSON", JSON_TYPE, '{"name":"Ada","_method":"DELETE"}'],
      ["JSON with an escaped name", JSON_TYPE, '{"_\\u006dethod":"DELETE"}'],
      ["JSON sent as text/plain", { "content-type": "text/plain" }, '{"_method":"DELETE"}'],
      ["UTF-16 JSON", { "content-type": "application/json; charset=utf-16le" }, Buffer.from('{"_method":"DELETE"}', "utf16le")],
    ]) {
      const res = await env.gw.request("/v1/contacts", { key, method: "POST", headers, body });
      assert.equal(res.status, 400, label);
      assert.equal(await problemCode(res), "override_not_allowed", label);
    }
    assert.equal(originCalls(), before);
  });

  test("overrides spelled as Rack 2, PHP, lighttpd or body-parser read them are refused too", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:write"] });
    const before = originCalls();
    const multipart = (headers) => `--XyZ\r\n${headers}\r\n\r\nDELETE\r\n--XyZ--\r\n`;
    const MULTIPART = { "content-type": "multipart/form-data; boundary=XyZ" };
    for (const [label, headers, body] of [
      ["Rack 2 drops leading brackets", FORM, "name=Ada&[_method]=DELETE"],
      ["Rack 2 ends a name at ]", FORM, "_method]=DELETE"],
      ["Rack and PHP end the media type at a comma", { "content-type": "application/x-www-form-urlencoded,a+json" }, "_method=DELETE"],
      ["Rack names a part by its Content-ID", MULTIPART, multipart("Content-ID: _method")],
      ["Rack's disposition pattern ignores quotes", MULTIPART, multipart('Content-Disposition: form-data; name="a"; x="; name=_method"')],
      ["Rack's disposition pattern is unanchored", MULTIPART, multipart("X-Note: Content-Disposition: form-data; name=_method")],
    ]) {
      const res = await env.gw.request("/v1/contacts", { key, method: "POST", headers, body });
      assert.equal(res.status, 400, label);
      assert.equal(await problemCode(res), "override_not_allowed", label);
    }
    const query = await env.gw.request("/v1/contacts?[_method]=DELETE", { key, method: "POST", headers: FORM, body: "a=1" });
    assert.equal(query.status, 400);
    assert.equal(await problemCode(query), "override_not_allowed");
    const header = await env.gw.request("/v1/contacts", { key, method: "POST", headers: { ...FORM, "X.HTTP.Method.Override": "DELETE" }, body: "a=1" });
    assert.equal(header.status, 400);
    assert.equal(await problemCode(header), "override_not_allowed");
    assert.equal(originCalls(), before);

    // body-parser decodes UTF-7 (`+AF8-` is `_`): such a body counts as unread.
    const utf7 = await env.gw.request("/v1/contacts", {
      key,
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-7" },
      body: '{"+AF8-method":"DELETE"}',
    });
    assert.equal(utf7.status, 413);
    assert.equal(await problemCode(utf7), "body_not_scannable");
    assert.equal(originCalls(), before);
  });

  test("a body that merely contains the word goes through, byte for byte", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:write"] });
    for (const [headers, body] of [
      [FORM, "name=_method_is_a_word&note=_method"],
      [JSON_TYPE, '{"name":"_method","nested":{"_method":"DELETE"}}'],
    ]) {
      const res = await env.gw.request("/v1/contacts", { key, method: "POST", headers, body });
      assert.equal(res.status, 200, body);
      const echoed = await res.json();
      assert.equal(echoed.method, "POST");
      assert.equal(echoed.body, body);
    }
  });

  test("a refused override is not counted against the key", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:write"], limits: { per_minute: 10, per_day: 100 } });
    for (let i = 0; i < 3; i++) {
      const res = await env.gw.request("/v1/contacts", { key, method: "POST", headers: FORM, body: "_method=DELETE" });
      assert.equal(res.status, 400);
      await res.body?.cancel();
    }
    const allowed = await env.gw.request("/v1/contacts", { key, method: "POST", headers: FORM, body: "name=Ada" });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get("x-ratelimit-remaining"), "9");
  });

  test("a form past the 64 KiB scan is refused, unless the policy says the origin ignores body overrides", async () => {
    // 200 KiB of fields, then the override where keygate no longer looks.
    const body = `${"a=1&".repeat(50 * 1024)}_method=DELETE`;
    const { key } = await env.gw.createKey({ scopes: ["contacts:write"] });
    const before = originCalls();
    const refused = await env.gw.request("/v1/contacts", { key, method: "POST", headers: FORM, body });
    assert.equal(refused.status, 413);
    const problem = await refused.json();
    assert.equal(problem.code, "body_not_scannable");
    assert.equal(problem.max_bytes, 65536);
    // A compressed form cannot be read either.
    const gzipped = await env.gw.request("/v1/contacts", {
      key,
      method: "POST",
      headers: { ...FORM, "content-encoding": "gzip" },
      body: gzipSync("_method=DELETE"),
    });
    assert.equal(gzipped.status, 413);
    assert.equal((await gzipped.json()).code, "body_not_scannable");
    assert.equal(originCalls(), before);
    // A type no framework reads parameters from is forwarded whole.
    const binary = await env.gw.request("/v1/contacts", { key, method: "POST", headers: { "content-type": "application/octet-stream" }, body });
    assert.equal(binary.status, 200);
    assert.equal((await binary.json()).body.length, body.length);

    const lenientPolicy = policyText("demo").replace("origin_reads_body_overrides = true", "origin_reads_body_overrides = false");
    assert.notEqual(lenientPolicy, policyText("demo"));
    const lenient = await startGateway({ origin: env.origin.url, bindings: { KEYGATE_POLICY: lenientPolicy } });
    try {
      const lenientKey = (await lenient.createKey({ scopes: ["contacts:write"] })).key;
      const forwarded = await lenient.request("/v1/contacts", { key: lenientKey, method: "POST", headers: FORM, body });
      assert.equal(forwarded.status, 200);
      const echoed = await forwarded.json();
      assert.equal(echoed.body.length, body.length);
      assert.equal(echoed.body, body);
      // Within the scan it is still refused.
      const small = await lenient.request("/v1/contacts", { key: lenientKey, method: "POST", headers: FORM, body: "_method=DELETE" });
      assert.equal(small.status, 400);
    } finally {
      await lenient.dispose();
    }
  });

  test("a body that trickles in is not waited for past the origin timeout", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:write"] });
    const started = Date.now();
    const res = await new Promise((resolve, reject) => {
      const req = httpRequest(
        `${env.gw.url}/v1/contacts`,
        { method: "POST", headers: { authorization: `Bearer ${key}`, ...FORM, "content-length": "100" }, timeout: 20_000 },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            req.destroy();
            resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("the gateway waited for the whole body")));
      req.on("error", reject);
      // 10 of the 100 declared bytes, then nothing.
      req.write("name=Ada&x");
    });
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.body).code, "body_not_scannable");
    // The harness's origin timeout is 1.5 s.
    assert.ok(Date.now() - started < 15_000);
  });

  test("a 3 MiB body reaches the origin intact through the scan", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:write"] });
    const body = "x".repeat(3 * 1024 * 1024);
    const res = await env.gw.request("/v1/contacts", { key, method: "POST", headers: { "content-type": "text/plain" }, body });
    assert.equal(res.status, 200);
    const echoed = await res.json();
    assert.equal(echoed.body.length, body.length);
    assert.equal(echoed.headers["content-length"], String(body.length));
  });
});

describe("method overrides in query names", () => {
  test("names that decode or mangle to _method are refused", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:write"] });
    const before = originCalls();
    for (const query of ["_%6Dethod=DELETE", "%5F%6D%65%74%68%6F%64=DELETE", ".method=DELETE", "_method[]=DELETE", "a=1;_method=DELETE"]) {
      const res = await env.gw.rawRequest(`/v1/contacts?${query}`, { authorization: `Bearer ${key}`, "content-length": "0" }, { method: "POST" });
      assert.equal(res.status, 400, query);
      assert.equal(JSON.parse(res.body).code, "override_not_allowed", query);
    }
    assert.equal(originCalls(), before);
  });
});

describe("paths", () => {
  test("every percent-encoded control character is a 400 path_ambiguous", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:read"] });
    const before = originCalls();
    for (const path of ["/v1/contacts/x%0d%0aX-Injected:1", "/v1/contacts/x%0A", "/v1/contacts/x%09", "/v1/contacts/x%1B", "/v1/contacts/x%7f", "/v1/contacts/x%7F", "/v1/contacts/x%01"]) {
      const res = await env.gw.rawRequest(path, { authorization: `Bearer ${key}` });
      assert.equal(res.status, 400, path);
      assert.equal(JSON.parse(res.body).code, "path_ambiguous", path);
    }
    assert.equal(originCalls(), before);
  });

  test("dot segments are resolved before keygate routes, so routing, signing and the origin agree", async () => {
    const analytics = (await env.gw.createKey({ scopes: ["analytics:read"] })).key;
    const contacts = (await env.gw.createKey({ scopes: ["contacts:read"] })).key;
    for (const path of ["/v1/analytics/../contacts", "/v1/analytics/%2e%2e/contacts", "/v1/analytics/.%2E/contacts", "/v1/analytics/./../contacts"]) {
      // The analytics key is judged on the resolved path: contacts, which it lacks.
      const refused = await env.gw.rawRequest(path, { authorization: `Bearer ${analytics}` });
      assert.equal(refused.status, 403, path);
      assert.equal(JSON.parse(refused.body).required_scope, "contacts:read", path);
      const allowed = await env.gw.rawRequest(path, { authorization: `Bearer ${contacts}` });
      assert.equal(allowed.status, 200, path);
      const echoed = JSON.parse(allowed.body);
      assert.equal(echoed.url, "/v1/contacts", path);
      const request = { method: echoed.method, host: env.origin.host, pathAndQuery: echoed.url, headers: echoed.headers };
      const verified = verifyKeygateRequest(request, SIGNING_SECRET);
      assert.equal(verified.ok, true, `${path}: ${verified.error}`);
    }
  });
});

describe("keys outside Authorization", () => {
  test("a key in the query, the path or another header is a 400 key_in_request, never forwarded", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:read"] });
    const before = originCalls();
    for (const [path, headers] of [
      [`/v1/contacts?api_key=${key}`, {}],
      [`/v1/contacts?api_key=${key.replaceAll("_", "%5F")}`, {}],
      [`/v1/contacts/${key}`, {}],
      ["/v1/contacts", { "x-api-key": key }],
      ["/v1/contacts", { cookie: `session=${key}` }],
    ]) {
      const res = await env.gw.rawRequest(path, { authorization: `Bearer ${key}`, ...headers });
      assert.equal(res.status, 400, path);
      const problem = JSON.parse(res.body);
      assert.equal(problem.code, "key_in_request", path);
      assert.ok(!res.body.includes(key), "the answer does not repeat the key");
    }
    assert.equal(originCalls(), before);
  });
});

/**
 * Streams `total` bytes in chunks, chunked (no Content-Length), and resolves with the
 * response and how many bytes had been written when it arrived.
 */
function streamBody(gw, path, token, total) {
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    const req = httpRequest(
      `${gw.url}${path}`,
      { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, timeout: 30_000 },
      (res) => {
        answered = true;
        const chunks = [];
        const writtenAtAnswer = written;
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          req.destroy();
          resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), writtenAtAnswer });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("streamed request timed out")));
    // The gateway closes the connection on the unread rest; the reset can overtake its answer.
    req.on("error", (error) => (answered ? undefined : error.code === "ECONNRESET" || error.code === "EPIPE" ? resolve({ reset: true }) : reject(error)));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (!answered && written < total) {
        written += chunk.length;
        if (!req.write(chunk)) return req.once("drain", pump);
      }
      if (!answered) req.end();
    };
    req.write("{");
    pump();
  });
}

describe("admin bodies are read with a bound", () => {
  test("a chunked body without Content-Length is refused with 413 as soon as it passes 64 KiB", async () => {
    const total = 64 * 1024 * 1024;
    let res = { reset: true };
    for (let attempt = 0; attempt < 10 && res.reset; attempt++) {
      res = await streamBody(env.gw, "/_keygate/v1/keys", ROOT_TOKEN, total);
    }
    assert.ok(!res.reset, "an answer arrived before the connection was reset");
    assert.equal(res.status, 413);
    const problem = JSON.parse(res.body);
    assert.equal(problem.code, "payload_too_large");
    assert.equal(problem.max_bytes, 65536);
    assert.ok(res.writtenAtAnswer < total, `answered after ${res.writtenAtAnswer} of ${total} bytes`);
  });

  test("a declared Content-Length over 64 KiB is a 413 before reading", async () => {
    const res = await env.gw.admin("POST", "/keys", `{"name":"x"}${" ".repeat(70 * 1024)}`);
    assert.equal(res.status, 413);
    assert.equal(res.json.code, "payload_too_large");
  });

  test("approve and reject read no body from a caller who may not decide", async () => {
    const { key } = await env.gw.createKey({ scopes: ["contacts:read"] });
    for (const action of ["approve", "reject"]) {
      const res = await env.gw.admin("POST", `/approvals/apr_0000000000000000000000/${action}`, "not json at all", key);
      assert.equal(res.status, 403, action);
      assert.equal(res.json.code, "insufficient_scope", action);
      assert.equal(res.json.required_scope, "approvals:write");
    }
  });
});
