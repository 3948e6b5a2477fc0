// The demo origin: echoes every request it receives as JSON, including the identity
// headers keygate added, whether their signature (and the body's digest) verifies, and
// whether the request id was seen before (a replay).
// Usage: KEYGATE_SIGNING_SECRET=... node scripts/demo-origin.mjs [port]
import { createServer } from "node:http";
import { verifyRequest as verifyKeygateRequest, ReplayCache } from "@keygate/verify";

export function startDemoOrigin({ port = 0, secret }) {
  const replays = new ReplayCache();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const received = Buffer.concat(chunks);
      let verification = verifyKeygateRequest(
        { method: req.method, host: req.headers.host, pathAndQuery: req.url, headers: req.headers, body: received },
        secret,
      );
      if (verification.ok && !replays.firstSeen(verification.identity)) {
        verification = { ok: false, code: "replayed", error: "request id seen before within the window" };
      }
      const body = JSON.stringify(
        {
          origin: "keygate demo origin",
          method: req.method,
          path: req.url,
          headers: req.headers,
          body: received.toString("utf8"),
          identity_verified: verification.ok,
          body_signed: verification.ok ? verification.bodySigned : undefined,
          identity: verification.ok ? verification.identity : { error: verification.error },
        },
        null,
        2,
      );
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body + "\n");
    });
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const secret = process.env.KEYGATE_SIGNING_SECRET;
  if (!secret) {
    console.error("demo-origin: set KEYGATE_SIGNING_SECRET");
    process.exit(2);
  }
  const server = await startDemoOrigin({ port: Number(process.argv[2] ?? 0), secret });
  console.log(`demo origin listening on http://127.0.0.1:${server.address().port}`);
}
