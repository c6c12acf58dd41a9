"""Keeps the leases of this process's tickets alive while the process lives.

A ticket's lease is short (a few seconds), so a killed instance blocks its
conversations only that long. A live one must not lose its turn however long
it works (an action may take minutes) nor its place while it waits: a thread
of its own renews every ticket the process holds or waits with, every
`every_s` seconds. A thread, not a task on Rasa's event loop, so that work
that blocks the loop for a while (a slow database read) does not starve it.
When the process dies, the renewals stop and the leases run out.
"""

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Set

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Lease:
    """One ticket of this process: its conversation's queue and its token."""

    conversation_id: str
    key: str
    token: str
    number: int = -1
    tag: str = field(default="", repr=False)  # the conversation, hashed, for logs


class LeaseHeartbeat:
    def __init__(self, renew: Callable[[Sequence[Lease]], List[bool]], every_s: float) -> None:
        """`renew` renews the given leases at once and says which still existed."""
        self._renew, self._every_s = renew, every_s
        self._leases: Set[Lease] = set()
        self._guard = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    def add(self, lease: Lease) -> None:
        with self._guard:
            self._leases.add(lease)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lock-lease-heartbeat", daemon=True)
                self._thread.start()

    def discard(self, lease: Lease) -> None:
        with self._guard:
            self._leases.discard(lease)

    def _run(self) -> None:
        stop = threading.Event()  # never set: the thread lives as long as the process
        while not stop.wait(self._every_s):
            with self._guard:
                leases = list(self._leases)
            if leases:
                self.beat(leases)

    def beat(self, leases: Sequence[Lease]) -> None:
        try:
            alive = self._renew(leases)
        except Exception as error:  # noqa: BLE001 - keep beating; a lease outlives a few misses
            logger.warning("lock.heartbeat.failed error=%s", type(error).__name__)
            return
        with self._guard:
            # Gone from Redis yet still ours: its lease ran out before this renewal
            # (the process was frozen or cut off from Redis). A ticket given back
            # meanwhile is neither ours nor lost.
            lost = [lease for lease, renewed in zip(leases, alive) if not renewed and lease in self._leases]
            self._leases.difference_update(lost)
        for lease in lost:
            logger.error("lock.lease_lost sender=%s ticket=%d; not renewed in time", lease.tag, lease.number)
