"""Micro-benchmarks of caffi's conversions, each beside the plain memcpy of the same bytes.

    pytest benchmarks/ --benchmark-only                    # needs pytest-benchmark ('.[test]')
    pytest benchmarks/ --benchmark-only --benchmark-group-by=group --benchmark-columns=min,median,mean,ops

No IOC, no libca traffic: the DBR buffers are built here and go through the same code a
delivery goes through -- ``caffi.dbr.format_dbr`` (a read buffer to its §9 value),
``caffi._testing.update_dict`` (the §10.3 dict the subscription trampoline builds) and
``caffi._testing.prepare_put_bytes`` (the write encoder; it returns the bytes handed to libca, i.e. it
includes the copy libca makes into its send buffer).  Every group has a ``memcpy`` member: one
memcpy of the same number of bytes between two preallocated buffers (memoryview slice
assignment), the least any conversion has to spend.  Each benchmark checks its result once, so a fast wrong answer
fails instead of being reported.
"""
import numpy
import pytest

import caffi.ca as ca
from caffi import _testing
from caffi.dbr import DBR, format_dbr

M = 1000000


def dbr_buffer(dbrtype, count, fill=None):
    """A zeroed DBR buffer of count elements; fill(buffer) may set the value part."""
    buf = bytearray(ca.dbr_size_n(dbrtype, count))
    if fill is not None:
        fill(buf)
    return buf


def double_values(count):
    """DBR_DOUBLE buffer holding 0.0, 1.0, ..."""
    return bytearray(numpy.arange(count, dtype=numpy.float64).tobytes())


def memcpy_floor(nbytes):
    """A callable doing one memcpy of nbytes between two preallocated, resident buffers:
    memoryview slice assignment, the cheapest memcpy reachable from Python (ctypes.memmove or
    numpy.copyto cost ~0.4 us of call overhead, more than the small conversions themselves)."""
    src = bytearray(b"\x01" * nbytes)
    dst = bytearray(nbytes)  # zero-filled: its pages are faulted in already
    src_view, dst_view = memoryview(src), memoryview(dst)

    def copy():
        dst_view[:] = src_view
    copy.buffers = (src, dst)
    return copy


# --- the floors, one per byte count, each in its group ---------------------------------------

FLOORS = [
    ("DOUBLE 1M -> ndarray", 8 * M),
    ("DOUBLE 1M -> list", 8 * M),
    ("TIME_DOUBLE -> dict", ca.dbr_size_n(DBR.TIME_DOUBLE, 1)),
    ("CTRL_DOUBLE -> dict", ca.dbr_size_n(DBR.CTRL_DOUBLE, 1)),
    ("callback dict TIME_DOUBLE", ca.dbr_size_n(DBR.TIME_DOUBLE, 1)),
    ("callback dict DOUBLE 1k numpy", ca.dbr_size_n(DBR.DOUBLE, 1000)),
    ("put 1M float64 ndarray", 8 * M),
    ("put 1M int32 ndarray as DOUBLE", 8 * M),
]


@pytest.mark.parametrize("group,nbytes", FLOORS, ids=[g for g, _ in FLOORS])
def test_memcpy(benchmark, group, nbytes):
    benchmark.group = group
    benchmark.name = "memcpy %d bytes" % nbytes
    copy = memcpy_floor(nbytes)
    benchmark(copy)
    src, dst = copy.buffers
    assert dst == src


# --- reads: DBR buffer -> Python ------------------------------------------------------------

@pytest.fixture(scope="module")
def double_1m():
    return double_values(M)


def test_double_1m_ndarray(benchmark, double_1m):
    benchmark.group = "DOUBLE 1M -> ndarray"
    value = benchmark(format_dbr, DBR.DOUBLE, M, double_1m, True)
    assert isinstance(value, numpy.ndarray) and value.dtype == numpy.float64
    assert value.shape == (M,) and value[12345] == 12345.0 and value[-1] == M - 1


def test_double_1m_list(benchmark, double_1m):
    benchmark.group = "DOUBLE 1M -> list"
    value = benchmark(format_dbr, DBR.DOUBLE, M, double_1m, False)
    assert type(value) is list and len(value) == M and value[12345] == 12345.0


def _time_double(buf):
    # struct dbr_time_double: status, severity (int16), stamp (2 x uint32), pad, value
    numpy.frombuffer(buf, numpy.int16, 2, 0)[:] = (3, 1)
    numpy.frombuffer(buf, numpy.uint32, 2, 4)[:] = (1000000000, 500)
    numpy.frombuffer(buf, numpy.float64, 1, 16)[:] = 2.5


def test_time_double_dict(benchmark):
    benchmark.group = "TIME_DOUBLE -> dict"
    buf = dbr_buffer(DBR.TIME_DOUBLE, 1, _time_double)
    value = benchmark(format_dbr, DBR.TIME_DOUBLE, 1, buf, False)
    assert value["value"] == 2.5 and value["severity"] == 1
    assert value["stamp"]["nanoseconds"] == 500  # seconds: EPICS epoch shifted to POSIX


def test_ctrl_double_dict(benchmark):
    benchmark.group = "CTRL_DOUBLE -> dict"
    buf = dbr_buffer(DBR.CTRL_DOUBLE, 1)
    buf[-8:] = numpy.float64(7.25).tobytes()
    value = benchmark(format_dbr, DBR.CTRL_DOUBLE, 1, buf, False)
    assert value["value"] == 7.25 and "upper_ctrl_limit" in value and value["units"] == ""


# --- the subscription callback dict (what the trampoline builds per update) ------------------

def test_callback_dict_time_double(benchmark):
    benchmark.group = "callback dict TIME_DOUBLE"
    buf = dbr_buffer(DBR.TIME_DOUBLE, 1, _time_double)
    event = benchmark(_testing.update_dict, DBR.TIME_DOUBLE, 1, buf, False)
    assert event["type"] == DBR.TIME_DOUBLE and event["count"] == 1
    assert event["status"] == ca.ECA.NORMAL and event["value"]["value"] == 2.5


def test_callback_dict_double_1k_numpy(benchmark):
    benchmark.group = "callback dict DOUBLE 1k numpy"
    buf = double_values(1000)
    event = benchmark(_testing.update_dict, DBR.DOUBLE, 1000, buf, True)
    assert isinstance(event["value"], numpy.ndarray) and event["value"][999] == 999.0


# --- writes: Python -> the bytes handed to libca ----------------------------------------------

def test_put_1m_float64_ndarray(benchmark):
    benchmark.group = "put 1M float64 ndarray"
    value = numpy.arange(M, dtype=numpy.float64)
    dbrtype, count, payload = benchmark(_testing.prepare_put_bytes, value, DBR.DOUBLE, None, M)
    assert (dbrtype, count, len(payload)) == (DBR.DOUBLE, M, 8 * M)
    assert payload == value.tobytes()


def test_put_1m_int32_ndarray_as_double(benchmark):
    benchmark.group = "put 1M int32 ndarray as DOUBLE"
    value = numpy.arange(M, dtype=numpy.int32)
    dbrtype, count, payload = benchmark(_testing.prepare_put_bytes, value, DBR.DOUBLE, None, M)
    assert count == M and len(payload) == 8 * M
    assert numpy.array_equal(numpy.frombuffer(payload, numpy.float64), value)
