"""Why a request or webhook that claims to come from keygate is refused.

Every error has a stable ``code``. The first six are the codes of keygate's Rust
``VerifyError::code()``, which the shared test vectors (``tests/vectors/*.json``) name; the
rest are refusals of this package's middleware and replay cache. ``status`` is the HTTP
status the middleware answers with. No message ever holds a secret.
"""

from typing import Optional


class VerifyError(Exception):
    """A refusal. Catch this to catch them all; read ``code`` to tell them apart."""

    code = "verify_error"
    status = 401

    def __init__(self, message: str, header: Optional[str] = None):
        super().__init__(message)
        #: The header at fault, for the header errors; ``None`` otherwise.
        self.header = header


class MissingHeader(VerifyError):
    code = "missing_header"

    def __init__(self, header: str):
        super().__init__(f"missing header {header}", header)


class MalformedHeader(VerifyError):
    """A value no keygate could have sent: a line break, a digest not in lowercase hex, a
    signature of another version (``v2=``), a timestamp that is not a number."""

    code = "malformed_header"

    def __init__(self, header: str):
        super().__init__(f"malformed header {header}", header)


class MalformedRequestLine(VerifyError):
    """A line break in the method, host or request target: keygate never signs one, and
    the canonical string separates its fields with them."""

    code = "malformed_request_line"

    def __init__(self) -> None:
        super().__init__("line break in the request line")


class StaleTimestamp(VerifyError):
    """Older or newer than the tolerance allows: possibly a replay."""

    code = "stale_timestamp"

    def __init__(self, age_secs: int):
        super().__init__(f"timestamp is {age_secs}s away from now, outside the tolerance")
        #: Seconds between the signed timestamp and now; negative when it is ahead.
        self.age_secs = age_secs


class BadSignature(VerifyError):
    code = "bad_signature"

    def __init__(self) -> None:
        super().__init__("signature does not match")


class BodyMismatch(VerifyError):
    """The headers are keygate's, but the body is not the one keygate signed."""

    code = "body_mismatch"

    def __init__(self) -> None:
        super().__init__("body does not match its signed digest")


class Replayed(VerifyError):
    """A request id verified before, still inside the window: the same request again."""

    code = "replayed"

    def __init__(self) -> None:
        super().__init__("request id already seen within the window")


class ReplayCacheFull(VerifyError):
    """The replay cache holds as many live ids as it may: it refuses (fails closed) rather
    than forget one that could come back."""

    code = "replay_cache_full"
    status = 503

    def __init__(self) -> None:
        super().__init__("replay cache is full")


class BodyTooLarge(VerifyError):
    """A signed body longer than the middleware buffers (``max_body_bytes``)."""

    code = "body_too_large"
    status = 413

    def __init__(self, max_bytes: int):
        super().__init__(f"body longer than {max_bytes} bytes")
        self.max_bytes = max_bytes


class UnsignedBody(VerifyError):
    """keygate streamed the body unseen (over 64 KiB, ``unsigned-body``) and the middleware
    was not told to accept such bodies (``allow_unsigned_body``)."""

    code = "unsigned_body"
    status = 413

    def __init__(self) -> None:
        super().__init__("body not covered by the signature (unsigned-body)")
