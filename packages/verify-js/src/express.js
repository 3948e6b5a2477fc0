// Express (and Connect, and plain node:http) middleware: verifies keygate's identity headers
// and the body's digest, refuses replays, and sets `req.keygate` = { identity, bodySigned,
// secretIndex } for the handlers after it.
//
// The digest is of the body's exact bytes, so the middleware needs them, not a parsed body.
// It finds them, in this order:
//   - `req.rawBody`, set by a body parser's verify callback:
//       app.use(express.json({ verify: keepRawBody }))
//   - `req.body` when it is a Buffer, as express.raw() leaves it:
//       app.use(express.raw({ type: () => true, limit: "64kb" }))
//   - the request stream, when nothing read it yet: the middleware reads it (at most what
//     keygate signs: 64 KiB, 1 MiB for an approved request) and leaves the bytes in
//     `req.rawBody`. A body parser mounted after it then finds the stream finished and
//     parses nothing: parse `req.rawBody` yourself, or mount the parser first with
//     `verify: keepRawBody`.
// A body parsed by an earlier middleware without keeping its bytes cannot be checked: that
// request fails with a RawBodyUnavailable error (a 500), never with a guess.
import { settle, check, RawBodyUnavailable } from "./middleware.js";

/** A body parser `verify` callback that keeps the exact bytes: `express.json({ verify: keepRawBody })`. */
export function keepRawBody(req, _res, buffer) {
  req.rawBody = buffer;
}

/** @param {import("./middleware.js").KeygateOptions} options */
export function keygate(options) {
  const settings = settle(options);
  return function keygateVerify(req, res, next) {
    const request = {
      method: req.method,
      host: req.headers.host ?? "",
      // originalUrl: the whole request target, also under a router mounted at a path.
      pathAndQuery: req.originalUrl ?? req.url,
      headers: req.headers,
    };
    check(settings, request, (limit) => rawBody(req, limit), req).then(
      (outcome) => {
        if (!outcome.ok) {
          res.statusCode = outcome.status;
          res.setHeader("content-type", "application/problem+json");
          res.end(JSON.stringify(outcome.problem));
          return;
        }
        req.keygate = outcome.keygate;
        next();
      },
      next,
    );
  };
}

function rawBody(req, limit) {
  if (req.rawBody instanceof Uint8Array) return req.rawBody.length > limit ? null : req.rawBody;
  if (req.body instanceof Uint8Array) return req.body.length > limit ? null : req.body;
  // body-parser marks a body it read with `_body`; a stream that ended was read by someone.
  if (req._body || req.readableEnded) {
    throw new RawBodyUnavailable("Mount the body parser with `verify: keepRawBody`, use express.raw(), or mount keygate() before any body parser.");
  }
  return new Promise((resolve, reject) => {
    const chunks = [];
    let length = 0;
    const onData = (chunk) => {
      length += chunk.length;
      if (length > limit) {
        req.off("data", onData);
        req.resume(); // drain the rest unread, so the connection can answer
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => {
      if (length > limit) return;
      req.rawBody = Buffer.concat(chunks);
      resolve(req.rawBody);
    });
    req.once("error", reject);
  });
}
