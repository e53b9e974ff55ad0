"""caffi.stats: per-subscription counters against the reference IOC."""

import time

import pytest

import caffi.ca as ca
from caffi import stats as stats_module
from caffi.constants import ECA
from caffi.dbr import DBR
from caffi.macros import dbr_size_n
from caffi.stats import SubscriptionStats, stats

from ca_client_util import Collector, put_wait, subscribe

pytestmark = pytest.mark.usefixtures('context')


class Snapshots(Collector):
    """Collects, for every update, (arrival time, event, stats read inside the callback)."""

    def __init__(self):
        super().__init__()
        self.evid = None

    def __call__(self, event):
        now = time.time()
        snapshot = stats(self.evid) if self.evid is not None else None
        super().__call__((now, event, snapshot))


def test_public_api():
    assert stats_module.__all__ == ['SubscriptionStats', 'stats', 'RATE_WINDOW']
    assert not set(stats_module.__all__) & set(ca.__all__)
    assert 'stats' not in ca.__all__ and 'subscription_counters' not in ca.__all__


@pytest.mark.parametrize('bad', [None, 1, 'evid', object()])
def test_not_an_evid(bad):
    with pytest.raises(TypeError):
        stats(bad)


def test_not_an_evid_chid(chans):
    with pytest.raises(TypeError):
        stats(chans['catest'])


def test_derived_figures():
    empty = SubscriptionStats(0, 0, None, None, 0.0)
    assert (empty.bytes_per_update, empty.mb_per_s, empty.duration, empty.average_rate,
            empty.age) == (0.0, 0.0, 0.0, 0.0, None)
    s = SubscriptionStats(11, 11 * 8000000, 100.0, 110.0, 2.0)
    assert s.bytes_per_update == 8000000
    assert s.mb_per_s == pytest.approx(16.0)
    assert s.duration == 10.0 and s.average_rate == pytest.approx(1.0)
    assert s.age > 0
    assert str(s) == '11 updates, 88.0 MB, 2.0 updates/s, 16.00 MB/s over 10.0 s'
    assert s.as_dict()['mb_per_s'] == s.mb_per_s
    with pytest.raises(AttributeError):
        s.updates = 3                                   # immutable


def test_one_hertz_counter(chans, subscriptions):
    """cacalc counts at 1 Hz: updates, bytes per DBR size, first/last times, rate ~1."""
    snapshots = Snapshots()
    started = time.time()
    snapshots.evid = evid = subscribe(subscriptions, chans['cacalc'], snapshots,
                                      chtype=DBR.TIME_DOUBLE)
    # the first update (at subscription) + 5 periodic ones; an update delivered before
    # create_subscription returned has no snapshot (the evid was not known yet) and is skipped
    assert snapshots.wait(6, timeout=15), len(snapshots)
    size = dbr_size_n(DBR.TIME_DOUBLE, 1)
    assert size == 24
    items = [item for item in snapshots.items if item[2] is not None]
    assert len(items) >= 5
    first_update = items[0][2].first_update
    assert started - 0.5 <= first_update <= items[0][0]
    for arrival, event, snap in items:
        assert event['status'] == ECA.NORMAL
        assert snap.bytes == snap.updates * size
        assert snap.first_update == first_update
        assert abs(snap.last_update - arrival) < 0.5      # counted just before the callback
        assert snap.last_update <= arrival + 1e-3
    counts = [snap.updates for _, _, snap in items]
    assert counts == list(range(counts[0], counts[0] + len(counts)))
    # periodic updates: the stamps are a second apart and so are the counter's times
    lasts = [snap.last_update for _, _, snap in items[-4:]]
    assert all(0.7 < b - a < 1.3 for a, b in zip(lasts, lasts[1:])), lasts
    # from the 5th update on the rate window covers periodic updates only
    late = [snap for _, _, snap in items if snap.updates >= 5]
    assert late and all(0.7 <= snap.rate <= 1.3 for snap in late), [s.rate for s in late]
    final = stats(evid)
    assert final.updates >= items[-1][2].updates
    assert final.average_rate == pytest.approx((final.updates - 1) / final.duration)
    assert 0.5 < final.average_rate < 2.5


def test_put_burst(chans, subscriptions):
    """Writes in a tight loop for 1.5 s: every update counted, the rate follows the writes."""
    chid = chans['catest']
    put_wait(chid, 0.0)
    updates = Collector()
    evid = subscribe(subscriptions, chid, updates)
    assert updates.wait(1)
    assert stats(evid).updates == 1
    puts = 0
    value = 0.0
    started = time.monotonic()
    while time.monotonic() - started < 1.5:
        value += 1
        put_wait(chid, value)                       # one at a time: none coalesced by the server
        puts += 1
    elapsed = time.monotonic() - started
    assert updates.wait_until(lambda items: items[-1]['value'] == value, timeout=10)
    s = stats(evid)
    delivered = len(updates)
    assert s.updates == delivered                   # every update with data is counted
    assert delivered >= puts // 2 + 1               # one per write, unless the server coalesced
    assert s.bytes == s.updates * dbr_size_n(DBR.DOUBLE, 1)
    assert s.bytes_per_update == 8
    write_rate = puts / elapsed
    assert write_rate > 20
    # the rate window (1 s) closed during the burst: it measured the burst's rate
    assert write_rate / 3 < s.rate < write_rate * 3, (s.rate, write_rate)
    assert s.mb_per_s == pytest.approx(s.rate * 8 / 1e6)
    assert s.duration == pytest.approx(elapsed, abs=0.5)
    # once the writes stop, the running window makes the rate fall
    time.sleep(1.2)
    assert stats(evid).rate < s.rate


def test_waveform_bytes(chans, subscriptions):
    chid = chans['cawave']
    put_wait(chid, [1.0] * 20)
    plain, timed = Collector(), Collector()
    evid_plain = subscribe(subscriptions, chid, plain, use_numpy=True)
    evid_time = subscribe(subscriptions, chid, timed, chtype=DBR.TIME_DOUBLE, count=20)
    assert plain.wait(1) and timed.wait(1)
    put_wait(chid, [2.0] * 20)
    assert plain.wait(2) and timed.wait(2)
    assert stats(evid_plain).bytes == 2 * dbr_size_n(DBR.DOUBLE, 20) == 2 * 160
    assert stats(evid_time).bytes == 2 * dbr_size_n(DBR.TIME_DOUBLE, 20) == 2 * 176


def test_counters_are_per_subscription_and_survive_clear(chans, subscriptions):
    chid = chans['calong']
    put_wait(chid, 0)
    a, b = Collector(), Collector()
    evid_a = subscribe(subscriptions, chid, a)
    assert a.wait(1)
    put_wait(chid, 1)
    assert a.wait(2)
    evid_b = subscribe(subscriptions, chid, b)
    assert b.wait(1)
    assert (stats(evid_a).updates, stats(evid_b).updates) == (2, 1)
    assert ca.clear_subscription(evid_a) == ECA.NORMAL
    put_wait(chid, 2)
    assert b.wait(2)
    assert (stats(evid_a).updates, stats(evid_b).updates) == (2, 2)


def test_no_callback_still_counts(chans, subscriptions):
    """A subscription with a non-callable callback gets no calls, but its updates are counted."""
    chid = chans['calong']
    put_wait(chid, 0)
    evid = subscribe(subscriptions, chid, None)
    watcher = Collector()
    subscribe(subscriptions, chid, watcher)
    assert watcher.wait(1)
    put_wait(chid, 5)
    assert watcher.wait(2)
    deadline = time.monotonic() + 5
    while stats(evid).updates < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stats(evid).updates == 2
