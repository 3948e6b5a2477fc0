"""Every case of the shared vectors (tests/vectors/): this package reaches the same verdict,
with the same error code, as keygate's Rust verifier."""

import pytest

from conftest import load_vectors
from keygate_verify import Identity, VerifyError, verify_request, verify_webhook

IDENTITY = load_vectors("identity-v3.json")
WEBHOOK = load_vectors("webhook-v1.json")


def test_the_files_hold_the_cases_they_promise():
    assert len(IDENTITY["cases"]) >= 15
    assert len(WEBHOOK["cases"]) >= 20


def identity_of(expected):
    return Identity(
        key_id=expected["key_id"],
        key_name=expected["key_name"],
        workspace=expected["workspace"],
        environment=expected["environment"],
        scopes=tuple(expected["scopes"]),
        request_id=expected["request_id"],
        approval_id=expected["approval_id"],
        approved_by=expected["approved_by"],
        timestamp=expected["timestamp"],
    )


@pytest.mark.parametrize("case", IDENTITY["cases"], ids=[c["name"] for c in IDENTITY["cases"]])
def test_identity_vector(case):
    request = case["request"]

    def verify(secrets):
        return verify_request(
            method=request["method"],
            host=request["host"],
            path_and_query=request["path_and_query"],
            headers=request["headers"],
            body=request["body"].encode("utf-8"),
            secrets=secrets,
            now=case["now_secs"],
            tolerance_secs=IDENTITY["tolerance_secs"],
        )

    expected = case["expect"]
    if expected["ok"]:
        verified = verify(IDENTITY["secret"])
        assert verified.identity == identity_of(expected["identity"])
        assert verified.body_signed is expected["body_signed"]
        assert verified.secret_index == 0
        # During a rotation the same request verifies with the secret second in the list.
        assert verify(["a newer secret", IDENTITY["secret"]]).secret_index == 1
    else:
        with pytest.raises(VerifyError) as refused:
            verify(IDENTITY["secret"])
        assert refused.value.code == expected["error"], str(refused.value)


@pytest.mark.parametrize("case", WEBHOOK["cases"], ids=[c["name"] for c in WEBHOOK["cases"]])
def test_webhook_vector(case):
    delivery = case["delivery"]

    def verify(secrets):
        return verify_webhook(
            headers=delivery["headers"],
            body=delivery["body"].encode("utf-8"),
            secrets=secrets,
            now=case["now_secs"],
            tolerance_secs=WEBHOOK["tolerance_secs"],
        )

    expected = case["expect"]
    if expected["ok"]:
        verified = verify(case["receiver_secret"])
        assert verified.secret_index == 0
        assert str(verified.timestamp) == delivery["headers"]["x-keygate-timestamp"]
        assert verify(["whsec_a newer secret", case["receiver_secret"]]).secret_index == 1
    else:
        with pytest.raises(VerifyError) as refused:
            verify(case["receiver_secret"])
        assert refused.value.code == expected["error"], str(refused.value)


def test_signer_reproduces_the_vectors():
    """The tests' own signer (tests/signer.py) writes each valid vector's signature."""
    from signer import signature

    for case in IDENTITY["cases"]:
        if case["expect"]["ok"]:
            request = case["request"]
            assert signature(
                IDENTITY["secret"], request["method"], request["host"], request["path_and_query"], request["headers"]
            ) == request["headers"]["x-keygate-signature"], case["name"]
