"""ASGI middleware (Starlette, FastAPI, any ASGI app)::

    from keygate_verify.asgi import KeygateASGIMiddleware
    app.add_middleware(KeygateASGIMiddleware, secrets=[os.environ["KEYGATE_SIGNING_SECRET"]])
    # in an endpoint: request.state.keygate.identity.key_id

The same checks and refusals as ``keygate_verify.wsgi``. A verified request reaches the app
with the exact bytes that were hashed, fed again through ``receive``, and its ``Verified``
under ``scope["state"]["keygate"]`` (Starlette's ``request.state.keygate``). WebSockets are
refused: keygate forwards no upgrade. Lifespan events pass through.
"""

from typing import Optional
from urllib.parse import quote

from ._common import Secrets
from ._middleware import _PCHAR, DEFAULT, DEFAULT_MAX_BODY_BYTES, Checks, problem
from .errors import BodyTooLarge, VerifyError
from .identity import DEFAULT_TOLERANCE_SECS

STATE_KEY = "keygate"


def scope_target(scope) -> str:
    """The request target as received: ``raw_path`` (the path's bytes as sent) when the
    server gives it, else the decoded path encoded again; then the query as sent."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope.get("path", "").encode("utf-8"), safe=_PCHAR)
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


class KeygateASGIMiddleware:
    """Verifies every HTTP request before ``app`` sees it; the options are those of
    ``keygate_verify.wsgi.KeygateWSGIMiddleware``."""

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

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":
            # Closing before accepting answers the handshake with a 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        try:
            signed = self.checks.check_headers(
                scope["method"],
                next((value for name, value in headers if name.lower() == "host"), ""),
                scope_target(scope),
                headers,
            )
            body = None
            if signed.body_signed:
                # A declared length over the bound is refused before a byte is read.
                self.checks.declared_length(
                    next((value for name, value in headers if name.lower() == "content-length"), None)
                )
                body = await self._read_body(receive)
                if body is None:
                    return  # the client went away mid-body: nothing to answer
                receive = _replay(body, receive)
            scope.setdefault("state", {})[STATE_KEY] = self.checks.finish(signed, body)
        except VerifyError as error:
            await _refuse(send, error)
            return
        await self.app(scope, receive, send)

    async def _read_body(self, receive) -> Optional[bytes]:
        """The whole body, never more than ``max_body_bytes``; None if the client
        disconnected first."""
        limit = self.checks.max_body_bytes
        chunks = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive):
    """A ``receive`` that hands the app the buffered body once, then waits on the real one
    (for the disconnect)."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _refuse(send, error: VerifyError) -> None:
    _, headers, payload = problem(error)
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
        }
    )
    await send({"type": "http.response.body", "body": payload})
