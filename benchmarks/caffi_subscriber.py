"""caffi's side of the monitor benchmark: the same measurement as c/ca_subscriber.c.

    python caffi_subscriber.py <pv> <DBR type name> <window_s> <warmup_s> [numpy|list]

Preemptive context, one subscription (count 0, DBE_VALUE|DBE_ALARM); the Python callback
receives the full §10.3 dict and touches the value (its length, or the float itself), which
is what a real client does at the least. Prints one JSON line like the C subscriber.
"""
import json
import resource
import sys
import time

import caffi.ca as ca


def cpu_sample():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime, usage.ru_nvcsw, usage.ru_nivcsw


def main():
    pv, type_name, window, warmup = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    use_numpy = (sys.argv[5] if len(sys.argv) > 5 else 'numpy') == 'numpy'
    request = ca.DBR[type_name[len('DBR_'):]]
    ca.create_context(True)
    status, chid = ca.create_channel(pv)
    if ca.pend_io(5) != ca.ECA.NORMAL:
        sys.exit(f'caffi_subscriber: cannot connect to {pv}')
    elements = ca.element_count(chid)
    counters = {'updates': 0, 'bytes': 0, 'errors': 0}
    item_size = ca.dbr_size_n(request, elements)

    def on_update(event):
        value = event['value']
        if value is None:
            counters['errors'] += 1
            return
        if not isinstance(value, (float, dict)):
            len(value)
        counters['updates'] += 1
        counters['bytes'] += item_size

    ca.create_subscription(chid, on_update, chtype=request, count=0, use_numpy=use_numpy)
    ca.flush_io()
    time.sleep(warmup)
    u0, b0, c0, t0 = counters['updates'], counters['bytes'], cpu_sample(), time.perf_counter()
    time.sleep(window)
    u1, b1, c1, t1 = counters['updates'], counters['bytes'], cpu_sample(), time.perf_counter()
    n, wall = u1 - u0, t1 - t0
    user, system = c1[0] - c0[0], c1[1] - c0[1]
    cpu = user + system
    print(json.dumps({
        'updates': n, 'seconds': wall, 'cpu_s': cpu,
        'cpu_us_per_update': cpu * 1e6 / n if n else None,
        'updates_per_s': n / wall, 'mb_per_s': (b1 - b0) / 1e6 / wall,
        'cpu_user_s': user, 'cpu_sys_s': system,
        'vol_ctx_switches': c1[2] - c0[2], 'invol_ctx_switches': c1[3] - c0[3],
        'type': type_name, 'elements': elements, 'errors': counters['errors'],
    }), flush=True)
    ca.destroy_context()


if __name__ == '__main__':
    main()
