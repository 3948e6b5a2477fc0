"""What both test origins share: their verifiers, and the answer they give."""

import hashlib

# The harness's KEYGATE_SIGNING_SECRET (tests/e2e/harness.mjs), and a newer one.
SECRET_A = "signing-secret-for-tests-0123456789abcdef"
SECRET_B = "a-newer-signing-secret-for-the-rotation-test"
VERIFIERS = {"a": [SECRET_A], "b,a": [SECRET_B, SECRET_A], "b": [SECRET_B]}
SIGNED_HEADERS = ("host", "content-type", "content-length")


def answer(framework, verified, target, headers, body):
    """The JSON body: who keygate says called, and what arrived, to be sent again."""
    identity = verified.identity
    return {
        "framework": framework,
        "key_id": identity.key_id,
        "scopes": list(identity.scopes),
        "request_id": identity.request_id,
        "secret_index": verified.secret_index,
        "body_signed": verified.body_signed,
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "target": target,
        "headers": {
            name: value for name, value in headers if name.startswith("x-keygate-") or name in SIGNED_HEADERS
        },
    }
