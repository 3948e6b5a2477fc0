"""WSGI middleware (Flask, Bottle, Pyramid, any WSGI app; for Django see
``keygate_verify.django``)::

    from keygate_verify.wsgi import KeygateWSGIMiddleware
    app.wsgi_app = KeygateWSGIMiddleware(app.wsgi_app, secrets=[os.environ["KEYGATE_SIGNING_SECRET"]])
    # in a view: request.environ["keygate.verified"].identity.key_id

Refuses with a problem+json answer (401; 413 for a body over ``max_body_bytes`` or an
``unsigned-body`` one unless ``allow_unsigned_body``; 503 when the replay cache is full)
and never calls the app then. A verified request reaches the app with the exact bytes that
were hashed as its ``wsgi.input``, and its ``Verified`` under ``environ["keygate.verified"]``.
"""

import io
from typing import Optional

from ._common import Secrets
from ._middleware import DEFAULT, DEFAULT_MAX_BODY_BYTES, Checks, environ_headers, environ_target, problem
from .errors import BodyTooLarge, VerifyError
from .identity import DEFAULT_TOLERANCE_SECS

ENVIRON_KEY = "keygate.verified"
_CHUNK = 64 * 1024


class KeygateWSGIMiddleware:
    """Verifies every request before ``app`` sees it.

    ``secrets``: the signing secret, or several newest first during a rotation.
    ``replay_cache``: a ``ReplayCache`` per middleware by default (one process); pass your
    own shared one, or ``None`` to accept replays inside the window.
    ``host``: the Host keygate signed, when a proxy between keygate and this app rewrites it.
    ``clock``: seconds since the epoch, for tests."""

    def __init__(
        self,
        app,
        secrets: Secrets,
        *,
        replay_cache=DEFAULT,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        allow_unsigned_body: bool = False,
        host: Optional[str] = None,
        tolerance_secs: float = DEFAULT_TOLERANCE_SECS,
        clock=None,
    ):
        self.app = app
        self.checks = Checks(
            secrets,
            replay_cache=replay_cache,
            max_body_bytes=max_body_bytes,
            allow_unsigned_body=allow_unsigned_body,
            host=host,
            tolerance_secs=tolerance_secs,
            clock=clock,
        )

    def __call__(self, environ, start_response):
        try:
            signed = self.checks.check_headers(
                str(environ.get("REQUEST_METHOD", "")),
                str(environ.get("HTTP_HOST", "")),
                environ_target(environ),
                environ_headers(environ),
            )
            body = None
            if signed.body_signed:
                body = self._read_body(environ)
                environ["wsgi.input"] = io.BytesIO(body)
                environ["CONTENT_LENGTH"] = str(len(body))
            environ[ENVIRON_KEY] = self.checks.finish(signed, body)
        except VerifyError as error:
            status, headers, payload = problem(error)
            start_response(status, headers)
            return [payload]
        return self.app(environ, start_response)

    def _read_body(self, environ) -> bytes:
        """The whole body, never more than ``max_body_bytes``. A WSGI app may read past
        CONTENT_LENGTH only when the server marks the input terminated (a chunked body)."""
        stream = environ["wsgi.input"]
        length = self.checks.declared_length(environ.get("CONTENT_LENGTH"))
        limit = self.checks.max_body_bytes
        if length is None and not environ.get("wsgi.input_terminated"):
            return b""
        wanted = length if length is not None else limit + 1
        chunks = []
        received = 0
        while received < wanted:
            chunk = stream.read(min(_CHUNK, wanted - received))
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
        if received > limit:
            raise BodyTooLarge(limit)
        return b"".join(chunks)
