"""A test-only signer: what keygate adds to a request it forwards (src/identity.rs ``sign``),
so the middleware tests can make requests keygate would send, and then spoil them.
test_signer_reproduces_the_vectors holds it to the shared vectors."""

import base64
import hashlib
import hmac
from urllib.parse import quote

SECRET_A = "secret-A-for-the-python-verifier-tests"
SECRET_B = "secret-B-for-the-python-verifier-tests"
NOW = 1_900_000_000


def signed_headers(
    *,
    secret=SECRET_A,
    method="POST",
    host="origin.test",
    target="/v1/contacts",
    body=b"",
    content_type=None,
    unsigned=False,
    chunked=False,
    request_id="req_1",
    key_name="Zapier",
    scopes="contacts:read contacts:write",
    approval_id=None,
    approved_by=None,
    timestamp=NOW,
):
    """The headers keygate sends with this request: Content-Type and Content-Length (none
    when ``chunked`` or empty) and its own, signed."""
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    # Test clients send no Content-Length for an empty body.
    if body and not chunked:
        headers["Content-Length"] = str(len(body))
    headers.update(
        {
            "X-Keygate-Content-SHA256": "unsigned-body" if unsigned else hashlib.sha256(body).hexdigest(),
            "X-Keygate-Key-Id": "key_1",
            "X-Keygate-Key-Name": quote(key_name, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~"),
            "X-Keygate-Workspace": "acme",
            "X-Keygate-Environment": "live",
            "X-Keygate-Scopes": scopes,
            "X-Keygate-Request-Id": request_id,
            "X-Keygate-Timestamp": str(timestamp),
        }
    )
    if approval_id:
        headers["X-Keygate-Approval-Id"] = approval_id
        headers["X-Keygate-Approved-By"] = approved_by or "root"
    headers["X-Keygate-Signature"] = signature(secret, method, host, target, headers)
    return headers


def signature(secret, method, host, target, headers):
    lower = {name.lower(): value for name, value in headers.items()}
    path, _, query = target.partition("?")
    fields = [
        "content-type",
        "content-length",
        "x-keygate-content-sha256",
        "x-keygate-key-id",
        "x-keygate-key-name",
        "x-keygate-workspace",
        "x-keygate-environment",
        "x-keygate-scopes",
        "x-keygate-request-id",
        "x-keygate-approval-id",
        "x-keygate-approved-by",
        "x-keygate-timestamp",
    ]
    canonical = "\n".join(["KEYGATE-HMAC-SHA256-V3", method, host, path, query] + [lower.get(f, "") for f in fields])
    mac = hmac.new(secret.encode(), canonical.encode("utf-8"), hashlib.sha256).digest()
    return "v3=" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
