"""Hypothesis fuzz of caffi.monitor.MonitorGroup, run as a child process by test_fuzz.py.

usage: python group_fuzz_child.py MAX_EXAMPLES [--seed N] [--trace FILE] [--known-bug NAME]

Needs the reference IOC (the EPICS_CA_* variables come from the parent's environment). Every
example makes a MonitorGroup of a random list of the IOC's records -- duplicates, a channel made
for the example (cleared later while the group runs), a chid cleared before the run, junk among
the chids or instead of the list -- with random constructor arguments (request types -5..45 and
junk, counts, depths and masks of every kind, overflow policies, notify callables that check,
raise or are not callable, notify intervals, gather times). When a group is made, a random
sequence of operations runs on it while values are written to its members' records: add (a valid
chid, a member again, junk, a cleared chid, a count above the width, a fresh channel), remove
(by index, by chid, junk, twice), drain(max_n) with random max_n, wait with short timeouts,
select() on fileno() with timeout 0, stats(which), member_stats(), the properties, a thread
blocked in wait() without a timeout, pauses for the notifier thread, clear_channel of a member's
chid, close (also twice, or through the context manager), and batches held on to across examples
and released in a random order.

Outcomes must be documented: a MonitorGroup, or TypeError / ValueError / OverflowError /
MemoryError from the constructor and add; KeyError (or those) from remove and stats(which);
GroupBatches whose seven arrays agree (k rows; values (k,) for width 1 else (k, width) of the
request's dtype; int32 index within the group's chids; events UPDATE / CONNECTED /
DISCONNECTED; finite time stamps); bools from wait, and a descriptor that select() finds
readable exactly while rows wait (with gather: never before they wait, and once closed).
Anything else is a failure; a crash or a hang kills the process (faulthandler prints the
stacks; --trace FILE holds the operation under way).

Last stdout line on success: ``FUZZ-SUMMARY {json}``.

``--known-bug NAME`` (repeatable; off in the CI and soak runs; test_fuzz.py runs both in a
test of their own) also tries what this fuzz found broken, now fixed and kept as a check:

* ``nan``: wait(float('nan')) among the timeouts; it blocked for ever (Monitor.wait too) and
  now raises ValueError;
* ``reinit``: group.__init__(...) called again on a made group; it was accepted, re-laying out
  the ring under members libca still wrote with the old layout (garbage rows, heap overflow),
  and is now refused with TypeError.
"""

import faulthandler
import gc
import select
import sys
import threading
import time
import traceback

import numpy as np
from hypothesis import strategies as st

import caffi.ca as ca
from caffi.constants import ECA
from caffi.dbr import DBR
from caffi.monitor import CONNECTED, DISCONNECTED, UPDATE, GroupBatch, MonitorGroup
from monitor_fuzz_common import (RECORDS, FuzzerBase, argument_parser, hypothesis_run, junk,
                                 start_run)

CALL_ERRORS = (TypeError, ValueError, OverflowError, MemoryError)
GATHER_SLACK = 0.05                 # a wait this much longer than `gather` must see its rows
EXAMPLE_WATCHDOG = 30.0
WATCHDOG_REARM = 5.0
HELD_MAX = 24
MAX_STEPS = 30
SPARES = 4                              # fresh channels made ahead per record
NAMES = sorted(RECORDS)
# the dtype of a plain or TIME_ request, by request type % 7 (STRING SHORT FLOAT ENUM CHAR LONG
# DOUBLE)
DTYPES = [np.dtype(d) for d in ('S40', 'int16', 'float32', 'uint16', 'uint8', 'int32', 'float64')]
EVENTS = (UPDATE, CONNECTED, DISCONNECTED)
FIELD_DTYPES = {'index': np.int32, 'timestamps': np.float64, 'status': np.int16,
                'severity': np.int16, 'counts': np.uint32, 'events': np.uint8}


def mostly(good, bad):
    """`good` three times in four: junk is tried, but most groups get made and run (the
    choice is an integer, 0 for good, since Hypothesis draws small integers often)."""
    return st.integers(0, 3).flatmap(lambda choice: bad if choice == 3 else good)


# the plain and TIME_ types (0..6, 14..20) often, then any of -5..45 and the DBR members
chtypes = mostly(st.one_of(st.sampled_from(list(range(7)) + list(range(14, 21))),
                           st.integers(-5, 45), st.sampled_from(list(DBR))), junk)
counts = st.one_of(st.none(), st.integers(-3, 200), junk)
depths = mostly(st.one_of(st.integers(-2, 64), st.sampled_from([1, 2, 4096, 2 ** 40, 2 ** 50])),
                junk)
overflows = mostly(st.sampled_from(['drop_oldest', 'drop_newest']), junk)
masks = mostly(st.one_of(st.none(), st.sampled_from([1, 4, 5, 7])), junk)
gathers = mostly(st.sampled_from([0, 0.0, 0.001, 0.01]),
                 st.one_of(st.sampled_from([-1, float('nan'), float('inf'), 1e9]), junk))
max_ns = st.one_of(st.none(), st.integers(-5, 70), st.sampled_from([10 ** 30, -10 ** 30]), junk)
timeouts = st.sampled_from([0, 0.0, 0.001, 0.02, -1.0])
OPERATIONS = ['write', 'write', 'write', 'add', 'add', 'remove', 'remove', 'drain', 'drain',
              'hold', 'drop', 'wait', 'select', 'stats', 'member_stats', 'properties', 'sleep',
              'clear_channel', 'close', 'waiter']


def plain_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class Fuzzer(FuzzerBase):
    def __init__(self, trace, known_bugs=()):
        super().__init__(trace)
        self.timeouts = timeouts
        self.operations_drawn = list(OPERATIONS)
        if 'nan' in known_bugs:
            self.timeouts = st.one_of(timeouts, st.just(float('nan')))
        if 'reinit' in known_bugs:
            self.operations_drawn.append('reinit')
        self.rows = self.added = self.removed = self.cleared = 0
        self.connection_rows = 0            # CONNECTED / DISCONNECTED rows drained
        self.stale = None                   # a chid cleared at the start
        self.rejected = {}                  # constructor errors by type
        self.spares = {}                    # record name -> connected chids for fresh_channel

    def connect(self):
        self.create_channels(NAMES)
        status, self.stale = ca.create_channel('catest')
        assert status == ECA.NORMAL, status
        self.wait_connected()
        assert ca.clear_channel(self.stale) == ECA.NORMAL

    def fresh_channel(self, name):
        """A channel of the example's own (so that it can be cleared), connected. They are
        made ahead, a few for each record with one pend_io(), since each search takes a while."""
        if not self.spares.get(name):
            made = {n: [ca.create_channel(n) for _ in range(SPARES)] for n in NAMES}
            if ca.pend_io(10.0) != ECA.NORMAL:
                self.fail('fresh channels did not connect')
            for n, pairs in made.items():
                self.spares.setdefault(n, []).extend(chid for _, chid in pairs)
        return self.spares[name].pop()

    # -- checks ----------------------------------------------------------------------------

    def notify_checking(self, made):
        """A notify callable that checks its batches against the group once it is in
        `made` (the notifier may start before the constructor returns)."""
        def notify(batch):
            self.notified += 1
            group = made.get('group')
            self.check_batch(batch, group, 'notify', None if group is None else len(group.chids))
        return notify

    def check_batch(self, batch, group, where, n_chids=None):
        """The documented shape of a GroupBatch; with `group`, also its width, dtype and
        the member indexes (`n_chids`: len(group.chids) when it was drained)."""
        if not isinstance(batch, GroupBatch) or len(batch) != 7:
            self.fail('%s: not a GroupBatch: %r' % (where, type(batch)))
            return
        k = len(batch.index)
        for name, field in zip(GroupBatch._fields, batch):
            if not isinstance(field, np.ndarray) or len(field) != k:
                shapes = [(n, getattr(f, 'shape', f)) for n, f in zip(GroupBatch._fields, batch)]
                self.fail('%s: arrays disagree: %r' % (where, shapes))
                return
            if name in FIELD_DTYPES and (field.dtype != FIELD_DTYPES[name] or field.ndim != 1):
                self.fail('%s: %s is %s %s' % (where, name, field.dtype, field.shape))
        if batch.values.dtype not in DTYPES:
            self.fail('%s: values dtype %s' % (where, batch.values.dtype))
        if group is not None:
            width = group.width
            shape = (k,) if width == 1 else (k, width)
            if batch.values.shape != shape or batch.values.dtype != group.dtype:
                self.fail('%s: values %s %s for width %d, %s' % (
                    where, batch.values.shape, batch.values.dtype, width, group.dtype))
        elif batch.values.ndim not in (1, 2):
            self.fail('%s: values of shape %s' % (where, batch.values.shape))
        if not k:
            return
        if not np.isin(batch.events, EVENTS).all():
            self.fail('%s: events %s' % (where, batch.events))
        if not np.isfinite(batch.timestamps).all():
            self.fail('%s: stamps %s' % (where, batch.timestamps))
        if batch.index.min() < 0 or (n_chids is not None and batch.index.max() >= n_chids):
            self.fail('%s: index %s for %s chids' % (where, batch.index, n_chids))
        if (batch.counts[batch.events != UPDATE] != 0).any():
            self.fail('%s: connection rows with counts %s' % (where, batch.counts))
        if group is not None and batch.counts.max() > group.width:
            self.fail('%s: counts %s beyond the width %d' % (where, batch.counts, group.width))

    # -- examples --------------------------------------------------------------------------

    def run_example(self, data):
        self.examples += 1
        names = data.draw(mostly(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6),
                                 st.just([])), label='records')
        members = [self.chids[name] for name in names]
        fresh = []                          # (name, chid) of the example's own channels
        if data.draw(st.integers(0, 3), label='fresh') == 0:
            name = data.draw(st.sampled_from(NAMES), label='fresh record')
            chid = self.fresh_channel(name)
            fresh.append((name, chid))
            at = data.draw(st.integers(0, 6), label='fresh at') % (len(members) + 1)
            members.insert(at, chid)
            names.insert(at, name)
        extra = data.draw(st.sampled_from(['none'] * 6 + ['junk', 'stale']), label='extra')
        if extra != 'none':
            bad = self.stale if extra == 'stale' else data.draw(junk, label='junk chid')
            members.insert(data.draw(st.integers(0, 6), label='at') % (len(members) + 1), bad)
        form = data.draw(st.sampled_from(['list'] * 4 + ['tuple', 'iter', 'junk']), label='form')
        arg = {'list': members, 'tuple': tuple(members), 'iter': iter(members)}.get(form)
        if form == 'junk':
            arg = data.draw(st.one_of(junk, st.just(self.chids['catest'])), label='chids junk')
        kwargs = {}
        for key, strategy in (('chtype', chtypes), ('count', counts), ('depth', depths),
                              ('overflow', overflows), ('mask', masks), ('gather', gathers)):
            if data.draw(st.booleans(), label='give ' + key):
                kwargs[key] = data.draw(strategy, label=key)
        if 'depth' not in kwargs and data.draw(st.integers(0, 3), label='small depth'):
            kwargs['depth'] = data.draw(st.integers(1, 300), label='depth')  # 65536 is rarer
        notify_kind = data.draw(st.sampled_from(['none', 'none', 'none', 'ok', 'raises', 'junk']),
                                label='notify')
        if notify_kind != 'none':
            made = {}
            kwargs['notify'] = {'ok': self.notify_checking(made), 'raises': self.notify_raises,
                                'junk': 42}[notify_kind]
            kwargs['notify_interval'] = data.draw(
                mostly(st.sampled_from([0.002, 0.01]), st.sampled_from([0, -1, 'x'])),
                label='interval')
        call = 'MonitorGroup(%s %r, **%r)' % (form, names if form != 'junk' else arg, kwargs)
        self.note(call)
        try:
            group = MonitorGroup(arg, **kwargs)
        except CALL_ERRORS as exc:
            key = type(exc).__name__
            self.rejected[key] = self.rejected.get(key, 0) + 1
            self.close_fresh(fresh)
            return
        except Exception:
            self.fail('%s raised %s' % (call, traceback.format_exc()))
            self.close_fresh(fresh)
            return
        self.made += 1
        if notify_kind == 'ok':
            made['group'] = group
        chtype = kwargs.get('chtype', DBR.TIME_DOUBLE)
        if group.dtype != DTYPES[int(chtype) % 7]:
            self.fail('%s: dtype %s' % (call, group.dtype))
        if form != 'junk' and (group.chids != members or group.size != len(members)):
            self.fail('%s: chids %r, size %d' % (call, group.chids, group.size))
        state = {'names': list(names), 'fresh': fresh, 'removed': [], 'waiters': [],
                 'notify': notify_kind in ('ok', 'raises')}
        ca.flush_io()
        try:
            for step in range(MAX_STEPS):
                if step >= 2 and data.draw(st.integers(0, 15), label='stop') == 5:
                    break
                self.operations += 1
                op = data.draw(st.sampled_from(self.operations_drawn), label='op')
                self.note('%s step %d: %s' % (call, step, op))
                self.operate(op, group, state, data, '%s: %s' % (op, call))
            ending = data.draw(st.sampled_from(['close', 'with', 'twice']), label='ending')
            self.note('%s: ending %s' % (call, ending))
            if ending == 'with':
                with group:
                    pass
            else:
                group.close()
                if ending == 'twice':
                    group.close()
        finally:                            # idempotent; also after a failed operation
            group.close()
        self.after_close(group, state, call, data)
        self.close_fresh(state['fresh'])

    def wait_forever(self, group, where):
        result = group.wait()
        if result not in (True, False):
            self.fail('%s: wait() in a thread returned %r' % (where, result))

    def close_fresh(self, fresh):
        for _, chid in fresh:
            ca.clear_channel(chid)          # ECA.BADCHID if already cleared: fine

    def after_close(self, group, state, call, data):
        if not group.closed:
            self.fail('%s: not closed after close()' % call)
        with group:                         # the context manager on a closed group: no-op
            pass
        for waiter in state['waiters']:
            waiter.join(5.0)
            if waiter.is_alive():
                self.fail('%s: a thread in wait() not woken by close()' % call)
        left = group.pending
        if group.wait(0) != bool(left):
            self.fail('%s: wait(0) on a closed group with %d left' % (call, left))
        if not select.select([group.fileno()], [], [], 0)[0]:
            self.fail('%s: fileno() of a closed group not readable' % call)
        batch = group.drain()
        self.check_batch(batch, group, 'drain after close of ' + call, len(group.chids))
        if not state['notify'] and len(batch.index) != left:
            self.fail('%s: drained %d of %d left after close' % (call, len(batch.index), left))
        self.rows += len(batch.index)
        try:
            group.add(self.chids['catest'])
            self.fail('%s: add() after close made a member' % call)
        except ValueError:
            pass

    def pick(self, data, label, sequence):
        """An element of `sequence` (None if empty), drawn whatever the state."""
        which = data.draw(st.integers(0, 63), label=label)
        return sequence[which % len(sequence)] if sequence else None

    def operate(self, op, group, state, data, where):
        quiet = not state['notify']         # no notifier thread draining behind our back
        if op == 'write':
            name = self.pick(data, 'member', state['names'])
            if name is not None:
                self.write(name)
            time.sleep(0.002)
        elif op == 'sleep':                 # a notifier thread gets its turn
            time.sleep(0.03)
        elif op == 'add':
            self.op_add(group, state, data, where)
        elif op == 'remove':
            self.op_remove(group, state, data, where)
        elif op in ('drain', 'hold'):
            max_n = data.draw(max_ns, label='max_n')
            before, n_chids = group.pending, len(group.chids)
            try:
                batch = group.drain(max_n)
            except (TypeError, ValueError, OverflowError) as exc:
                if max_n is None or plain_int(max_n):
                    self.fail('%s drain(%r): %r' % (where, max_n, exc))
                return
            self.check_batch(batch, group, '%s drain(%r)' % (where, max_n), n_chids)
            k = len(batch.index)
            self.rows += k
            self.connection_rows += int((batch.events != UPDATE).sum())
            if isinstance(max_n, int) and k > max(max_n, 0):
                self.fail('%s drain(%r) took %d' % (where, max_n, k))
            limit = group.depth if max_n is None else (
                max(0, min(max_n, group.depth)) if isinstance(max_n, int) else 0)
            if quiet and k < min(before, limit):
                self.fail('%s drain(%r) took %d of %d waiting' % (where, max_n, k, before))
            if op == 'hold':
                self.held.append(batch)
                if len(self.held) > HELD_MAX:
                    self.release(self.held.pop(0))
        elif op == 'drop':
            which = data.draw(st.integers(0, 63), label='which')
            collect = data.draw(st.sampled_from([None, 0, None, 0, 2]), label='collect')
            if self.held:
                self.release(self.held.pop(which % len(self.held)))
            if collect is not None:         # a full collection is slow with Hypothesis' heap
                gc.collect(collect)
        elif op == 'wait':
            timeout = data.draw(self.timeouts, label='timeout')
            before = group.pending
            try:
                result = group.wait(timeout)
            except ValueError:
                if timeout == timeout:          # only a NaN timeout is refused
                    self.fail('%s wait(%r) raised ValueError' % (where, timeout))
                return
            # with gather, rows are announced once they have gathered: a shorter wait may end
            # before that (the first row armed the timer at the latest when `before` was read)
            announced = (group.gather == 0 or timeout is None
                         or timeout >= group.gather + GATHER_SLACK)
            if result not in (True, False) or (quiet and before and announced
                                               and result is not True):
                self.fail('%s wait(%r) with %d waiting: %r' % (where, timeout, before, result))
        elif op == 'select':
            fd = group.fileno()
            before = group.pending
            readable = bool(select.select([fd], [], [], 0)[0])
            after, closed = group.pending, group.closed
            if not plain_int(fd) or fd < 0:
                self.fail('%s fileno() %r' % (where, fd))
            elif quiet and ((before and group.gather == 0) or closed) and not readable:
                self.fail('%s: %d rows wait (closed %s), fileno() not readable'
                          % (where, before, closed))
            elif quiet and readable and not closed and not after:
                self.fail('%s: fileno() readable with no row waiting' % where)
        elif op == 'stats':
            self.op_stats(group, state, data, where)
        elif op == 'member_stats':
            n = len(group.chids)
            result = group.member_stats()
            totals = group.stats()
            kinds = {'updates': np.uint64, 'bytes': np.uint64, 'dropped': np.uint64,
                     'failures': np.uint64, 'last_update': np.float64}
            if sorted(result) != sorted(kinds) or any(
                    not isinstance(result[key], np.ndarray) or result[key].dtype != kind
                    or result[key].shape != (n,) for key, kind in kinds.items()):
                self.fail('%s: member_stats %r for %d chids' % (where, result, n))
            elif (result['dropped'].sum() > totals['dropped']
                  or result['updates'].sum() > totals['updates']
                  or result['failures'].sum() > totals['failures']):
                self.fail('%s: member_stats %r beyond the group\'s %r' % (where, result, totals))
        elif op == 'properties':
            chids = group.chids
            if (not isinstance(chids, list) or group.size != sum(c is not None for c in chids)
                    or group.width < 1 or not 0 <= group.pending <= group.depth
                    or group.closed not in (True, False) or not repr(group)):
                self.fail('%s: properties %r %r %r %r %r' % (
                    where, chids, group.size, group.width, group.pending, group.closed))
        elif op == 'clear_channel':
            # a member's own channel goes away while the group runs
            if state['fresh']:
                name, chid = state['fresh'][-1]
                if ca.clear_channel(chid) not in (ECA.NORMAL, ECA.BADCHID):
                    self.fail('%s: clear_channel' % where)
                self.cleared += 1
        elif op == 'close':
            group.close()
            if not group.closed:
                self.fail('%s: closed is False' % where)
        elif op == 'waiter':
            # a thread blocked in wait() without a timeout: rows or close() must wake it
            waiter = threading.Thread(target=self.wait_forever, args=(group, where), daemon=True)
            waiter.start()
            state['waiters'].append(waiter)
        elif op == 'reinit':                # --known-bug reinit
            names = data.draw(st.lists(st.sampled_from(NAMES), max_size=3), label='reinit')
            kwargs = {'chtype': data.draw(chtypes, label='reinit chtype'),
                      'count': data.draw(counts, label='reinit count'),
                      'depth': data.draw(st.integers(1, 64), label='reinit depth')}
            try:
                group.__init__([self.chids[n] for n in names], **kwargs)
            except CALL_ERRORS:
                return
            self.fail('%s: __init__(%r, **%r) again accepted' % (where, names, kwargs))

    def op_add(self, group, state, data, where):
        kind = data.draw(st.sampled_from(['valid', 'valid', 'member', 'fresh', 'junk', 'stale',
                                          'over']), label='add kind')
        count = data.draw(counts, label='add count')
        name = data.draw(st.sampled_from(NAMES), label='add record')
        chid = self.chids[name]
        if kind == 'member':
            chid = self.pick(data, 'member', [c for c in group.chids if c is not None]) or chid
            name = next((n for n, c in self.chids.items() if c is chid), None)
        elif kind == 'fresh':
            chid = self.fresh_channel(name)
            state['fresh'].append((name, chid))
        elif kind == 'junk':
            chid, name = data.draw(junk, label='add junk'), None
        elif kind == 'stale':
            chid, name = self.stale, None
        elif kind == 'over':
            count = group.width + data.draw(st.integers(1, 3), label='over by')
        width, before = group.width, len(group.chids)
        # add() must succeed for a live chid of a record (this example's fresh channels of
        # earlier steps may have been cleared: they have no name here) and a count that fits
        must = (name is not None and not group.closed
                and ((count is None and self.native[name] <= width)
                     or (plain_int(count) and 1 <= count <= width)))
        try:
            index = group.add(chid, count)
        except CALL_ERRORS as exc:
            if must:
                self.fail('%s add(%s %r, %r) for width %d: %r' % (where, kind, chid, count,
                                                                 width, exc))
            return
        self.added += 1
        if index != before or group.chids[index] is not chid:
            self.fail('%s add(%s, %r) -> %r of %d' % (where, kind, count, index, before))
        if kind in ('junk', 'stale', 'over'):
            self.fail('%s add(%s %r, %r) made member %r' % (where, kind, chid, count, index))
        state['names'].append(name)

    def op_remove(self, group, state, data, where):
        kind = data.draw(st.sampled_from(['index', 'index', 'chid', 'junk', 'again']),
                         label='remove kind')
        which = data.draw(st.integers(-3, 12), label='remove index')
        if kind == 'chid':
            which = self.chids[data.draw(st.sampled_from(NAMES), label='remove record')]
        elif kind == 'junk':
            which = data.draw(junk, label='remove junk')
        elif kind == 'again':
            which = self.pick(data, 'removed', state['removed'])
            if which is None:
                return
        chids = group.chids
        if isinstance(which, type(self.stale)):     # a chid (also one removed before, again)
            present = any(c is which for c in chids)
        elif isinstance(which, int):        # True is index 1; a huge one: KeyError or Overflow
            present = 0 <= which < len(chids) and chids[which] is not None
        else:
            present = None                  # junk: an error of some kind
        try:
            group.remove(which)
        except KeyError:
            if present:
                self.fail('%s remove(%r): KeyError for a member' % (where, which))
            return
        except (TypeError, ValueError, OverflowError) as exc:
            if present or (present is not None and not isinstance(exc, OverflowError)):
                self.fail('%s remove(%r): %r' % (where, which, exc))
            return
        self.removed += 1
        if not present:
            self.fail('%s remove(%r) of no member succeeded' % (where, which))
        if isinstance(which, int) and group.chids[which] is not None:
            self.fail('%s remove(%r): chids still %r' % (where, which, group.chids))
        state['removed'].append(which)

    def op_stats(self, group, state, data, where):
        kind = data.draw(st.sampled_from(['group', 'group', 'index', 'chid', 'junk']),
                         label='stats kind')
        which = None
        if kind == 'index':
            which = data.draw(st.integers(-2, 10), label='stats index')
        elif kind == 'chid':
            which = self.chids[data.draw(st.sampled_from(NAMES), label='stats record')]
        elif kind == 'junk':
            which = data.draw(junk, label='stats junk')
        try:
            result = group.stats(which)
        except (KeyError, TypeError, OverflowError) as exc:
            if which is None:
                self.fail('%s stats(): %r' % (where, exc))
            return
        base = {'updates', 'dropped', 'failures'}
        if not isinstance(result, dict) or not base <= set(result) or result['dropped'] < 0:
            self.fail('%s stats(%r): %r' % (where, which, result))
        elif which is None and (not 0 <= result['pending'] <= group.depth
                                or result['members'] != group.size):
            self.fail('%s stats(): %r' % (where, result))
        elif which is not None and ('pending' in result or 'members' in result):
            self.fail('%s stats(%r): group keys in %r' % (where, which, result))

    def release(self, batch):
        """A held batch, still readable (its store outlives its group), then let go."""
        try:
            batch.values.tobytes()
            self.check_batch(batch, None, 'held batch')
        except Exception:
            self.fail('held batch: %s' % traceback.format_exc())


def main():
    parser = argument_parser(default_seed=20261202)
    parser.add_argument('--known-bug', action='append', default=[], choices=['nan', 'reinit'])
    args = parser.parse_args()
    started = time.monotonic()
    reported = start_run()
    fuzzer = Fuzzer(args.trace, args.known_bug)
    fuzzer.connect()

    @hypothesis_run(args)
    def fuzz(data):
        # re-armed every few seconds rather than per example (arming costs a thread wake-up):
        # an example that hangs is still killed within EXAMPLE_WATCHDOG + WATCHDOG_REARM
        now = time.monotonic()
        if now - armed[0] > WATCHDOG_REARM:
            faulthandler.dump_traceback_later(EXAMPLE_WATCHDOG + WATCHDOG_REARM, exit=True)
            armed[0] = now
        fuzzer.run_example(data)

    armed = [-WATCHDOG_REARM - 1]

    fuzz()
    faulthandler.cancel_dump_traceback_later()
    while fuzzer.held:
        fuzzer.release(fuzzer.held.pop())
    gc.collect()
    fuzzer.fail_unraisable(reported)
    summary = {'examples': fuzzer.examples, 'groups': fuzzer.made,
               'calls': fuzzer.operations, 'rows': fuzzer.rows,
               'connection_rows': fuzzer.connection_rows, 'added': fuzzer.added,
               'removed': fuzzer.removed, 'rejected': fuzzer.rejected, 'cleared': fuzzer.cleared,
               'notified': fuzzer.notified, 'writes': fuzzer.writes, 'seed': args.seed,
               'known_bugs': args.known_bug, 'seconds': round(time.monotonic() - started, 1),
               'failures': len(fuzzer.failures), 'findings': fuzzer.failures[:20]}
    return fuzzer.finish(summary, list(fuzzer.chids.values()) + sum(fuzzer.spares.values(), []))


if __name__ == '__main__':
    sys.exit(main())
