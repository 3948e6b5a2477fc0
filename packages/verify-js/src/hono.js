// Hono middleware: verifies keygate's identity headers and the body's digest, refuses
// replays, and sets c.get("keygate") = { identity, bodySigned, secretIndex }. Mount it before
// anything that reads the body. It reads a signed body itself (at most what keygate signs:
// 64 KiB, 1 MiB for an approved request) and hands the bytes to Hono's body cache, so c.req.json(), c.req.text() and the
// validators still work after it; a body over 64 KiB (`unsigned-body`) is left unread.
// No import of hono: the middleware is a plain (c, next) function.
import { settle, check, RawBodyUnavailable } from "./middleware.js";

/** @param {import("./middleware.js").KeygateOptions} options */
export function keygate(options) {
  const settings = settle(options);
  return async function keygateVerify(c, next) {
    const url = new URL(c.req.url);
    const request = {
      method: c.req.method,
      // The Host header as received (what keygate signed); the URL's host where a runtime
      // gives no Host header.
      host: c.req.header("host") ?? url.host,
      // The URL as parsed: keygate signs the target its own runtime serialised from a parsed
      // URL, and parsing that again changes nothing.
      pathAndQuery: url.pathname + url.search,
      headers: c.req.raw.headers,
    };
    const outcome = await check(settings, request, (limit) => rawBody(c, limit), c);
    if (!outcome.ok) {
      return new Response(JSON.stringify(outcome.problem), {
        status: outcome.status,
        headers: { "content-type": "application/problem+json" },
      });
    }
    c.set("keygate", outcome.keygate);
    await next();
  };
}

async function rawBody(c, limit) {
  const cache = c.req.bodyCache;
  if (cache.arrayBuffer) {
    const cached = new Uint8Array(await cache.arrayBuffer);
    return cached.length > limit ? null : cached;
  }
  if (Object.keys(cache).length > 0 || c.req.raw.bodyUsed) {
    // A parsed JSON or form body cannot be turned back into the bytes that were signed.
    throw new RawBodyUnavailable("Mount keygate() before any middleware or validator that reads the body.");
  }
  const declared = Number(c.req.header("content-length"));
  if (declared > limit) return null;
  const bytes = await readAtMost(c.req.raw.body, limit);
  if (bytes !== null) cache.arrayBuffer = Promise.resolve(bytes.buffer);
  return bytes;
}

/** The whole stream, or null as soon as it is longer than `limit` (the rest is not read). */
async function readAtMost(stream, limit) {
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}
