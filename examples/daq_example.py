"""A small data-acquisition loop: collect N waveform updates into one numpy array.

    python examples/daq_example.py [PV] [-n N] [--timeout SECONDS] [--no-write]

It connects to PV (default ``cawave``, the DOUBLE[20] waveform of the test IOC in
tests/ioc/test.db), reads its metadata with ``get``, subscribes with numpy values and time
stamps, and, unless ``--no-write``, drives the acquisition itself by writing a new ramp with
``put`` for every frame (a waveform record posts an update on every write). Each update lands
in one row of an (N, elements) array; the subscription's counters come from ``caffi.stats``.

The client environment (EPICS_CA_ADDR_LIST, EPICS_CA_SERVER_PORT, ...) selects the server.
The script is type-checked with ``mypy --strict`` (tests/test_typing.py).
"""
import argparse
import sys
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

import numpy as np
import numpy.typing as npt

import caffi.ca as ca
from caffi.constants import ECA
from caffi.dbr import DBR
from caffi.stats import stats

if TYPE_CHECKING:
    # the handle types of API.md §3 are the extension types of the compiled module
    from caffi._ca import ChannelRecord


class Frames:
    """Subscription callback that stores each update as one row of a preallocated array.

    libca calls it on its own threads (preemptive context), so it only fills the arrays and
    signals `done` once `n` frames arrived; the main thread waits on that event. With
    `skip_first`, the initial update (the value the PV had before the acquisition) is dropped.
    """

    def __init__(self, n: int, elements: int, skip_first: bool = False) -> None:
        self.values: npt.NDArray[np.float64] = np.zeros((n, elements))
        self.stamps: npt.NDArray[np.float64] = np.zeros(n)
        self.received = 0
        self.skip = 1 if skip_first else 0        # the first update is the value before any put
        self.failures: List[ECA] = []
        self.done = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, event: Dict[str, Any]) -> None:
        if event['status'] != ECA.NORMAL:           # e.g. read access lost: no data
            self.failures.append(event['status'])
            return
        update = event['value']                     # DBR_TIME_DOUBLE: a dict
        with self._lock:
            if self.skip:
                self.skip -= 1
                return
            if self.received == len(self.values):
                return
            row = self.received
            data = np.asarray(update['value'], dtype=np.float64).reshape(-1)
            self.values[row, :data.size] = data[:self.values.shape[1]]
            self.stamps[row] = update['stamp']['timestamp']
            self.received += 1
            if self.received == len(self.values):
                self.done.set()


def connect(pv: str, timeout: float) -> 'ChannelRecord':
    status, chid = ca.create_channel(pv)
    if status != ECA.NORMAL or chid is None:
        raise SystemExit(f'{pv}: create_channel failed: {ca.message(status)}')
    if ca.pend_io(timeout) != ECA.NORMAL:
        raise SystemExit(f'{pv}: not connected within {timeout} s')
    return chid


def describe(chid: 'ChannelRecord', timeout: float) -> Dict[str, Any]:
    """The channel's display metadata (units, limits, precision) from a CTRL_DOUBLE get."""
    status, dbrvalue = ca.get(chid, DBR.CTRL_DOUBLE, 1)
    if status != ECA.NORMAL or dbrvalue is None or ca.pend_io(timeout) != ECA.NORMAL:
        raise SystemExit(f'{ca.name(chid)}: get failed: {ca.message(status)}')
    metadata: Dict[str, Any] = dbrvalue.get()
    return metadata


def write_frames(chid: 'ChannelRecord', elements: int, stop: threading.Event,
                 period: float) -> None:
    """Drive the acquisition: one put of a fresh ramp per frame until told to stop."""
    ramp = np.linspace(0.0, 1.0, elements)
    step = 0
    while not stop.wait(period):
        step += 1
        status = ca.put(chid, ramp * step)
        if status != ECA.NORMAL:
            print(f'put failed: {ca.message(status)}', file=sys.stderr)
            return
        ca.flush_io()


def acquire(pv: str, n: int, timeout: float, write: bool, period: float) -> int:
    chid = connect(pv, timeout)
    elements = ca.element_count(chid)
    metadata = describe(chid, timeout)
    print(f'{pv}: {ca.field_type(chid).name} x {elements} on {ca.host_name(chid)}, '
          f'units {metadata["units"]!r}, precision {metadata["precision"]}')

    frames = Frames(n, elements, skip_first=write)
    status, evid = ca.create_subscription(chid, frames, DBR.TIME_DOUBLE, elements,
                                          use_numpy=True)
    if status != ECA.NORMAL or evid is None:
        raise SystemExit(f'{pv}: subscription failed: {ca.message(status)}')
    ca.flush_io()

    writer: Optional[threading.Thread] = None
    stop = threading.Event()
    if write:
        # the writer thread joins this context before it calls libca (contexts are per thread)
        context = ca.current_context()
        assert context is not None

        def attached_writer() -> None:
            ca.attach_context(context)
            write_frames(chid, elements, stop, period)
            ca.detach_context()
        writer = threading.Thread(target=attached_writer, daemon=True)
        writer.start()

    complete = frames.done.wait(timeout + n * period)
    stop.set()
    if writer is not None:
        writer.join()
    ca.clear_subscription(evid)
    counters = stats(evid)
    ca.clear_channel(chid)

    got = frames.received
    values = frames.values[:got]
    print(f'collected {got}/{n} frames into a {values.shape} {values.dtype} array '
          f'({len(frames.failures)} failed updates)')
    print(f'subscription: {counters.updates} updates, {counters.bytes} DBR bytes, '
          f'{counters.average_rate:.1f} updates/s on average')
    if got:
        span = frames.stamps[got - 1] - frames.stamps[0]
        print(f'server time span {span:.3f} s; per-element mean of the frames: '
              f'{np.array2string(values.mean(axis=0), precision=3, max_line_width=100)}')
    return 0 if complete else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument('pv', nargs='?', default='cawave', help='waveform PV (default: cawave)')
    parser.add_argument('-n', type=int, default=50, help='frames to collect (default: 50)')
    parser.add_argument('--timeout', type=float, default=5.0, help='connection/read timeout, s')
    parser.add_argument('--period', type=float, default=0.01, help='seconds between writes')
    parser.add_argument('--no-write', dest='write', action='store_false',
                        help='only monitor: the PV updates by itself')
    args = parser.parse_args(argv)

    if ca.create_context(True) != ECA.NORMAL:
        raise SystemExit('no preemptive CA context')
    try:
        return acquire(args.pv, args.n, args.timeout, args.write, args.period)
    finally:
        ca.destroy_context()


if __name__ == '__main__':
    sys.exit(main())
