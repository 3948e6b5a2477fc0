"""Refusing a verified request sent a second time.

A signature stays valid for the whole window (±300 s), so a captured request could be sent
to the origin again. An origin that must act once per request remembers each verified
X-Keygate-Request-Id until its timestamp leaves the window, and refuses it a second time.
"""

import heapq
import threading
from typing import Dict, List, Optional, Tuple

from ._common import now_secs
from .errors import Replayed, ReplayCacheFull
from .identity import DEFAULT_TOLERANCE_SECS, Identity


class ReplayCache:
    """In memory, for one origin process, safe to share between threads. Several processes
    need the same idea in a store they share (a unique request id with an expiry); anything
    with this ``check_and_remember`` method can stand in for it in the middleware.

    Bounded: while ``max_entries`` ids are still inside the window it refuses new ones
    (fails closed, ``ReplayCacheFull``) rather than forget one that could come back. Size it
    above your peak requests per second × 600 (a timestamp may be up to 300 s old or ahead).
    """

    def __init__(self, *, tolerance_secs: float = DEFAULT_TOLERANCE_SECS, max_entries: int = 100_000):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.tolerance_secs = tolerance_secs
        self.max_entries = max_entries
        self._lock = threading.Lock()
        # request id -> the second after which it can no longer verify; and the same pairs
        # by expiry, so expired ids leave in order whatever order they arrived in.
        self._expiries: Dict[str, float] = {}
        self._by_expiry: List[Tuple[float, str]] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiries)

    def check_and_remember(self, identity: Identity, now: Optional[float] = None) -> None:
        """Remembers ``identity.request_id``; raises ``Replayed`` if it is remembered already,
        ``ReplayCacheFull`` if there is no room. Call it after the request verified."""
        now = now_secs(now)
        with self._lock:
            while self._by_expiry and self._by_expiry[0][0] < now:
                _, request_id = heapq.heappop(self._by_expiry)
                del self._expiries[request_id]
            if identity.request_id in self._expiries:
                raise Replayed()
            if len(self._expiries) >= self.max_entries:
                raise ReplayCacheFull()
            expiry = identity.timestamp + self.tolerance_secs
            self._expiries[identity.request_id] = expiry
            heapq.heappush(self._by_expiry, (expiry, identity.request_id))
