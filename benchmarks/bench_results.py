"""Results of the benchmark drivers (monitor_bench.py, many_pv_bench.py, aio_bench.py): medians,
runs kept per repeat with their ratios to C's run of the same repeat, and the printed tables.

Every ratio to C is taken within one repeat (the subscribers of a repeat run back to back, so
they share the machine's state of the moment) and only then summarised over the repeats.
"""
import statistics
from collections import namedtuple


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec, none="-"):
    return none if value is None else spec % value


def print_table(title, hdr, rows, left=1):
    """A plain-text table under *title*, its first *left* columns (the names) left-aligned."""
    print("\n" + title)
    if not rows:
        print("  (nothing measured)")
        return
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
    fmts = ["%%-%ds" % w if i < left else "%%%ds" % w for i, w in enumerate(widths)]
    print("  ".join(f % h for f, h in zip(fmts, hdr)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(f % x for f, x in zip(fmts, r)).rstrip())


def drain_ratio(sizes, n):
    """The cost of a drain() of n waiting rows over that of one (from the "sizes" of
    many_pv_drain.py or monitor_batches.py), or None if either was not measured."""
    if "1" not in sizes or str(n) not in sizes:
        return None
    return sizes[str(n)]["drain_us"] / sizes["1"]["drain_us"]


class RepeatRuns:
    """The runs of each (case, subscriber): one result dict per repeat, with its "repeat"."""

    # keys summarised by their largest value over the repeats instead of the median: for a
    # count of missed updates, the one run that lost some is the finding
    LARGEST = ()

    def __init__(self):
        self.runs = {}      # (case, subscriber) -> [result, with "repeat"]

    def add(self, case, sub, rep, r):
        """Keeps a copy of result r of repeat rep; returns it, for subclasses to derive from."""
        r = dict(r, repeat=rep)
        self.runs.setdefault((case, sub), []).append(r)
        return r

    def get(self, case, sub):
        return self.runs.get((case, sub), [])

    def stat(self, case, sub, key):
        rs = self.get(case, sub)
        if key in self.LARGEST:
            values = [r[key] for r in rs if r.get(key) is not None]
            return max(values) if values else None
        return med([r.get(key) for r in rs])

    def members(self, sub):
        """The subscribers whose runs a ratio of *sub* takes together."""
        return (sub,)

    def ratio(self, case, sub, key):
        """Median over the repeats of this subscriber's key / C's in the same repeat."""
        c = {r["repeat"]: r.get(key) for r in self.get(case, "C")}
        return med([r[key] / c[r["repeat"]] for s in self.members(sub) for r in self.get(case, s)
                    if r.get(key) is not None and c.get(r["repeat"])])


# A column of runs_table: the stat of key over the repeats (to_c: its ratio to C), times scale.
Column = namedtuple("Column", "header key spec to_c scale", defaults=(False, 1))

# the first columns of every table of subscribers: CPU (of a CPU, per update, its ratio to C's)
# and the updates missed (counter gaps)
SUBSCRIBER_COLUMNS = [
    Column("CPU %", "cpu_pct", "%.1f"),
    Column("CPU us/upd", "cpu_us_per_update", "%.2f"),
    Column("xC", "cpu_us_per_update", "%.2f", to_c=True),
    Column("missed", "missed", "%d"),
]


def runs_table(runs, cases, subs, columns, case_header=None):
    """(header, rows) of a table of RepeatRuns: a row per (case, subscriber) with runs, the
    Columns, then the number of runs.  Without case_header, no case column (a single case)."""
    hdr = ((case_header,) if case_header else ()) + ("subscriber",) \
        + tuple(col.header for col in columns) + ("runs",)
    rows = []
    for case in cases:
        for sub in subs:
            rs = runs.get(case, sub)
            if not rs:
                continue
            cells = []
            for col in columns:
                value = (runs.ratio if col.to_c else runs.stat)(case, sub, col.key)
                cells.append(fmt(None if value is None else value * col.scale, col.spec))
            rows.append(((str(case),) if case_header else ()) + (sub,) + tuple(cells)
                        + (str(len(rs)),))
    return hdr, rows
