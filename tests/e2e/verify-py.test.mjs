// keygate on workerd in front of real Python origins built on packages/verify-py (installed
// into .venv by scripts/setup-tests.sh): Flask behind its WSGI middleware on Werkzeug's
// server, and FastAPI behind its ASGI middleware under uvicorn
// (packages/verify-py/tests/origins/). Each verifies a request keygate signed, and refuses
// a forged one (a bad signature, a changed header), a replayed one (the same signed request
// sent again straight to the origin), and, after a rotation, a secret it no longer lists.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { startGateway, startServerProcess } from "./harness.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ORIGINS = `${ROOT}packages/verify-py/tests/origins/`;
const PYTHON = `${ROOT}.venv/bin/python`;
// The policy: contacts may be read and written; the origin sits under a base path, which
// keygate signs as part of the path.
const POLICY = [
  'key_prefix = "kg"',
  '[[resources]]\nname = "contacts"\nkind = "ladder"',
  '[[routes]]\nmethod = "GET"\npath = "/v1/contacts"\nresource = "contacts"\naction = "read"',
  '[[routes]]\nmethod = "POST"\npath = "/v1/contacts"\nresource = "contacts"\naction = "write"',
].join("\n\n");
const BASE_PATH = "/svc";

/** Starts a Python origin on 127.0.0.1 for at most 4 minutes. */
async function startPythonOrigin(script) {
  const server = await startServerProcess(script, (port) => [PYTHON, `${ORIGINS}${script}`, String(port)], { cwd: ORIGINS });
  return { ...server, url: `http://127.0.0.1:${server.port}${BASE_PATH}` };
}

/** Straight to the origin, bypassing keygate: exactly these headers and body. */
function sendToOrigin(port, { method, target, headers, body }) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path: target, headers, timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("timeout", () => req.destroy(new Error("origin did not answer within 10 s")));
    req.on("error", reject);
    req.end(body);
  });
}

const problemCode = (text) => JSON.parse(text).code;

for (const [framework, script] of [["flask", "flask_origin.py"], ["fastapi", "fastapi_origin.py"]]) {
  describe(`a ${framework} origin on keygate-verify`, () => {
    let origin;
    let gw;
    let key;
    before(async () => {
      origin = await startPythonOrigin(script);
      gw = await startGateway({ origin: origin.url, bindings: { KEYGATE_POLICY: POLICY } });
      ({ key } = await gw.createKey({ name: `${framework} verifier`, scopes: ["contacts:write"] }));
    });
    after(async () => {
      await gw?.dispose();
      await origin?.stop();
    });

    /** A request through keygate; `verifier` picks the origin's secrets (a, "b,a" or b). */
    const through = (verifier, body = JSON.stringify({ name: "Ada" }), type = "application/json") =>
      gw.request("/v1/contacts?notify=1&tag=a%20b", {
        key,
        method: "POST",
        headers: { "content-type": type, "x-test-verifier": verifier },
        body,
      });

    test("verifies a request keygate signed: identity, exact body, signed path under the base path", async () => {
      const body = JSON.stringify({ name: "Ada Lovelace" });
      const res = await through("a", body);
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const seen = JSON.parse(text);
      assert.equal(seen.framework, framework);
      assert.deepEqual(seen.scopes, ["contacts:write"]);
      assert.match(seen.key_id, /^key_/);
      assert.equal(seen.secret_index, 0);
      assert.equal(seen.body_signed, true);
      assert.equal(seen.body_sha256, createHash("sha256").update(body).digest("hex"));
      assert.equal(seen.target, `${BASE_PATH}/v1/contacts?notify=1&tag=a%20b`);
    });

    test("refuses a forged signature, a changed header and a replay of a real signed request", async () => {
      const body = JSON.stringify({ name: "Grace" });
      const res = await through("a", body);
      const seen = JSON.parse(await res.text());
      assert.equal(res.status, 200);
      const again = (headers) => sendToOrigin(origin.port, { method: "POST", target: seen.target, headers: { ...headers, "x-test-verifier": "a" }, body });
      const signature = seen.headers["x-keygate-signature"];
      const flipped = signature.slice(0, -2) + (signature.endsWith("AA") ? "BA" : "AA");
      const forged = await again({ ...seen.headers, "x-keygate-signature": flipped });
      assert.deepEqual([forged.status, problemCode(forged.text)], [401, "bad_signature"]);
      const widened = await again({ ...seen.headers, "x-keygate-scopes": "contacts:read contacts:write contacts:delete" });
      assert.deepEqual([widened.status, problemCode(widened.text)], [401, "bad_signature"]);
      const otherBody = await sendToOrigin(origin.port, {
        method: "POST", target: seen.target, headers: { ...seen.headers, "x-test-verifier": "a" }, body: body.replace("Grace", "Alan!"),
      });
      assert.deepEqual([otherBody.status, problemCode(otherBody.text)], [401, "body_mismatch"]);
      // The very request keygate signed, byte for byte, sent a second time.
      const replayed = await again(seen.headers);
      assert.deepEqual([replayed.status, problemCode(replayed.text)], [401, "replayed"]);
    });

    test("rotation: keygate signs with A; an origin listing [B, A] accepts it, one listing [B] refuses", async () => {
      const overlap = await through("b,a");
      const text = await overlap.text();
      assert.equal(overlap.status, 200, text);
      assert.equal(JSON.parse(text).secret_index, 1, "verified by the older secret, second in the list");
      const retired = await through("b");
      const refusal = await retired.text();
      assert.equal(retired.status, 401, refusal);
      assert.equal(problemCode(refusal), "bad_signature");
    });

    test("refuses a body keygate streamed unsigned (over 64 KiB) unless told to accept one", async () => {
      // Not a form or JSON, which keygate would refuse unscanned at this size.
      const res = await through("a", "x".repeat(70_000), "application/octet-stream");
      const text = await res.text();
      assert.equal(res.status, 413, text);
      assert.equal(problemCode(text), "unsigned_body");
    });
  });
}
