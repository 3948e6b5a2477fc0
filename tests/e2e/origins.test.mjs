// keygate in front of real origin frameworks (tests/origins/, installed by
// scripts/setup-tests.sh from npm, PyPI and Debian), each answering with the method and
// route it actually dispatched after its own method override and path normalisation.
//
// Differential assertion over a generated set of requests (methods, paths, query names,
// bodies, override and Connection headers): either keygate refused the request itself (a
// 4xx problem+json with a `code`), or the framework dispatched exactly what keygate
// authorised: the request's method on the route keygate's policy maps the forwarded path to.
// The origin may also refuse without dispatching anything (a 404, 405, 411, ...): that is
// safe. Anything else fails the test, listing the first few requests that differed.
// The policy in front of a framework that acts on body `_method` says so
// (`origin_reads_body_overrides = true`), as the README asks of such a deployment: with the
// default, a form body longer than the 64 KiB keygate scans carries its override through.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startGateway, startServerProcess } from "./harness.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ORIGINS = `${ROOT}tests/origins/`;
const REQUESTS_PER_FRAMEWORK = 400;
const SEED = 0x6b657967; // "keyg": the same requests every run

// The policy the origins' route tables mirror. Routes are tried in order, as keygate does.
const ROUTES = [
  { method: "GET", path: "/v1/contacts", resource: "contacts", action: "read" },
  { method: "POST", path: "/v1/contacts", resource: "contacts", action: "write" },
  { method: "DELETE", path: "/v1/contacts", resource: "contacts", action: "delete" },
  { method: "GET", path: "/v1/contacts/{id}", resource: "contacts", action: "read" },
  { method: "PUT", path: "/v1/contacts/{id}", resource: "contacts", action: "write" },
  { method: "PATCH", path: "/v1/contacts/{id}", resource: "contacts", action: "write" },
  { method: "DELETE", path: "/v1/contacts/{id}", resource: "contacts", action: "delete" },
  { method: "GET", path: "/v1/reports/*", resource: "reports", action: "read" },
];
/**
 * The policy, saying whether the origin acts on a `_method` in the body: then keygate
 * refuses a form, multipart or JSON body too long to scan for one (README, "The body bound").
 */
const policy = (readsBodyOverrides) => [
  `key_prefix = "kg"\norigin_reads_body_overrides = ${readsBodyOverrides}`,
  '[[resources]]\nname = "contacts"\nkind = "ladder"',
  '[[resources]]\nname = "reports"\nkind = "read_only"',
  ...ROUTES.map((r) => `[[routes]]\nmethod = "${r.method}"\npath = "${r.path}"\nresource = "${r.resource}"\naction = "${r.action}"`),
].join("\n\n");
// A key that may read and write contacts but not delete them; one that may only read.
const KEYS = { writer: ["contacts:write"], reader: ["contacts:read", "reports:read"] };

/** The route keygate maps (method, path) to, by the policy's rules; null when unmapped. */
function policyRoute(method, path) {
  const route = ROUTES.find((r) => (r.method === method || (r.method === "GET" && method === "HEAD")) && pathMatches(r.path, path));
  return route ? route.path : null;
}

function pathMatches(pattern, path) {
  if (!path.startsWith("/")) return false;
  const parts = path.slice(1).split("/");
  const segments = pattern.slice(1).split("/");
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment === "*") return true;
    const part = parts[i];
    if (part === undefined) return false;
    if (segment.startsWith("{") ? part === "" : decodeEscapes(part) !== segment) return false;
  }
  return parts.length === segments.length;
}

/** A segment with each `%XX` as its byte, as keygate compares literal segments. */
const decodeEscapes = (segment) => segment.replace(/%([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));

// ------------------------------------------------------------------------------------
// The frameworks: how to start each on a port, bound to 127.0.0.1, for at most 4 minutes,
// and whether it acts on a `_method` in the body (so its deployment must say so).

const python = `${ROOT}.venv/bin/python`;
const FRAMEWORKS = {
  express: { readsBodyOverrides: true, start: () => ["node", [`${ORIGINS}express/app.mjs`]] },
  flask: { readsBodyOverrides: false, start: () => [python, [`${ORIGINS}flask/app.py`]] },
  django: { readsBodyOverrides: true, start: () => [python, [`${ORIGINS}django/app.py`]] },
  sinatra: { readsBodyOverrides: true, start: () => ["ruby", [`${ORIGINS}sinatra/app.rb`]] },
  symfony: {
    readsBodyOverrides: true,
    start: (port, dir) => ["php", ["-S", `127.0.0.1:${port}`, "-t", dir, `${ORIGINS}symfony/index.php`], true],
  },
  nginx: {
    readsBodyOverrides: false,
    start: (port, dir) => {
      const conf = readFileSync(`${ORIGINS}nginx/nginx.conf`, "utf8").replaceAll("@PORT@", port).replaceAll("@PREFIX@", dir);
      writeFileSync(join(dir, "nginx.conf"), conf);
      return [existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx", ["-p", dir, "-c", join(dir, "nginx.conf")], true];
    },
  },
};

async function startFramework(name) {
  const dir = mkdtempSync(join(tmpdir(), `keygate-origin-${name}-`));
  const server = await startServerProcess(
    name,
    (port) => {
      const [command, args, portInArgs] = FRAMEWORKS[name].start(port, dir);
      return [command, ...args, ...(portInArgs ? [] : [String(port)])];
    },
    { cwd: dir },
  );
  return {
    url: `http://127.0.0.1:${server.port}`,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------------------------
// The generated requests.

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ID_SPELLINGS = [
  "7", "%37", "7%20", "~x", "a%2Fb", "a%2fb", "a%5Cb", "a\\b", "x;y", "x%3bdelete", "%2e", "%2E%2e", "..", ".",
  ".%2e", "%252e%252e", "%C0%AE%C0%AE", "%E2%80%A8", "x%0d%0aX-Injected:1", "x%0D%0A", "x%0a", "x%09", "x%1B",
  "x%1b", "x%7f", "x%7F", "x%00", "x%01", "x%20", "%2520", "a b", "a\tb", "\u00e9", "%C3%A9", "7#frag", "7?x=1",
];
const PATHS = [
  "/v1/contacts", "/v1/contacts/", "/v1/reports", "/v1/reports/", "/v1/reports/daily", "/v1/reports/2026/12",
  ...ID_SPELLINGS.map((id) => `/v1/contacts/${id}`),
  ...ID_SPELLINGS.map((id) => `/v1/reports/${id}`),
  ...ID_SPELLINGS.map((id) => `/v1/contacts/${id}/notes`),
  "/v1/reports/../contacts", "/v1/reports/../contacts/7", "/v1/reports/%2e%2e/contacts/7", "/v1/reports/%2E%2E/contacts",
  "/v1/reports/.%2e/contacts/7", "/v1/reports/..%2fcontacts", "/v1/reports/..;/contacts/7", "/v1/reports/%2e%2e%2fcontacts",
  "/v1/reports/..%5ccontacts", "/v1/reports/..\\contacts", "/v1/./contacts", "/v1/contacts/./7", "/v1/contacts/7/..",
  "/v1/contacts/7/.", "/v1/reports/daily/../../contacts/7", "/v1/reports/%252e%252e/contacts", "/v1/reports/%C0%AE%C0%AE/contacts",
  "//v1/contacts", "/v1//contacts/7", "/v1/contacts//7", "/v1/reports//../contacts/7", "///v1/contacts",
  "/V1/contacts", "/v1/Contacts/7", "/v1/CONTACTS", "/v1/c%6Fntacts/7", "/v1/%63ontacts", "/%76%31/contacts",
  "/v1/contacts%2F7", "/v1/contacts%3B/7", "/v1/contacts;/7", "/v1/contacts/7;jsessionid=x", "/v1/contacts.json",
  "/v1/contacts%00", "/v1/contacts%0a", "/v1/contacts%09", "/v1/contacts/%20", "/v1/contacts/%09",
];
// Paths keygate routes, so that what the origin does with the rest of the request shows.
const PLAIN_PATHS = ["/v1/contacts", "/v1/contacts/7", "/v1/contacts/%37", "/v1/contacts/x%20", "/v1/reports/daily", "/v1/reports"];
const QUERIES = [
  "", "", "", "page=2", "_method=DELETE", "_method=delete", "_METHOD=DELETE", "_Method=DELETE", "_%6Dethod=DELETE",
  "%5F%6D%65%74%68%6F%64=DELETE", "%5fmethod=DELETE", "%5F%4D%45%54%48%4F%44=DELETE", ".method=DELETE", "%2Emethod=DELETE",
  "+method=DELETE", "%20method=DELETE", "_method[]=DELETE", "_method%5B%5D=DELETE", "_method[x]=DELETE", "x=1&_method=DELETE",
  "_method=PUT", "_method=PATCH", "_method=GET", "_method=%44ELETE", "_method%00=DELETE", "_method=DELETE&_method=POST",
  "q=_method", "_method_is_a_word=1", "name=_method", "api_key={KEY}", "access_token={KEY}", "x={KEY}", "{KEY}",
];
const FORM = "application/x-www-form-urlencoded";
const JSON_TYPE = "application/json";
const FORM_TYPES = [FORM, `${FORM}; charset=UTF-8`, "Application/X-WWW-Form-Urlencoded", "text/plain", null];
const JSON_TYPES = [JSON_TYPE, `${JSON_TYPE}; charset=utf-8`, "application/vnd.api+json", "text/plain"];
const FORM_BODIES = [
  "_method=DELETE", "name=a&_method=DELETE", "_method=delete", "%5Fmethod=DELETE", "_%6Dethod=DELETE", ".method=DELETE",
  "_method[]=DELETE", "+method=DELETE", "_method=PUT", "name=_method_is_a_word", "_method_is_a_word=1", "name=x",
  () => `pad=${"a".repeat(70_000)}&_method=DELETE`, () => `_method=DELETE&pad=${"a".repeat(200_000)}`,
  () => `pad=${"a".repeat(70_000)}&name=_method`,
];
const JSON_BODIES = [
  { _method: "DELETE" }, { name: "x", _method: "DELETE" }, { _METHOD: "DELETE" }, { name: "_method" }, { a: { _method: "DELETE" } },
  [{ _method: "DELETE" }], { name: "x" }, () => ({ pad: "a".repeat(70_000), _method: "DELETE" }),
];
const MULTIPART_FIELDS = [
  [["_method", "DELETE"]], [["name", "a"], ["_method", "DELETE"]], [["name", "_method"]], [["_method_is_a_word", "1"]],
  [["file", "DELETE", "_method"]], [["%5Fmethod", "DELETE"]],
];
const OVERRIDE_HEADERS = [
  ["X-HTTP-Method-Override", "DELETE"], ["X-HTTP-Method", "DELETE"], ["X-Method-Override", "DELETE"],
  ["X_HTTP_METHOD_OVERRIDE", "DELETE"], ["x-http-method-override", "PUT"], ["X-Original-Method", "DELETE"],
  ["X-Original-URL", "/v1/contacts/7"], ["X-Rewrite-URL", "/v1/contacts/7"],
];
const CONNECTION_NOMINEES = [
  "X-HTTP-Method-Override", "Content-Type", "Authorization", "X-Keygate-Signature", "X-Keygate-Key-Id", "Host", "Cookie",
  "X-Forwarded-For", "CF-Connecting-IP", "Accept", "X-Dispatched",
];
const METHODS = [
  ...Array(6).fill("POST"), ...Array(4).fill("GET"), "PUT", "PUT", "PATCH", "PATCH", "DELETE", "DELETE", "HEAD", "OPTIONS",
  "get", "PROPFIND", "TRACE",
];

/**
 * `count` requests from `seed`. Each attacks one part (the path, the query, the body, an
 * override header or the Connection header) and keeps the others plain, so that most
 * attacks get past keygate's other checks and show what the origin does with them; one in
 * six attacks every part at once.
 */
function generate(seed, count) {
  const random = mulberry32(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const chance = (p) => random() < p;
  const value = (v) => (typeof v === "function" ? v() : v);
  const requests = [];
  for (let i = 0; i < count; i++) {
    const focus = pick(["path", "query", "body", "body", "header", "connection", "all"]);
    const hostile = (part) => focus === part || focus === "all";
    // Every override a framework honours needs a POST (method-override, Rack, Symfony, ...).
    const method = (focus === "body" || focus === "query") && chance(0.6) ? "POST" : pick(METHODS);
    const path = hostile("path") ? pick(PATHS) : pick(PLAIN_PATHS);
    const query = hostile("query") ? pick(QUERIES) : pick(["", "", "page=2"]);
    const headers = [];
    let body = null;
    const sendsBody = !["GET", "HEAD", "OPTIONS"].includes(method) || (hostile("body") && chance(0.1));
    if (sendsBody && (hostile("body") || chance(0.5))) {
      const kind = pick(["form", "form", "json", "multipart"]);
      if (kind === "form") {
        body = hostile("body") ? value(pick(FORM_BODIES)) : "name=x";
        const type = hostile("body") ? pick(FORM_TYPES) : FORM;
        if (type) headers.push(["Content-Type", type]);
      } else if (kind === "json") {
        body = JSON.stringify(hostile("body") ? value(pick(JSON_BODIES)) : { name: "x" });
        headers.push(["Content-Type", hostile("body") ? pick(JSON_TYPES) : JSON_TYPE]);
      } else {
        const boundary = `----keygate${i}`;
        body = (hostile("body") ? pick(MULTIPART_FIELDS) : [["name", "x"]])
          .map(([name, v, filename]) =>
            `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ""}\r\n\r\n${v}\r\n`)
          .join("") + `--${boundary}--\r\n`;
        headers.push(["Content-Type", `multipart/form-data; boundary=${boundary}`]);
      }
    }
    if (hostile("header") && (focus === "header" || chance(0.3))) headers.push(pick(OVERRIDE_HEADERS));
    const nominees = hostile("connection") ? [pick(CONNECTION_NOMINEES), ...(chance(0.3) ? [pick(CONNECTION_NOMINEES)] : [])] : [];
    headers.push(["Connection", ["close", ...nominees].join(", ")]);
    requests.push({ key: chance(0.7) ? "writer" : "reader", method, path, query, headers, body });
  }
  return requests;
}

/**
 * The known attacks, sent to every framework besides the generated ones, so that each is
 * tried against each origin whatever the generator draws.
 */
function knownAttacks() {
  const post = (target, body, type, extra = []) => ({
    key: "writer", method: "POST", path: target.split("?")[0], query: target.split("?")[1] ?? "",
    headers: [...(type ? [["Content-Type", type]] : []), ...extra, ["Connection", "close"]], body,
  });
  const multipart = (name) => `--b\r\nContent-Disposition: form-data; name="${name}"\r\n\r\nDELETE\r\n--b--\r\n`;
  const get = (target) => ({ key: "writer", method: "GET", path: target.split("?")[0], query: target.split("?")[1] ?? "", headers: [["Connection", "close"]], body: null });
  return [
    post("/v1/contacts", "_method=DELETE", FORM),
    post("/v1/contacts", "name=x&_method=DELETE", `${FORM}; charset=UTF-8`),
    post("/v1/contacts", ".method=DELETE", FORM),
    post("/v1/contacts", multipart("_method"), "multipart/form-data; boundary=b"),
    post("/v1/contacts", JSON.stringify({ _method: "DELETE" }), JSON_TYPE),
    post("/v1/contacts", `pad=${"a".repeat(70_000)}&_method=DELETE`, FORM),
    post("/v1/contacts", "name=_method_is_a_word", FORM),
    post("/v1/contacts?_method=DELETE", "name=x", FORM),
    post("/v1/contacts?_%6Dethod=DELETE", "name=x", FORM),
    post("/v1/contacts?%5F%6D%65%74%68%6F%64=DELETE", "name=x", FORM),
    post("/v1/contacts?.method=DELETE", "name=x", FORM),
    post("/v1/contacts?+method=DELETE", "name=x", FORM),
    post("/v1/contacts?_method[]=DELETE", "name=x", FORM),
    post("/v1/contacts", "name=x", FORM, [["X-HTTP-Method-Override", "DELETE"]]),
    post("/v1/contacts", "name=x", FORM, [["X_HTTP_METHOD_OVERRIDE", "DELETE"]]),
    get("/v1/contacts/x%0d%0aX-Injected:1"), get("/v1/contacts/x%0A"), get("/v1/contacts/x%09"), get("/v1/contacts/x%1B"), get("/v1/contacts/x%7f"),
    get("/v1/reports/../contacts/7"), get("/v1/reports/%2e%2e/contacts/7"), get("/v1/contacts/7?api_key={KEY}"),
  ];
}

// ------------------------------------------------------------------------------------
// Sending: raw HTTP/1.1 over a socket, since fetch() and http.request() refuse or rewrite
// much of what is generated (raw control characters, Connection, lowercase methods).

function sendRaw(gatewayUrl, { method, target, headers, body }) {
  const { hostname, port } = new URL(gatewayUrl);
  const payload = body === null ? null : Buffer.from(body, "utf8");
  const head = [
    `${method} ${target} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    ...headers.map(([name, v]) => `${name}: ${v}`),
    ...(payload ? [`Content-Length: ${payload.length}`] : []),
  ].join("\r\n");
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (result) => {
      done = true;
      socket.destroy();
      resolve(result);
    };
    const socket = connect(Number(port), hostname, () => {
      socket.write(Buffer.concat([Buffer.from(`${head}\r\n\r\n`, "utf8"), ...(payload ? [payload] : [])]));
    });
    socket.setTimeout(15_000, () => socket.destroy(new Error("no answer within 15 s")));
    // The server may keep the connection open despite `Connection: close`: stop reading as
    // soon as the response is complete.
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk]);
      const response = parseResponse(received, method);
      if (response) finish(response);
    });
    socket.on("error", (error) => done || reject(error));
    socket.on("close", () => done || resolve(parseResponse(received, method, true) ?? { status: 0, headers: {}, body: "" }));
  });
}

/** The response in `raw`, or null while it is incomplete (unless the connection closed). */
function parseResponse(raw, method, closed = false) {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) return closed ? { status: 0, headers: {}, body: raw.toString("latin1") } : null;
  const [statusLine, ...lines] = raw.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(statusLine.split(" ")[1]);
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = raw.subarray(end + 4);
  const complete = (body) => ({ status, headers, body: body.toString("utf8") });
  if (method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200)) return complete(Buffer.alloc(0));
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const body = dechunk(rest);
    return body ? complete(body) : closed ? complete(rest) : null;
  }
  if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"]);
    return rest.length >= length ? complete(rest.subarray(0, length)) : closed ? complete(rest) : null;
  }
  return closed ? complete(rest) : null;
}

/** A chunked body decoded, or null while its last chunk has not arrived. */
function dechunk(data) {
  const out = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", at);
    if (lineEnd < 0) return null;
    const size = parseInt(data.subarray(at, lineEnd).toString("latin1"), 16);
    if (Number.isNaN(size)) return null;
    if (size === 0) return Buffer.concat(out);
    if (data.length < lineEnd + 2 + size + 2) return null;
    out.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

// ------------------------------------------------------------------------------------
// Judging one exchange.

/**
 * The path keygate saw, routed and forwarded (keygate forwards the path it routed, and
 * signs it): the target the origin reports receiving (`X-Target`); for an origin that did
 * not report one, the sent target after WHATWG URL parsing, which the platform applies.
 */
function forwardedPath(request, response) {
  const reported = response.headers["x-target"];
  // WEBrick reports the absolute form (http://host:port/path): keep only the path.
  if (reported !== undefined) return reported.replace(/^[a-z]+:\/\/[^/]*/i, "").split("?")[0];
  return new URL(request.target, "http://origin.invalid").pathname;
}

function judge(request, response, secret) {
  const dispatchedHeader = response.headers["x-dispatched"];
  if (dispatchedHeader !== undefined) {
    const dispatched = JSON.parse(dispatchedHeader);
    const leaked = (response.headers["x-target"] ?? "").includes(secret);
    if (leaked) return { verdict: "mismatch", why: "the key's secret reached the origin in its request target" };
    if (dispatched.route === null) return { verdict: "origin-refused", detail: `${response.status}` };
    const path = forwardedPath(request, response);
    const authorised = { method: request.method, route: policyRoute(request.method, path) };
    if (dispatched.method === authorised.method && dispatched.route === authorised.route) return { verdict: "forwarded" };
    return {
      verdict: "mismatch",
      why: `keygate authorised ${authorised.method} ${authorised.route ?? "(no route)"} for ${JSON.stringify(path)}; the origin dispatched ${dispatched.method} ${dispatched.route}`,
    };
  }
  const type = response.headers["content-type"] ?? "";
  if (type.startsWith("application/problem+json")) {
    let code;
    try {
      code = JSON.parse(response.body).code;
    } catch {
      code = undefined;
    }
    // A HEAD answer has no body to name the code; 501 is keygate's method_not_supported.
    if (request.method === "HEAD" && response.status >= 400 && response.status < 500) return { verdict: "refused", detail: `HEAD ${response.status}` };
    if (((response.status >= 400 && response.status < 500) || code === "method_not_supported") && typeof code === "string") {
      return { verdict: "refused", detail: code };
    }
    return { verdict: "mismatch", why: `keygate answered ${response.status} ${response.body.slice(0, 200)}` };
  }
  // Neither keygate's problem nor a dispatch: the platform's HTTP parser or the origin's
  // server refused before any route ran (a 400 for a raw control character, a 411, ...).
  if (response.status >= 400) return { verdict: "origin-refused", detail: `${response.status} before any route` };
  return { verdict: "mismatch", why: `${response.status} with no dispatch report: ${response.body.slice(0, 200)}` };
}

function describeRequest(r) {
  const headers = r.headers.map(([n, v]) => `${n}: ${v}`).join(" | ");
  const body = r.body === null ? "" : ` body(${r.body.length}): ${JSON.stringify(r.body.slice(0, 120))}`;
  return `[${r.key}] ${r.method} ${JSON.stringify(r.target)} ${headers}${body}`;
}

// ------------------------------------------------------------------------------------

const summaries = {};

describe("real origins: what the framework dispatched is what keygate authorised, or keygate refused", () => {
  after(() => {
    for (const [name, s] of Object.entries(summaries)) {
      console.log(
        `origins: ${name}: sent ${s.sent}, refused by keygate ${s.refused}, forwarded and dispatched ${s.forwarded}, ` +
          `refused by the origin ${s.originRefused}, mismatches ${s.mismatches.length}`,
      );
    }
  });

  for (const [index, name] of Object.keys(FRAMEWORKS).entries()) {
    test(name, async (t) => {
      const origin = await startFramework(name);
      let gw;
      try {
        // The harness's 1.5 s origin timeout is for the timeout tests; a single-threaded
        // framework server on a loaded machine can take longer, and a 504 hides what it
        // dispatched, which is what this test judges.
        gw = await startGateway({
          origin: origin.url,
          bindings: { KEYGATE_POLICY: policy(FRAMEWORKS[name].readsBodyOverrides), KEYGATE_ORIGIN_TIMEOUT_MS: "15000" },
        });
        const secrets = {};
        for (const [role, scopes] of Object.entries(KEYS)) {
          secrets[role] = (await gw.createKey({ name: `${name} ${role}`, scopes, limits: { per_minute: 100_000, per_day: 1_000_000 } })).key;
        }
        const summary = { sent: 0, refused: 0, forwarded: 0, originRefused: 0, codes: {}, mismatches: [] };
        summaries[name] = summary;
        for (const generated of [...knownAttacks(), ...generate(SEED + index, REQUESTS_PER_FRAMEWORK)]) {
          const secret = secrets[generated.key];
          const query = generated.query.replaceAll("{KEY}", secret);
          const request = {
            ...generated,
            target: query ? `${generated.path}?${query}` : generated.path,
            headers: [["Authorization", `Bearer ${secret}`], ...generated.headers],
          };
          const response = await sendRaw(gw.url, request);
          const { verdict, detail, why } = judge(request, response, secret);
          summary.sent++;
          if (verdict === "refused") {
            summary.refused++;
            summary.codes[detail] = (summary.codes[detail] ?? 0) + 1;
          } else if (verdict === "forwarded") summary.forwarded++;
          else if (verdict === "origin-refused") summary.originRefused++;
          else summary.mismatches.push(`${describeRequest({ ...request, headers: generated.headers })}\n      → ${why}`);
        }
        t.diagnostic(
          `${name}: sent ${summary.sent}, refused by keygate ${summary.refused} ${JSON.stringify(summary.codes)}, ` +
            `forwarded and dispatched ${summary.forwarded}, refused by the origin ${summary.originRefused}, ` +
            `mismatches ${summary.mismatches.length}`,
        );
        assert.equal(
          summary.mismatches.length,
          0,
          `${name}: ${summary.mismatches.length} requests where the origin did something keygate did not authorise; the first:\n    ` +
            summary.mismatches.slice(0, 8).join("\n    "),
        );
      } finally {
        await gw?.dispose();
        await origin.stop();
      }
    });
  }
});
