"""Child for test_lifetimes: DBRValues dropped before the pend_io that completes their read
(API.md §6.4 "the buffer MUST stay alive for as long as libca may write into it", §11.7, §12).

The read buffers (LONG x 150 = 600 bytes, TIME_LONG x 150 = 612 bytes) are above pymalloc's
512-byte limit, so a buffer freed too early goes back to malloc; the child then allocates
bytearrays of the same malloc size filled with 0xAB, which take the freed chunks.  If libca
later writes a reply into a freed buffer, it lands in one of those bytearrays (the waveform
holds 0x01020304 in every element, so the write is recognisable) -- or in whatever else took
the chunk.

argv[1] = 'live': the IOC answers at once; reads are dropped, then pend_io; also dropped reads
          followed by clear_channel, and by destroy_context, without pend_io.
argv[1] = 'late': the parent pauses the IOC; dropped reads, pend_io times out, the chunks are
          reclaimed, the parent resumes the IOC and the late replies arrive.
"""

import gc
import struct
import sys
import time

from child_common import connect, put_wait, report, wait_command, watchdog

import caffi.ca as ca
from caffi.constants import ECA
from caffi.dbr import DBR

MODE = sys.argv[1]
watchdog(90)

ELEMENT = 0x01020304
VALUES = [ELEMENT] * 150
SIZES = {DBR.LONG: 600, DBR.TIME_LONG: 16 + 149 * 4}
READS = 40
RECLAIMERS = 400


def issue_dropped(chid, n):
    for i in range(n):
        chtype = DBR.LONG if i % 2 else DBR.TIME_LONG
        status, value = ca.get(chid, chtype, 150)
        assert status == ECA.NORMAL, status
        del value           # the only reference: dropped before any pend_io


PATTERNS = {size: b'\xab' * (size - 1) for size in SIZES.values()}


def reclaim():
    """bytearrays whose malloc'd storage has the size of the freed read buffers."""
    arrays = []
    for i in range(RECLAIMERS):
        size = list(SIZES.values())[i % 2]
        array = bytearray(size - 1)         # storage: size bytes (one for the terminator)
        array[:] = PATTERNS[size]
        arrays.append(array)
    return arrays


def damaged(arrays):
    bad = []
    signature = struct.pack('>i', ELEMENT)  # network byte order: what a reply holds
    native = struct.pack('=i', ELEMENT)
    for array in arrays:
        pattern = PATTERNS[len(array) + 1]
        if bytes(array) != pattern:
            bad.append({'size': len(array) + 1,
                        'changed_bytes': sum(1 for a, b in zip(array, pattern) if a != b),
                        'reply_data': native in array or signature in array})
    return bad


def check_value(chid):
    status, value = ca.get(chid, DBR.LONG, 150)
    assert status == ECA.NORMAL
    assert ca.pend_io(10) == ECA.NORMAL
    return value.get() == VALUES


ca.create_context(True)
wave = connect('cawavel')
put_wait(wave, VALUES)

if MODE == 'live':
    results = {}
    # 1. dropped, then pend_io
    issue_dropped(wave, READS)
    gc.collect()
    arrays = reclaim()
    results['pend_io'] = ca.pend_io(10).name
    time.sleep(0.3)
    results['damaged_after_pend_io'] = damaged(arrays)
    results['value_ok'] = check_value(wave)
    # 2. dropped, then the channel is cleared without pend_io
    other = connect('cawavel')
    issue_dropped(other, READS)
    ca.flush_io()
    assert ca.clear_channel(other) == ECA.NORMAL
    gc.collect()
    arrays = reclaim()
    time.sleep(0.5)
    results['damaged_after_clear_channel'] = damaged(arrays)
    # libca's clear drops the channel's outstanding plain reads without counting them done, so
    # this pend_io may time out (libca semantics, not checked)
    results['pend_io_after_clear'] = ca.pend_io(1.0).name
    results['value_ok_after_clear'] = check_value(wave)
    # 3. dropped, then the context is destroyed without pend_io
    issue_dropped(wave, READS)
    ca.flush_io()
    ca.destroy_context()
    gc.collect()
    arrays = reclaim()
    time.sleep(0.5)
    results['damaged_after_destroy_context'] = damaged(arrays)
    # the process still works with a new context
    ca.create_context(True)
    wave = connect('cawavel')
    results['value_ok_new_context'] = check_value(wave)
    report('live', **results)
else:
    report('ready')
    wait_command('paused')
    issue_dropped(wave, READS)
    status = ca.pend_io(0.5)            # the IOC is paused: times out
    gc.collect()
    arrays = reclaim()
    report('dropped', pend_io=status.name)
    wait_command('resumed')
    time.sleep(1.5)                     # the late replies arrive now
    results = {'damaged_after_late_replies': damaged(arrays)}
    results['pend_io_after'] = ca.pend_io(5).name
    results['value_ok'] = check_value(wave)
    report('late', **results)

ca.destroy_context()
report('done')
