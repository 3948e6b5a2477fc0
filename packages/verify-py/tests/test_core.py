"""verify_request, verify_webhook and ReplayCache beyond the shared vectors."""

import hashlib
import threading

import pytest

from keygate_verify import (
    Identity,
    MalformedHeader,
    MalformedRequestLine,
    ReplayCache,
    ReplayCacheFull,
    Replayed,
    verify_request,
)
from signer import NOW, SECRET_A, signed_headers


def verify(headers, body=b"", **overrides):
    args = dict(method="POST", host="origin.test", path_and_query="/v1/contacts", headers=headers, body=body, secrets=SECRET_A, now=NOW)
    args.update(overrides)
    return verify_request(**args)


def test_headers_as_pairs_in_any_case_or_bytes():
    headers = signed_headers(body=b"{}")
    assert verify(list(headers.items()), b"{}").identity.key_id == "key_1"
    assert verify([(k.upper().encode(), v.encode()) for k, v in headers.items()], b"{}").identity.key_id == "key_1"


def test_a_signed_header_sent_twice_is_refused():
    pairs = list(signed_headers().items()) + [("X-Keygate-Scopes", "admin")]
    with pytest.raises(MalformedHeader) as refused:
        verify(pairs)
    assert refused.value.header == "x-keygate-scopes"


def test_a_line_break_in_the_request_line_is_refused():
    with pytest.raises(MalformedRequestLine):
        verify(signed_headers(), path_and_query="/v1/contacts\nx")


def test_the_body_digest_may_be_given_instead_of_the_body():
    body = b'{"name":"Ada"}'
    assert verify(signed_headers(body=body), body=None, body_sha256=hashlib.sha256(body).digest()).body_signed


def test_no_secret_or_an_empty_one_is_a_mistake_not_a_refusal():
    for secrets in ([], [""], ""):
        with pytest.raises(ValueError):
            verify(signed_headers(), secrets=secrets)


def identity(request_id, timestamp=NOW):
    return Identity("key_1", "n", "acme", "live", (), request_id, None, None, timestamp)


def test_replay_cache_remembers_until_the_window_closes():
    cache = ReplayCache(tolerance_secs=300)
    cache.check_and_remember(identity("req_1"), now=NOW)
    with pytest.raises(Replayed):
        cache.check_and_remember(identity("req_1"), now=NOW + 300)
    # Past timestamp + 300 the request can no longer verify, so its id is let go.
    cache.check_and_remember(identity("req_2"), now=NOW + 301)
    assert len(cache) == 1


def test_replay_cache_fails_closed_when_full_and_frees_expired_ids_in_any_order():
    cache = ReplayCache(tolerance_secs=300, max_entries=2)
    cache.check_and_remember(identity("late", timestamp=NOW + 200), now=NOW)
    cache.check_and_remember(identity("early", timestamp=NOW), now=NOW)
    with pytest.raises(ReplayCacheFull):
        cache.check_and_remember(identity("third"), now=NOW)
    # "early" expires first though it arrived second.
    cache.check_and_remember(identity("third", timestamp=NOW + 301), now=NOW + 301)
    with pytest.raises(Replayed):
        cache.check_and_remember(identity("late", timestamp=NOW + 200), now=NOW + 301)


def test_replay_cache_lets_one_thread_of_many_through():
    cache = ReplayCache()
    outcomes = []
    start = threading.Barrier(16)

    def claim():
        start.wait()
        try:
            cache.check_and_remember(identity("req_same"), now=NOW)
            outcomes.append("first")
        except Replayed:
            outcomes.append("replayed")

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(outcomes) == ["first"] + ["replayed"] * 15
