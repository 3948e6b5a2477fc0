"""Verify what keygate sends an origin: its signed identity headers (``verify_request``) and
its rejection webhooks (``verify_webhook``); refuse replays (``ReplayCache``); or let a
middleware do all of it: ``keygate_verify.wsgi`` (Flask, any WSGI app),
``keygate_verify.asgi`` (Starlette, FastAPI, any ASGI app), ``keygate_verify.django``."""

from .errors import (
    BadSignature,
    BodyMismatch,
    BodyTooLarge,
    MalformedHeader,
    MalformedRequestLine,
    MissingHeader,
    Replayed,
    ReplayCacheFull,
    StaleTimestamp,
    UnsignedBody,
    VerifyError,
)
from .identity import (
    DEFAULT_TOLERANCE_SECS,
    SIGNED_BODY_MAX_BYTES,
    UNSIGNED_BODY,
    Identity,
    SignedHeaders,
    Verified,
    percent_decode,
    verify_headers,
    verify_request,
)
from .replay import ReplayCache
from .webhook import WebhookVerified, verify_webhook

__all__ = [
    "BadSignature",
    "BodyMismatch",
    "BodyTooLarge",
    "DEFAULT_TOLERANCE_SECS",
    "Identity",
    "MalformedHeader",
    "MalformedRequestLine",
    "MissingHeader",
    "ReplayCache",
    "ReplayCacheFull",
    "Replayed",
    "SIGNED_BODY_MAX_BYTES",
    "SignedHeaders",
    "StaleTimestamp",
    "UNSIGNED_BODY",
    "UnsignedBody",
    "Verified",
    "VerifyError",
    "WebhookVerified",
    "percent_decode",
    "verify_headers",
    "verify_request",
    "verify_webhook",
]
