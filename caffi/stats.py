"""Per-subscription monitor statistics.

Every subscription made with :func:`caffi.ca.create_subscription` keeps counters, always on,
updated in C by the update trampoline before the user callback runs (cost: one clock read and a
few additions per update; see the README, "Monitor statistics"). This module reads them:

    import caffi.ca as ca
    from caffi.stats import stats

    status, evid = ca.create_subscription(chid, callback, use_numpy=True)
    ...
    s = stats(evid)
    print(s.updates, s.rate, s.mb_per_s)
    print(s)          # '1234 updates, 9.9 MB, 50.0 updates/s, 0.40 MB/s over 24.7 s'

What is counted: updates delivered *with data* (status NORMAL; an update that libca delivers with
an error status and no data is not counted) and the size of their DBR buffers in bytes
(``dbr_size_n(type, count)``, the bytes libca handed over, not the size of the Python value).
The counters belong to the subscription and survive ``clear_subscription``: a cleared evid
still reports its totals.

This module is not part of ``caffi.ca`` (whose ``__all__`` is fixed by the API specification).
"""
import time
from typing import Dict, NamedTuple, Optional

from . import _ca

__all__ = ['SubscriptionStats', 'stats', 'RATE_WINDOW']

#: Length in seconds of the window over which :attr:`SubscriptionStats.rate` is measured.
RATE_WINDOW = 1.0


class SubscriptionStats(NamedTuple):
    """A snapshot of one subscription's counters (an immutable named tuple).

    ``updates``       updates delivered with data since the subscription was created
    ``bytes``         DBR bytes of those updates
    ``first_update``  POSIX time (s) of the first update, None before any
    ``last_update``   POSIX time (s) of the latest update, None before any
    ``rate``          updates per second over the last window of about one second (the last
                      completed window, or the running one once it is longer than a second,
                      so the rate falls towards 0 when updates stop); 0.0 before a first window
                      has completed
    """

    updates: int
    bytes: int
    first_update: Optional[float]
    last_update: Optional[float]
    rate: float

    @property
    def bytes_per_update(self) -> float:
        """Mean DBR bytes per update (0.0 before any)."""
        return self.bytes / self.updates if self.updates else 0.0

    @property
    def mb_per_s(self) -> float:
        """Data rate in MB/s (10**6 bytes) over the rate window: ``rate * bytes_per_update``."""
        return self.rate * self.bytes_per_update / 1e6

    @property
    def duration(self) -> float:
        """Seconds from the first to the latest update (0.0 with fewer than two)."""
        if self.first_update is None or self.last_update is None:
            return 0.0
        return self.last_update - self.first_update

    @property
    def average_rate(self) -> float:
        """Updates per second from the first to the latest update (0.0 with fewer than two)."""
        span = self.duration
        return (self.updates - 1) / span if self.updates > 1 and span > 0 else 0.0

    @property
    def age(self) -> Optional[float]:
        """Seconds since the latest update, None before any."""
        return None if self.last_update is None else max(0.0, time.time() - self.last_update)

    def __str__(self) -> str:
        return (f'{self.updates} updates, {_human_bytes(self.bytes)}, {self.rate:.1f} updates/s, '
                f'{self.mb_per_s:.2f} MB/s over {self.duration:.1f} s')

    def as_dict(self) -> Dict[str, Optional[float]]:
        """The five counters and the derived figures as a plain dict (e.g. for JSON)."""
        return {'updates': self.updates, 'bytes': self.bytes,
                'first_update': self.first_update, 'last_update': self.last_update,
                'rate': self.rate, 'mb_per_s': self.mb_per_s,
                'bytes_per_update': self.bytes_per_update, 'duration': self.duration,
                'average_rate': self.average_rate}


def _human_bytes(n: int) -> str:
    for unit, size in (('GB', 1e9), ('MB', 1e6), ('kB', 1e3)):
        if n >= size:
            return f'{n / size:.1f} {unit}'
    return f'{n} B'


def stats(evid: object) -> SubscriptionStats:
    """The counters of the subscription *evid* (from ``caffi.ca.create_subscription``) now.

    Raises TypeError if *evid* is not an evid. Cheap: reads a C struct, safe from any thread.
    """
    counters = _ca.subscription_counters(evid)  # type: ignore[arg-type]  # TypeError if not an evid
    return SubscriptionStats(counters['updates'], counters['bytes'], counters['first_update'],
                             counters['last_update'], counters['rate'])
