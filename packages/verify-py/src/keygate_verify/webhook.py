"""keygate's rejection webhooks: is this notice from keygate, for this receiver?

X-Keygate-Signature holds one ``v1=`` + base64url (no padding) of HMAC-SHA256(key = the
receiver's whole ``whsec_…`` secret, message = ``KEYGATE-WEBHOOK-V1\\n`` + X-Keygate-Timestamp
+ ``\\n`` + the raw body) per secret keygate signs with, comma-separated: two while a rotated
secret is in its grace period, the new one first (README, "Rejection webhooks";
``src/webhook.rs``).
"""

import hashlib
import hmac
from dataclasses import dataclass
from typing import Optional

from ._common import SIGNATURE, TIMESTAMP, Headers, Secrets, check_signed, header_lookup, now_secs, secret_list
from .errors import BadSignature, MalformedHeader, MissingHeader, VerifyError
from .identity import DEFAULT_TOLERANCE_SECS

SCHEME = "KEYGATE-WEBHOOK-V1"
SIGNATURE_PREFIX = "v1="
#: keygate sends at most two signatures; entries past the first few are not read, so a long
#: header is no way to make a receiver compute without end.
MAX_SIGNATURES = 4
_WHITESPACE = " \t\r\n\x0b\x0c"


@dataclass(frozen=True)
class WebhookVerified:
    #: X-Keygate-Timestamp, Unix seconds.
    timestamp: int
    #: Which of the receiver's secrets matched: 0 is the newest.
    secret_index: int


def verify_webhook(
    *,
    headers: Headers,
    body: bytes,
    secrets: Secrets,
    now: Optional[float] = None,
    tolerance_secs: float = DEFAULT_TOLERANCE_SECS,
) -> WebhookVerified:
    """Verifies a delivery over its raw body, exactly as received (before any JSON parsing).
    ``secrets`` is this receiver's ``whsec_…`` secret, or several newest first while you
    switch; the notice is accepted when any signature in the header is any secret's. Then
    refuses a timestamp more than ``tolerance_secs`` from ``now``. Raises a ``VerifyError``;
    remember the notice's ``approval_id`` to treat a retry as one."""
    keys = secret_list(secrets)
    found = header_lookup(headers, [TIMESTAMP, SIGNATURE])
    timestamp = found.get(TIMESTAMP)
    if timestamp is None:
        raise MissingHeader(TIMESTAMP)
    header = found.get(SIGNATURE)
    if header is None:
        raise MissingHeader(SIGNATURE)
    message = b"%s\n%s\n%s" % (SCHEME.encode(), timestamp.encode("utf-8"), bytes(body))
    expected = [hmac.new(key, message, hashlib.sha256).digest() for key in keys]
    outcome: VerifyError = MalformedHeader(SIGNATURE)
    for presented in header.split(",", MAX_SIGNATURES)[:MAX_SIGNATURES]:
        try:
            index, value = check_signed(
                expected, presented.strip(_WHITESPACE), SIGNATURE_PREFIX, timestamp, now_secs(now), tolerance_secs
            )
            return WebhookVerified(timestamp=value, secret_index=index)
        except BadSignature as error:
            # Only a wrong signature lets another one in the header be tried; a malformed
            # entry is skipped; a match with a bad timestamp is final.
            outcome = error
        except MalformedHeader as error:
            if error.header != SIGNATURE:
                raise
    raise outcome
