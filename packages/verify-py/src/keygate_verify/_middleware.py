"""What the WSGI, ASGI and Django middleware share: the checks in order, and the refusal."""

import json
import time
from typing import Callable, Dict, Optional, Tuple
from urllib.parse import quote

from ._common import Headers, Secrets, secret_list
from .errors import BodyTooLarge, MalformedHeader, UnsignedBody, VerifyError
from .identity import DEFAULT_TOLERANCE_SECS, SignedHeaders, Verified, verify_headers
from .replay import ReplayCache

#: keygate signs a direct request's body up to 64 KiB, and an approved request's stored body
#: up to the policy's ``[approvals] max_body_bytes``, at most 1 MiB: the default buffers that.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_PCHAR = "/:@!$&'()*+,;=~"
_REASONS = {401: "Unauthorized", 413: "Content Too Large", 503: "Service Unavailable"}


class _Default:
    """A marker for "not given", so that ``replay_cache=None`` can mean "none"."""


DEFAULT = _Default()


class Checks:
    """The middleware's settings, and the order it checks in: the headers and signature
    first (a forgery is refused before any body is read), then the body, bounded, against
    its digest, then the replay cache."""

    def __init__(
        self,
        secrets: Secrets,
        *,
        replay_cache=DEFAULT,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        allow_unsigned_body: bool = False,
        host: Optional[str] = None,
        tolerance_secs: float = DEFAULT_TOLERANCE_SECS,
        clock: Optional[Callable[[], float]] = None,
    ):
        secret_list(secrets)  # a missing or empty secret fails at start-up, not per request
        self.secrets = secrets
        self.replay_cache = ReplayCache(tolerance_secs=tolerance_secs) if replay_cache is DEFAULT else replay_cache
        self.max_body_bytes = max_body_bytes
        self.allow_unsigned_body = allow_unsigned_body
        self.host = host
        self.tolerance_secs = tolerance_secs
        self.clock = clock

    def now(self) -> float:
        return self.clock() if self.clock is not None else time.time()

    def check_headers(self, method: str, host: str, path_and_query: str, headers: Headers) -> SignedHeaders:
        signed = verify_headers(
            method=method,
            host=self.host if self.host is not None else host,
            path_and_query=path_and_query,
            headers=headers,
            secrets=self.secrets,
            now=self.now(),
            tolerance_secs=self.tolerance_secs,
        )
        if not signed.body_signed and not self.allow_unsigned_body:
            raise UnsignedBody()
        return signed

    def declared_length(self, value: Optional[str]) -> Optional[int]:
        """The Content-Length, refused when over the bound, before a byte is read."""
        if value is None or value == "":
            return None
        if not value.isascii() or not value.isdigit():
            raise MalformedHeader("content-length")
        length = int(value)
        if length > self.max_body_bytes:
            raise BodyTooLarge(self.max_body_bytes)
        return length

    def finish(self, signed: SignedHeaders, body: Optional[bytes]) -> Verified:
        verified = signed.check_body(body)
        if self.replay_cache is not None:
            self.replay_cache.check_and_remember(verified.identity, self.now())
        return verified


def problem(error: VerifyError) -> Tuple[str, list, bytes]:
    """The refusal as a status line, headers and a problem+json body naming the code."""
    status = error.status
    body = json.dumps(
        {
            "type": "about:blank",
            "title": _REASONS.get(status, "Refused"),
            "status": status,
            "code": error.code,
            "detail": str(error),
        }
    ).encode("utf-8")
    headers = [
        ("Content-Type", "application/problem+json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]
    return f"{status} {_REASONS.get(status, 'Refused')}", headers, body


def environ_headers(environ: Dict[str, object]) -> Dict[str, str]:
    """The headers a WSGI environ carries, by lower-case name (CGI spelling undone)."""
    headers = {}
    for name, value in environ.items():
        if name.startswith("HTTP_") and isinstance(value, str):
            headers[name[5:].replace("_", "-").lower()] = value
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        value = environ.get(name)
        if isinstance(value, str) and value:
            headers[name.replace("_", "-").lower()] = value
    return headers


def environ_target(environ: Dict[str, object]) -> str:
    """The request target as received. Servers that keep it say so (Werkzeug and gunicorn:
    RAW_URI; uWSGI, mod_wsgi and Werkzeug: REQUEST_URI); otherwise it is rebuilt from the
    decoded path, which is exact for the paths keygate forwards except an encoded ``/``
    (``%2F``) or a lower-case escape, which decoding cannot tell apart."""
    query = str(environ.get("QUERY_STRING", ""))
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw:
        # Werkzeug's test client leaves the query out of them; servers keep it.
        return raw if "?" in raw or not query else f"{raw}?{query}"
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    target = quote(path.encode("latin-1"), safe=_PCHAR)
    return f"{target}?{query}" if query else target
