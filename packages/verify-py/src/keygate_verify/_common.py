"""What the identity and webhook checks share: secrets, signatures, timestamps, headers."""

import base64
import binascii
import hmac
import re
import time
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import BadSignature, MalformedHeader, StaleTimestamp

SIGNATURE = "x-keygate-signature"
TIMESTAMP = "x-keygate-timestamp"

Secret = Union[str, bytes]
#: One secret, or several newest first (a rotation's overlap).
Secrets = Union[Secret, Sequence[Secret]]
#: A mapping of names to values, or (name, value) pairs; names in any case, values as
#: ``str`` (bytes are read as Latin-1, as HTTP servers hand them over).
Headers = Union[Mapping[str, Union[str, bytes]], Iterable[Tuple[Union[str, bytes], Union[str, bytes]]]]

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
# Decimal digits only, as keygate sends it and every verifier reads it (str.isdigit would take
# other scripts' digits, int() spaces and underscores).
_TIMESTAMP = re.compile(r"[0-9]+")
_U64_MAX = 2**64 - 1


def secret_list(secrets: Secrets) -> List[bytes]:
    """The secrets as HMAC keys, newest first. Text is UTF-8, as keygate reads its own."""
    if isinstance(secrets, (str, bytes)):
        secrets = [secrets]
    keys = [s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in secrets]
    if not keys:
        raise ValueError("at least one secret is needed")
    if any(not key for key in keys):
        raise ValueError("a secret must not be empty")
    return keys


def header_lookup(headers: Headers, names: Iterable[str]) -> dict:
    """The values of ``names`` (lower case) in ``headers``. A name sent twice is refused:
    keygate sends each of its headers once, and an app reading the other copy would act on
    what was not verified."""
    wanted = set(names)
    found: dict = {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        name = (name.decode("latin-1") if isinstance(name, bytes) else name).lower()
        if name not in wanted:
            continue
        if name in found:
            raise MalformedHeader(name)
        found[name] = value.decode("latin-1") if isinstance(value, bytes) else value
    return found


def now_secs(now: Optional[float]) -> float:
    return time.time() if now is None else now


def decode_signature(presented: str, prefix: str) -> Optional[bytes]:
    """The MAC in ``<prefix><base64url without padding>``, or None when it is not one.
    As strict as keygate's decoder: no padding, no other alphabet, no stray bits."""
    if not presented.startswith(prefix):
        return None
    text = presented[len(prefix):]
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # A last character with bits the MAC does not use is another spelling: refused.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        return None
    return raw


def check_signed(
    expected: Sequence[bytes],
    presented: str,
    prefix: str,
    timestamp: str,
    now: float,
    tolerance_secs: float,
) -> Tuple[int, int]:
    """Compares a presented signature with the MAC under each secret (constant time each),
    then checks the timestamp; returns (the index of the secret that matched, timestamp).
    The signature comes first, so a forger learns nothing from which check failed."""
    mac = decode_signature(presented, prefix)
    if mac is None:
        raise MalformedHeader(SIGNATURE)
    matched = None
    for index, candidate in enumerate(expected):
        if hmac.compare_digest(candidate, mac) and matched is None:
            matched = index
    if matched is None:
        raise BadSignature()
    return matched, check_timestamp(timestamp, now, tolerance_secs)


def check_timestamp(timestamp: str, now: float, tolerance_secs: float) -> int:
    # Leading zeros are a number still; more than 20 digits after them is not a u64 (and
    # int() refuses over 4,300 digits).
    if not _TIMESTAMP.fullmatch(timestamp) or len(timestamp.lstrip("0")) > 20 or int(timestamp) > _U64_MAX:
        raise MalformedHeader(TIMESTAMP)
    value = int(timestamp)
    if abs(now - value) > tolerance_secs:
        raise StaleTimestamp(int(now - value))
    return value
