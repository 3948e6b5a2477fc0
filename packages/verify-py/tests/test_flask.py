"""The WSGI middleware in front of Flask, through Flask's test client."""

import hashlib
import io
import json

import pytest
from flask import Flask, jsonify, request

from keygate_verify import ReplayCache
from keygate_verify.wsgi import ENVIRON_KEY, KeygateWSGIMiddleware
from signer import NOW, SECRET_A, SECRET_B, signed_headers

HOST = "origin.test"


def make_app(secrets=(SECRET_A,), **options):
    app = Flask(__name__)
    app.calls = 0

    @app.route("/v1/contacts", methods=["GET", "POST"])
    def contacts():
        app.calls += 1
        verified = request.environ[ENVIRON_KEY]
        return jsonify(
            key_id=verified.identity.key_id,
            key_name=verified.identity.key_name,
            scopes=list(verified.identity.scopes),
            secret_index=verified.secret_index,
            body_signed=verified.body_signed,
            body_sha256=hashlib.sha256(request.get_data()).hexdigest(),
            form=request.form.to_dict(),
        )

    options.setdefault("clock", lambda: NOW + 5)
    app.wsgi_app = KeygateWSGIMiddleware(app.wsgi_app, secrets=list(secrets), **options)
    return app


def send(app, headers, body=b"", method="POST", target="/v1/contacts"):
    path, _, query = target.partition("?")
    return app.test_client().open(
        path, method=method, query_string=query, data=body, headers={"Host": HOST, **headers}
    )


def code(response):
    assert response.headers["Content-Type"] == "application/problem+json"
    return response.status_code, response.get_json()["code"]


def test_a_signed_request_reaches_the_app_with_its_identity_and_exact_body():
    app = make_app()
    body = b"name=Ada+Lovelace&tag=a%20b"
    headers = signed_headers(body=body, content_type="application/x-www-form-urlencoded", target="/v1/contacts?notify=1", key_name="Agent — prod 100%")
    response = send(app, headers, body, target="/v1/contacts?notify=1")
    assert response.status_code == 200, response.get_data(as_text=True)
    seen = response.get_json()
    assert seen["key_id"] == "key_1" and seen["key_name"] == "Agent — prod 100%"
    assert seen["scopes"] == ["contacts:read", "contacts:write"]
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert seen["form"] == {"name": "Ada Lovelace", "tag": "a b"}
    assert seen["body_signed"] is True and seen["secret_index"] == 0


def test_a_get_without_a_body():
    app = make_app()
    response = send(app, signed_headers(method="GET"), method="GET")
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(
    "spoil, expected",
    [
        (lambda h: {**h, "X-Keygate-Signature": h["X-Keygate-Signature"][:-2] + "AA"}, "bad_signature"),
        (lambda h: {**h, "X-Keygate-Scopes": "contacts:read contacts:write contacts:delete"}, "bad_signature"),
        (lambda h: {**h, "X-Keygate-Signature": "v2=" + h["X-Keygate-Signature"][3:]}, "malformed_header"),
        (lambda h: {k: v for k, v in h.items() if k != "X-Keygate-Signature"}, "missing_header"),
    ],
    ids=["forged signature", "a changed header", "another version", "no signature"],
)
def test_a_forged_request_is_refused_before_the_app(spoil, expected):
    app = make_app()
    response = send(app, spoil(signed_headers(body=b"{}")), b"{}")
    assert code(response) == (401, expected)
    assert app.calls == 0


def test_another_body_under_the_same_headers_is_refused():
    app = make_app()
    response = send(app, signed_headers(body=b'{"name":"Ada"}'), b'{"name":"Eve"}')
    assert code(response) == (401, "body_mismatch")
    assert app.calls == 0


def test_the_same_request_twice_is_a_replay():
    app = make_app()
    headers = signed_headers(body=b"{}")
    assert send(app, headers, b"{}").status_code == 200
    assert code(send(app, headers, b"{}")) == (401, "replayed")
    assert app.calls == 1


def test_no_replay_cache_accepts_a_replay_inside_the_window():
    app = make_app(replay_cache=None)
    headers = signed_headers(body=b"{}")
    assert [send(app, headers, b"{}").status_code for _ in range(2)] == [200, 200]


def test_a_full_replay_cache_fails_closed():
    app = make_app(replay_cache=ReplayCache(max_entries=1))
    assert send(app, signed_headers(request_id="req_1")).status_code == 200
    assert code(send(app, signed_headers(request_id="req_2"))) == (503, "replay_cache_full")


def test_rotation_the_old_secret_verifies_while_it_is_listed():
    headers = signed_headers(secret=SECRET_A)
    accepted = send(make_app(secrets=[SECRET_B, SECRET_A]), headers)
    assert accepted.status_code == 200 and accepted.get_json()["secret_index"] == 1
    assert code(send(make_app(secrets=[SECRET_B]), headers)) == (401, "bad_signature")


def test_a_stale_timestamp_is_refused():
    app = make_app(clock=lambda: NOW + 301)
    assert code(send(app, signed_headers())) == (401, "stale_timestamp")


def test_a_body_over_the_bound_is_refused_unread():
    app = make_app(max_body_bytes=10)
    body = b"x" * 11
    assert code(send(app, signed_headers(body=body), body)) == (413, "body_too_large")
    assert app.calls == 0


def test_a_chunked_body_is_read_no_further_than_the_bound():
    """A server that dechunks (wsgi.input_terminated) hands a stream without a length."""
    read = []

    class Stream(io.BytesIO):
        def read(self, n=-1):
            chunk = super().read(n)
            read.append(len(chunk))
            return chunk

    middleware = make_app(max_body_bytes=1000).wsgi_app
    environ = {
        "REQUEST_METHOD": "POST",
        "HTTP_HOST": HOST,
        "RAW_URI": "/v1/contacts",
        "wsgi.input": Stream(b"x" * 10_000_000),
        "wsgi.input_terminated": True,
    }
    body = b"x" * 10_000_000
    for name, value in signed_headers(body=body, chunked=True).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    statuses = []
    answer = middleware(environ, lambda status, headers: statuses.append(status))
    assert statuses == ["413 Content Too Large"] and json.loads(b"".join(answer))["code"] == "body_too_large"
    assert sum(read) <= 1001


def test_unsigned_body_is_refused_unless_allowed_then_streamed():
    body = b"y" * 70_000
    headers = signed_headers(body=body, unsigned=True)
    assert code(send(make_app(), headers, body)) == (413, "unsigned_body")
    allowed = send(make_app(allow_unsigned_body=True), headers, body)
    assert allowed.status_code == 200
    assert allowed.get_json()["body_signed"] is False
    assert allowed.get_json()["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_a_proxy_rewriting_host_is_configured_with_the_signed_host():
    headers = signed_headers(host="api.internal:8443")
    assert code(send(make_app(), headers)) == (401, "bad_signature")
    assert send(make_app(host="api.internal:8443"), headers).status_code == 200
