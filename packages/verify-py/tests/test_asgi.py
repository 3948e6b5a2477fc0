"""The ASGI middleware in front of Starlette and FastAPI, through Starlette's TestClient."""

import asyncio
import hashlib

import pytest
from fastapi import FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from keygate_verify.asgi import KeygateASGIMiddleware
from signer import NOW, SECRET_A, SECRET_B, signed_headers

HOST = "origin.test"


async def describe(request):
    verified = request.state.keygate
    body = await request.body()
    return JSONResponse(
        {
            "key_id": verified.identity.key_id,
            "key_name": verified.identity.key_name,
            "approval_id": verified.identity.approval_id,
            "secret_index": verified.secret_index,
            "body_signed": verified.body_signed,
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
    )


def starlette_app(secrets=(SECRET_A,), **options):
    app = Starlette(routes=[Route("/v1/contacts", describe, methods=["GET", "POST"])])
    options.setdefault("clock", lambda: NOW + 5)
    app.add_middleware(KeygateASGIMiddleware, secrets=list(secrets), **options)
    return app


def fastapi_app(secrets=(SECRET_A,), **options):
    app = FastAPI()

    @app.post("/v1/contacts")
    async def create(request: Request, contact: dict):
        answer = await describe(request)
        answer.headers["x-name"] = contact["name"]
        return answer

    options.setdefault("clock", lambda: NOW + 5)
    app.add_middleware(KeygateASGIMiddleware, secrets=list(secrets), **options)
    return app


def send(app, headers, body=b"", method="POST", target="/v1/contacts"):
    client = TestClient(app, base_url=f"http://{HOST}")
    return client.request(method, target, content=body, headers=headers)


def code(response):
    assert response.headers["content-type"] == "application/problem+json"
    return response.status_code, response.json()["code"]


@pytest.mark.parametrize("make", [starlette_app, fastapi_app], ids=["starlette", "fastapi"])
def test_a_signed_request_reaches_the_app_with_its_identity_and_exact_body(make):
    body = b'{"name":"Ada Lovelace"}'
    target = "/v1/contacts?notify=1&tag=a%20b"
    headers = signed_headers(body=body, content_type="application/json", target=target, key_name="Agent — prod 100%", approval_id="apr_1")
    response = send(make(), headers, body, target=target)
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["key_name"] == "Agent — prod 100%" and seen["approval_id"] == "apr_1"
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest() and seen["body_signed"] is True
    if make is fastapi_app:
        assert response.headers["x-name"] == "Ada Lovelace"  # FastAPI parsed the re-fed body


@pytest.mark.parametrize(
    "spoil, expected",
    [
        (lambda h: {**h, "X-Keygate-Signature": h["X-Keygate-Signature"][:-2] + "AA"}, "bad_signature"),
        (lambda h: {**h, "X-Keygate-Key-Id": "key_2"}, "bad_signature"),
        (lambda h: {**h, "X-Keygate-Timestamp": str(NOW + 1)}, "bad_signature"),
    ],
    ids=["forged signature", "a changed header", "a changed timestamp"],
)
def test_a_forged_request_is_refused(spoil, expected):
    assert code(send(starlette_app(), spoil(signed_headers(body=b"{}")), b"{}")) == (401, expected)


def test_another_body_replays_and_rotation():
    app = starlette_app(secrets=[SECRET_B, SECRET_A])
    headers = signed_headers(body=b'{"a":1}')
    assert code(send(app, headers, b'{"b":1}')) == (401, "body_mismatch")
    first = send(app, headers, b'{"a":1}')
    assert first.status_code == 200 and first.json()["secret_index"] == 1
    assert code(send(app, headers, b'{"a":1}')) == (401, "replayed")
    assert code(send(starlette_app(secrets=[SECRET_B]), headers, b'{"a":1}')) == (401, "bad_signature")


def test_stale_and_unsigned_and_too_large():
    assert code(send(starlette_app(clock=lambda: NOW - 301), signed_headers(body=b"x"), b"x")) == (401, "stale_timestamp")
    big = b"z" * 70_000
    unsigned = signed_headers(body=big, unsigned=True)
    assert code(send(starlette_app(), unsigned, big)) == (413, "unsigned_body")
    allowed = send(starlette_app(allow_unsigned_body=True), unsigned, big)
    assert allowed.status_code == 200 and allowed.json()["body_signed"] is False
    assert allowed.json()["body_sha256"] == hashlib.sha256(big).hexdigest()
    assert code(send(starlette_app(max_body_bytes=100), signed_headers(body=big), big)) == (413, "body_too_large")


def test_a_body_without_a_length_stops_at_the_bound():
    """Read message by message, never past max_body_bytes, whatever the length says."""
    received = []

    async def app(scope, receive, send):
        received.append(scope)

    middleware = KeygateASGIMiddleware(app, secrets=[SECRET_A], max_body_bytes=1000, clock=lambda: NOW)
    headers = signed_headers(body=b"x" * 5000, chunked=True)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/contacts",
        "raw_path": b"/v1/contacts",
        "query_string": b"",
        "headers": [(b"host", HOST.encode())] + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    pulled = []

    async def receive():
        pulled.append(1)
        return {"type": "http.request", "body": b"x" * 400, "more_body": True}

    sent = []

    async def send_(message):
        sent.append(message)

    asyncio.run(middleware(scope, receive, send_))
    assert sent[0]["status"] == 413 and received == []
    assert len(pulled) == 3  # 400, 800, 1200 > 1000: refused


def test_a_websocket_is_refused_and_lifespan_passes():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    middleware = KeygateASGIMiddleware(app, secrets=[SECRET_A])
    sent = []

    async def send_(message):
        sent.append(message)

    async def receive():
        return {"type": "websocket.connect"}

    asyncio.run(middleware({"type": "websocket", "headers": []}, receive, send_))
    asyncio.run(middleware({"type": "lifespan"}, receive, send_))
    assert sent == [{"type": "websocket.close", "code": 1008}] and seen == ["lifespan"]
