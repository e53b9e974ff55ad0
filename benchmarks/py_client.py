"""Python side of the end-to-end benchmarks: one measurement per process, one JSON line out.

    python py_client.py BACKEND monitor   PV TYPE WINDOW_S WARMUP_S numpy|list
    python py_client.py BACKEND roundtrip PV WINDOW_S WARMUP_S
    python py_client.py BACKEND memory    PV TYPE UPDATES WARMUP_UPDATES TIMEOUT_S numpy|list

BACKEND is the library measured, each used the way its users use it:

* ``caffi``: ``caffi.ca`` -- this repository's caffi, or a peer caffi (1.0.4) when started
  through peer_launcher.py, which puts the peer first on sys.path.  Preemptive context; the
  subscription callback receives the full §10.3 dict.
* ``pyepics``: the ``epics.ca`` module (preemptive context, its default); the callback gets
  ``value=`` plus the metadata keywords.
* ``cachannel``: the ``CaChannel.CaChannel`` class with CaChannel's default backend (its own
  C extension); the callback gets CaChannel's ``epics_args`` dict (``pv_value``, ...).

TYPE is a DBR request type name (DBR_TIME_DOUBLE, DBR_DOUBLE).  Each subscription asks for
count 0 (the server's current length) and DBE_VALUE|DBE_ALARM, and its callback *touches the
value* -- ``len()`` of the array, or the float of a scalar taken out of its dict -- and counts
the update, which is the least a real client does.

monitor:   after WARMUP_S, updates, wall time and process CPU (getrusage: user + sys of all
           threads, so libca's own threads are included, as for the C subscriber) over WINDOW_S.
roundtrip: get + pend_io (a blocking read) and a put with completion callback waited for, one
           at a time, on the scalar; ops/s and CPU per op, WARMUP_S then WINDOW_S each.
memory:    RSS (/proc/self/statm) after WARMUP_UPDATES updates and again after UPDATES more.
"""
import gc
import json
import os
import resource
import sys
import threading
import time


def cpu_sample():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime, u.ru_stime, u.ru_nvcsw, u.ru_nivcsw, u.ru_minflt


def window_figures(n, wall, c0, c1, item_bytes):
    """What a monitor subscriber reports of its window, under the C subscriber's keys: n updates
    of item_bytes each over wall seconds, c0 and c1 the cpu_sample()s at its start and end.
    (Also monitor_subscriber.py's, which imports it.)"""
    user, system = c1[0] - c0[0], c1[1] - c0[1]
    cpu = user + system
    return {
        'updates': n, 'seconds': wall, 'cpu_s': cpu,
        'cpu_us_per_update': cpu * 1e6 / n if n else None,
        'updates_per_s': n / wall, 'mb_per_s': n * item_bytes / 1e6 / wall,
        'cpu_user_s': user, 'cpu_sys_s': system,
        'vol_ctx_switches': c1[2] - c0[2], 'invol_ctx_switches': c1[3] - c0[3],
        'minor_faults': c1[4] - c0[4],
    }


def rss_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def hwm_bytes():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    return None


def elements_bytes(type_name, elements):
    """Bytes of one update as libca hands it over (dbr_size_n), as the C subscriber counts."""
    # DBR_DOUBLE: 8 per element; DBR_TIME_DOUBLE: status, severity, stamp, pad (16) + 8 per
    # element -- libca's dbr_size_n() for the two request types used here.
    header = {'DBR_DOUBLE': 0, 'DBR_TIME_DOUBLE': 16}[type_name]
    return header + 8 * elements


def touch_for(type_name):
    """How a callback touches the value it is handed: the float of a scalar (the DBR_TIME_
    requests here are of the scalar), the length of an array."""
    return float if type_name.startswith('DBR_TIME_') else len


# ---------------------------------------------------------------------------------------------
# backends: connect(pv) -> handle; subscribe(handle, type_name, use_numpy, counter);
#           get(handle); put_wait(handle, value); elements(handle)
# counter is a one-element list [updates, errors]: the callbacks increment it in place.
# ---------------------------------------------------------------------------------------------

class CaffiBackend:
    def __init__(self):
        import caffi
        import caffi.ca as ca
        self.ca = ca
        self.version = getattr(caffi, '__version__', '?')
        ca.create_context(True)
        self._done = threading.Lock()
        self._done.acquire()
        self._keep = []

    def connect(self, pv):
        status, chid = self.ca.create_channel(pv)
        if self.ca.pend_io(5) != self.ca.ECA.NORMAL:
            sys.exit(f'py_client: cannot connect to {pv}')
        return chid

    def elements(self, chid):
        return self.ca.element_count(chid)

    def subscribe(self, chid, type_name, use_numpy, counter):
        request = self.ca.DBR[type_name[len('DBR_'):]]
        if type_name.startswith('DBR_TIME_'):
            def on_update(event):
                value = event['value']
                if value is None:
                    counter[1] += 1
                    return
                value['value']
                counter[0] += 1
        else:
            def on_update(event):
                value = event['value']
                if value is None:
                    counter[1] += 1
                    return
                len(value)
                counter[0] += 1
        status, evid = self.ca.create_subscription(chid, on_update, chtype=request, count=0,
                                                   use_numpy=use_numpy)
        self._keep.append(evid)
        self.ca.flush_io()

    def get(self, chid):
        status, value = self.ca.get(chid)
        if self.ca.pend_io(5) != self.ca.ECA.NORMAL:
            raise RuntimeError('get timed out')
        return value.get()

    def put_wait(self, chid, value):
        self.ca.put(chid, value, callback=self._on_put)
        self.ca.flush_io()
        self._done.acquire()

    def _on_put(self, args):
        self._done.release()

    def close(self):
        self.ca.destroy_context()


class PyepicsBackend:
    def __init__(self):
        import epics
        import epics.ca as eca
        self.eca = eca
        self.version = epics.__version__
        eca.initialize_libca()
        self._keep = []

    def connect(self, pv):
        chid = self.eca.create_channel(pv)
        if not self.eca.connect_channel(chid, timeout=5):
            sys.exit(f'py_client: cannot connect to {pv}')
        return chid

    def elements(self, chid):
        return self.eca.element_count(chid)

    def subscribe(self, chid, type_name, use_numpy, counter):
        from epics import dbr
        if not use_numpy:
            raise SystemExit('py_client: pyepics is measured with numpy only')
        touch = touch_for(type_name)

        def on_update(value=None, **kw):
            if value is None:
                counter[1] += 1
                return
            touch(value)
            counter[0] += 1

        ftype = getattr(dbr, type_name[len('DBR_'):])
        self._keep.append(self.eca.create_subscription(chid, ftype=ftype, callback=on_update,
                                                       count=0))
        self.eca.flush_io()

    def get(self, chid):
        return self.eca.get(chid)

    def put_wait(self, chid, value):
        # pyepics' own confirmed write: ca_array_put_callback, then poll() until completion
        self.eca.put(chid, value, wait=True)

    def close(self):
        # pyepics' own atexit finalization segfaults while a subscription is delivering
        # updates from libca's thread: clear the subscriptions and finalize libca first.
        for cb_ref, uarg_ref, evid in self._keep:
            self.eca.clear_subscription(evid)
        self.eca.finalize_libca()


class CaChannelBackend:
    def __init__(self):
        import CaChannel
        from CaChannel import ca
        self.mod = CaChannel
        self.ca = ca
        self.version = getattr(CaChannel, '__version__', '?')
        self._done = threading.Lock()
        self._done.acquire()
        self._channels = []

    def connect(self, pv):
        chan = self.mod.CaChannel(pv)
        chan.setTimeout(5.0)
        chan.searchw()
        self._channels.append(chan)
        return chan

    def elements(self, chan):
        return chan.element_count()

    def subscribe(self, chan, type_name, use_numpy, counter):
        request = getattr(self.ca, type_name)
        touch = touch_for(type_name)

        def on_update(epics_args, user_args):
            value = epics_args.get('pv_value')
            if value is None:
                counter[1] += 1
                return
            touch(value)
            counter[0] += 1

        chan.add_masked_array_event(request, 0, self.ca.DBE_VALUE | self.ca.DBE_ALARM,
                                    on_update, use_numpy=use_numpy)
        chan.flush_io()

    def get(self, chan):
        return chan.getw()

    def put_wait(self, chan, value):
        chan.array_put_callback(value, None, None, self._on_put)
        chan.flush_io()
        self._done.acquire()

    def _on_put(self, epics_args, user_args):
        self._done.release()

    def close(self):
        # CaChannel 3.2 aborts the process at interpreter exit while a subscription is
        # delivering (libca 3.14's receive thread: 'FATAL: exception not rethrown'), and so
        # does ca.destroy_context() ('epicsMutex::invalidMutex'): clear the subscriptions,
        # then leave without finalization (the result line is already out).
        for chan in self._channels:
            chan.clear_event()
        self.ca.flush_io()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


BACKENDS = {'caffi': CaffiBackend, 'pyepics': PyepicsBackend, 'cachannel': CaChannelBackend}


# ---------------------------------------------------------------------------------------------
# modes
# ---------------------------------------------------------------------------------------------

def monitor(backend, pv, type_name, window, warmup, representation):
    handle = backend.connect(pv)
    elements = backend.elements(handle)
    item = elements_bytes(type_name, elements)
    counter = [0, 0]
    backend.subscribe(handle, type_name, representation == 'numpy', counter)
    time.sleep(warmup)
    g0 = [g['collections'] for g in gc.get_stats()]
    u0, c0, t0 = counter[0], cpu_sample(), time.perf_counter()
    time.sleep(window)
    u1, c1, t1 = counter[0], cpu_sample(), time.perf_counter()
    g1 = [g['collections'] for g in gc.get_stats()]
    return dict(window_figures(u1 - u0, t1 - t0, c0, c1, item),
                gc_collections=[b - a for a, b in zip(g0, g1)],  # per generation, in the window
                type=type_name, elements=elements, errors=counter[1])


def roundtrip(backend, pv, window, warmup):
    handle = backend.connect(pv)
    result = {}
    state = {'i': 0.0}

    def do_get():
        backend.get(handle)

    def do_put():
        state['i'] += 1.0
        backend.put_wait(handle, state['i'])

    for name, op in (('get', do_get), ('putcb', do_put)):
        end = time.perf_counter() + warmup
        while time.perf_counter() < end:
            op()
        n = 0
        c0, t0 = cpu_sample(), time.perf_counter()
        end = t0 + window
        while True:
            op()
            n += 1
            t1 = time.perf_counter()
            if t1 >= end:
                break
        c1 = cpu_sample()
        user, system = c1[0] - c0[0], c1[1] - c0[1]
        wall = t1 - t0
        result[name] = {'ops': n, 'seconds': wall, 'ops_per_s': n / wall,
                        'cpu_us_per_op': (user + system) * 1e6 / n,
                        'user_us_per_op': user * 1e6 / n, 'sys_us_per_op': system * 1e6 / n}
    return result


def memory(backend, pv, type_name, updates, warmup_updates, timeout, representation):
    handle = backend.connect(pv)
    counter = [0, 0]
    backend.subscribe(handle, type_name, representation == 'numpy', counter)
    deadline = time.monotonic() + timeout

    def wait_for(n):
        while counter[0] < n:
            if time.monotonic() > deadline:
                raise SystemExit('py_client: memory run timed out after %d of %d updates'
                                 % (counter[0], warmup_updates + updates))
            time.sleep(0.02)
        return counter[0]

    n0 = wait_for(warmup_updates)
    rss0, t0 = rss_bytes(), time.perf_counter()
    n1 = wait_for(warmup_updates + updates)
    rss1, t1 = rss_bytes(), time.perf_counter()
    return {'updates': n1 - n0, 'seconds': t1 - t0, 'rss_before': rss0, 'rss_after': rss1,
            'rss_growth': (rss1 - rss0) / rss0, 'vm_hwm': hwm_bytes(), 'errors': counter[1],
            'type': type_name}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    backend_name, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    backend = BACKENDS[backend_name]()
    if mode == 'monitor':
        pv, type_name, window, warmup, rep = args
        result = monitor(backend, pv, type_name, float(window), float(warmup), rep)
    elif mode == 'roundtrip':
        pv, window, warmup = args
        result = roundtrip(backend, pv, float(window), float(warmup))
    elif mode == 'memory':
        pv, type_name, updates, warmup_updates, timeout, rep = args
        result = memory(backend, pv, type_name, int(updates), int(warmup_updates),
                        float(timeout), rep)
    else:
        sys.exit('py_client: unknown mode %r' % mode)
    result['backend'] = '%s %s' % (backend_name, backend.version)
    print(json.dumps(result), flush=True)
    backend.close()


if __name__ == '__main__':
    main()
