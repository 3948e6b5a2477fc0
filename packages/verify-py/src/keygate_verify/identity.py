"""keygate's signed identity headers (signature V3): who is calling, as keygate vouches.

The signature is ``v3=`` + base64url (no padding) of HMAC-SHA256(secret, canonical string),
the canonical string being 17 lines joined by ``\\n``: the scheme, the method, the Host
header, the path (the request target before the first ``?``), the query (after it, empty
without one), Content-Type, Content-Length, X-Keygate-Content-SHA256, the key's id, name
(percent-encoded, as sent), workspace, environment, scopes, the request id, the approval id,
the approver and the timestamp; an absent header is an empty line (README, "What the origin
receives"; ``src/identity.rs``).
"""

import hashlib
import hmac
from dataclasses import dataclass
from typing import Optional, Tuple

from ._common import (
    SIGNATURE,
    TIMESTAMP,
    Headers,
    Secrets,
    check_signed,
    header_lookup,
    now_secs,
    secret_list,
)
from .errors import BodyMismatch, MalformedHeader, MalformedRequestLine, MissingHeader

SCHEME = "KEYGATE-HMAC-SHA256-V3"
SIGNATURE_PREFIX = "v3="
#: What X-Keygate-Content-SHA256 says of a body keygate streamed without seeing it whole.
UNSIGNED_BODY = "unsigned-body"
#: keygate hashes a body that ends within this many bytes; a longer one is unsigned-body.
SIGNED_BODY_MAX_BYTES = 64 * 1024
#: How far a signed timestamp may be from now, either way.
DEFAULT_TOLERANCE_SECS = 300

CONTENT_SHA256 = "x-keygate-content-sha256"
# Signed in this order after the method, host, path and query.
_FIELDS = (
    "content-type",
    "content-length",
    CONTENT_SHA256,
    "x-keygate-key-id",
    "x-keygate-key-name",
    "x-keygate-workspace",
    "x-keygate-environment",
    "x-keygate-scopes",
    "x-keygate-request-id",
    "x-keygate-approval-id",
    "x-keygate-approved-by",
    TIMESTAMP,
)
# Headers keygate may leave out, signed as empty: the approval fields on a request nobody
# approved, the content type and length on a request without them.
_OPTIONAL = frozenset(["content-type", "content-length", "x-keygate-approval-id", "x-keygate-approved-by"])
# The order keygate's verifier reads them in, so that a request with two faults gets the
# same code from every verifier: the digest first, the signature last.
_READ_ORDER = (CONTENT_SHA256,) + tuple(n for n in _FIELDS if n != CONTENT_SHA256) + (SIGNATURE,)
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Identity:
    """Who is calling, as keygate vouches for it."""

    key_id: str
    #: The key's display name, decoded from its percent-encoding.
    key_name: str
    workspace: str
    #: ``live`` or ``test``: keep test keys away from real data by this.
    environment: str
    scopes: Tuple[str, ...]
    #: ``req_…``, unique per request: what a replay cache remembers.
    request_id: str
    #: The approval that released this request, if a human approved it.
    approval_id: Optional[str]
    #: Who approved it (``root`` or a key id), alongside ``approval_id``.
    approved_by: Optional[str]
    #: Unix seconds when keygate forwarded the request.
    timestamp: int


@dataclass(frozen=True)
class Verified:
    """A request that verified."""

    identity: Identity
    #: False for ``unsigned-body``: a body over 64 KiB keygate streamed unseen, whose bytes
    #: are not vouched for (its content type and declared length still are).
    body_signed: bool
    #: Which of the secrets given verified it: 0 is the newest. During a rotation's overlap
    #: an index above 0 says keygate still signs with an older secret.
    secret_index: int


@dataclass(frozen=True)
class SignedHeaders:
    """A request whose headers verified, its body not yet checked (see ``verify_headers``)."""

    identity: Identity
    secret_index: int
    #: The signed SHA-256 of the body; None for ``unsigned-body``.
    body_sha256: Optional[bytes]

    @property
    def body_signed(self) -> bool:
        return self.body_sha256 is not None

    def check_body(self, body: Optional[bytes] = None, *, body_sha256: Optional[bytes] = None) -> Verified:
        """Checks the body (its bytes, or their SHA-256 if you hashed them while reading;
        neither is an empty body) against the signed digest, unless it is ``unsigned-body``."""
        if self.body_sha256 is not None:
            if body_sha256 is None:
                body_sha256 = hashlib.sha256(body or b"").digest()
            if not hmac.compare_digest(body_sha256, self.body_sha256):
                raise BodyMismatch()
        return Verified(self.identity, self.body_signed, self.secret_index)


def verify_headers(
    *,
    method: str,
    host: str,
    path_and_query: str,
    headers: Headers,
    secrets: Secrets,
    now: Optional[float] = None,
    tolerance_secs: float = DEFAULT_TOLERANCE_SECS,
) -> SignedHeaders:
    """Everything but the body: the request line and headers against the signature under
    each secret, then the timestamp. Lets a server refuse a forgery before reading any body;
    finish with ``.check_body(...)``. Raises a ``VerifyError``."""
    keys = secret_list(secrets)
    if any("\n" in field or "\r" in field for field in (method, host, path_and_query)):
        raise MalformedRequestLine()
    found = header_lookup(headers, _READ_ORDER)
    fields = {}
    for name in _READ_ORDER:
        value = found.get(name)
        if value is None:
            if name not in _OPTIONAL:
                raise MissingHeader(name)
            value = ""
        if "\n" in value or "\r" in value:
            raise MalformedHeader(name)
        if name == CONTENT_SHA256 and value != UNSIGNED_BODY and not _is_sha256_hex(value):
            raise MalformedHeader(CONTENT_SHA256)
        fields[name] = value
    path, _, query = path_and_query.partition("?")
    canonical = "\n".join([SCHEME, method, host, path, query, *(fields[n] for n in _FIELDS)])
    expected = [hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).digest() for key in keys]
    secret_index, timestamp = check_signed(
        expected, fields[SIGNATURE], SIGNATURE_PREFIX, fields[TIMESTAMP], now_secs(now), tolerance_secs
    )
    digest = fields[CONTENT_SHA256]
    return SignedHeaders(
        identity=Identity(
            key_id=fields["x-keygate-key-id"],
            key_name=percent_decode(fields["x-keygate-key-name"]),
            workspace=fields["x-keygate-workspace"],
            environment=fields["x-keygate-environment"],
            scopes=tuple(s for s in fields["x-keygate-scopes"].split(" ") if s),
            request_id=fields["x-keygate-request-id"],
            approval_id=fields["x-keygate-approval-id"] or None,
            approved_by=fields["x-keygate-approved-by"] or None,
            timestamp=timestamp,
        ),
        secret_index=secret_index,
        body_sha256=None if digest == UNSIGNED_BODY else bytes.fromhex(digest),
    )


def verify_request(
    *,
    method: str,
    host: str,
    path_and_query: str,
    headers: Headers,
    body: Optional[bytes] = None,
    body_sha256: Optional[bytes] = None,
    secrets: Secrets,
    now: Optional[float] = None,
    tolerance_secs: float = DEFAULT_TOLERANCE_SECS,
) -> Verified:
    """Verifies a request keygate forwarded, as the origin received it.

    ``host`` is the Host header the origin received; ``path_and_query`` the request target
    as received (still percent-encoded), e.g. ``/v1/contacts?page=2``; ``headers`` the
    request's headers (names in any case); ``body`` the bytes received (or ``body_sha256``,
    their digest); ``secrets`` the signing secret, or a list newest first during a rotation
    (any may verify; ``Verified.secret_index`` says which did). Refuses a timestamp more than
    ``tolerance_secs`` from ``now`` (Unix seconds; the clock when None). Raises a
    ``VerifyError``; does not detect replays (see ``ReplayCache``)."""
    return verify_headers(
        method=method,
        host=host,
        path_and_query=path_and_query,
        headers=headers,
        secrets=secrets,
        now=now,
        tolerance_secs=tolerance_secs,
    ).check_body(body, body_sha256=body_sha256)


def percent_decode(text: str) -> str:
    """Reads X-Keygate-Key-Name back: ``%XX`` with two hex digits is a byte, anything else
    stays as is; bytes that are not UTF-8 become U+FFFD (as keygate's own decoder does)."""
    raw = text.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(raw):
        pair = raw[i + 1 : i + 3]
        if raw[i] == 0x25 and len(pair) == 2 and all(chr(b) in "0123456789abcdefABCDEF" for b in pair):
            out.append(int(pair, 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", errors="replace")


def _is_sha256_hex(text: str) -> bool:
    return len(text) == 64 and all(c in _HEX for c in text)
