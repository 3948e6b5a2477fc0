"""The Django middleware, through Django's test client (which calls no wsgi.py)."""

import hashlib
import json
import types

import django
import pytest
from django.conf import settings
from django.http import JsonResponse
from django.urls import path

from signer import NOW, SECRET_A, SECRET_B, signed_headers

calls = []


def contacts(request):
    calls.append(request.method)
    verified = request.keygate
    return JsonResponse(
        {
            "key_id": verified.identity.key_id,
            "secret_index": verified.secret_index,
            "body_sha256": hashlib.sha256(request.body).hexdigest(),
            "form": request.POST.dict(),
        }
    )


urlpatterns = [path("v1/contacts", contacts)]

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["origin.test"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["keygate_verify.django.KeygateMiddleware"],
    KEYGATE_SIGNING_SECRETS=[SECRET_B, SECRET_A],
    KEYGATE_MAX_BODY_BYTES=1000,
    SECRET_KEY="django-test-only",
)
django.setup()

from django.test import Client  # noqa: E402  (needs the settings above)

import keygate_verify._middleware as middleware  # noqa: E402


# One client, so one middleware and one replay cache, as in a server process.
client = Client(HTTP_HOST="origin.test")


def send(headers, body, method="POST", target="/v1/contacts"):
    """Django's client always sends a content type and a length: the tests sign both."""
    path_, _, query = target.partition("?")
    wsgi_headers = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
    return client.generic(method, path_ + (f"?{query}" if query else ""), body, content_type=headers["Content-Type"], **wsgi_headers)


def problem_code(response):
    assert response["Content-Type"] == "application/problem+json"
    return response.status_code, json.loads(response.content)["code"]


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The middleware's clock, fixed (Django builds the middleware itself, per Client)."""
    calls.clear()

    def at(now):
        monkeypatch.setattr(middleware, "time", types.SimpleNamespace(time=lambda: now))

    at(NOW + 5)
    return at


def test_a_signed_form_post_reaches_the_view_with_its_exact_body():
    body = b"name=Ada+Lovelace&tag=a%20b"
    headers = signed_headers(secret=SECRET_A, body=body, content_type="application/x-www-form-urlencoded", target="/v1/contacts?notify=1", request_id="req_django_1")
    response = send(headers, body, target="/v1/contacts?notify=1")
    assert response.status_code == 200, response.content
    seen = json.loads(response.content)
    assert seen["key_id"] == "key_1" and seen["secret_index"] == 1
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert seen["form"] == {"name": "Ada Lovelace", "tag": "a b"}


def test_forged_changed_and_replayed_requests_are_refused():
    body = b'{"a":1}'
    headers = signed_headers(secret=SECRET_A, body=body, content_type="application/json", request_id="req_django_2")
    forged = {**headers, "X-Keygate-Signature": headers["X-Keygate-Signature"][:-2] + "AA"}
    assert problem_code(send(forged, body)) == (401, "bad_signature")
    changed = {**headers, "X-Keygate-Workspace": "globex"}
    assert problem_code(send(changed, body)) == (401, "bad_signature")
    assert problem_code(send(headers, b'{"b":1}')) == (401, "body_mismatch")
    assert send(headers, body).status_code == 200
    assert problem_code(send(headers, body)) == (401, "replayed")
    assert calls == ["POST"]


def test_a_secret_no_longer_listed_is_refused():
    for secret, status in [("a retired secret", 401), (SECRET_B, 200)]:
        headers = signed_headers(secret=secret, body=b"x", content_type="text/plain", request_id="req_django_3")
        assert send(headers, b"x").status_code == status


def test_a_body_over_the_bound_and_an_unsigned_body_are_refused():
    body = b"x" * 1001
    assert problem_code(send(signed_headers(body=body, content_type="text/plain", request_id="req_django_4"), body)) == (413, "body_too_large")
    body = b"y" * 70_000
    assert problem_code(send(signed_headers(body=body, content_type="text/plain", unsigned=True, request_id="req_django_5"), body)) == (413, "unsigned_body")
    assert calls == []


def test_a_stale_timestamp_is_refused(clock):
    clock(NOW + 400)
    assert problem_code(send(signed_headers(body=b"x", content_type="text/plain", request_id="req_django_6"), b"x")) == (401, "stale_timestamp")
