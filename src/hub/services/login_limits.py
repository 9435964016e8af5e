"""Login rate limits: failed logins counted per account and per client address.

After ``max_failures`` failures within ``window_s`` seconds for one account name, or from
one address, every further login for it (right or wrong) gets 429 with ``Retry-After``
until the oldest counted failure leaves the window. A successful login clears the
account's count. Counts live in the hub process's memory (one hub process per site).
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict, deque
from datetime import datetime

from sqlmodel import Session

from hub.services import users
from hub.services.errors import TooManyAttempts, Unauthenticated

log = logging.getLogger(__name__)

#: Most accounts and addresses tracked at once (the oldest are forgotten first).
MAX_TRACKED = 100_000


class LoginLimiter:
    """Failed-login counts per account and per address over a sliding window."""

    def __init__(self, max_failures: int = 5, window_s: float = 300.0) -> None:
        """Allow ``max_failures`` failures per ``window_s`` seconds for each key."""
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _keys(account: str, address: str) -> tuple[str, str]:
        return f"account:{account.strip().lower()}", f"address:{address}"

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, account: str, address: str, now: datetime) -> int | None:
        """Return the seconds to wait before another login, or None when one may try now."""
        t = now.timestamp()
        wait = 0.0
        with self._lock:
            for key in self._keys(account, address):
                times = self._recent(key, t)
                if len(times) >= self.max_failures:
                    wait = max(wait, times[-self.max_failures] + self.window_s - t)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def failed(self, account: str, address: str, now: datetime) -> None:
        """Count one failed login for the account and the address."""
        t = now.timestamp()
        with self._lock:
            for key in self._keys(account, address):
                times = self._failures.setdefault(key, deque(maxlen=self.max_failures * 4))
                times.append(t)
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def succeeded(self, account: str) -> None:
        """Forget the account's failures (a right password was given)."""
        with self._lock:
            self._failures.pop(self._keys(account, "")[0], None)


def limited_login(
    limiter: LoginLimiter,
    session: Session,
    name: str,
    password: str,
    address: str,
    now: datetime,
    ttl_s: int,
) -> tuple[str, datetime]:
    """:func:`hub.services.users.login` behind the limits; raise TooManyAttempts (429)."""
    wait = limiter.retry_after(name, address, now)
    if wait is not None:
        log.warning("login refused: too many failures for the account or the address")
        raise TooManyAttempts(f"too many failed logins; try again in {wait} s", retry_after_s=wait)
    try:
        result = users.login(session, name, password, now, ttl_s)
    except Unauthenticated:
        limiter.failed(name, address, now)
        raise
    limiter.succeeded(name)
    return result
