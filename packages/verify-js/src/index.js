// @keygate/verify: verify keygate's signed identity headers (verifyRequest) and rejection
// webhooks (verifyWebhook) in an origin written in JavaScript; remember request ids against
// replays (ReplayCache). Middleware: "@keygate/verify/express" and "@keygate/verify/hono".
export {
  verifyRequest,
  verifySignedHeaders,
  checkBody,
  sha256Hex,
  verifyWebhook,
  ReplayCache,
  UNSIGNED_BODY,
  SIGNED_BODY_MAX_BYTES,
  APPROVED_BODY_MAX_BYTES,
  DEFAULT_TOLERANCE_SECS,
} from "./core.js";
