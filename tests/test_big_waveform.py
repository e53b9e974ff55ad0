"""The 4M-element cawavehuge round trip through numpy (API.md §9.1, §14 array-like writes)."""

import numpy
import pytest

import caffi.ca as ca
from caffi.constants import ECA
from caffi.dbr import DBR

from ca_client_util import Channels, Collector, put_wait
from ioc_harness import RECORDS

N = RECORDS['cawavehuge'].count       # 4000000
BIG_TIMEOUT = 60.0


# every test of this module runs in pytest's thread with a module-wide preemptive context
pytestmark = pytest.mark.usefixtures('context')


@pytest.fixture(scope='module')
def chid(context):
    channels = Channels()
    yield channels['cawavehuge']
    channels.close()


def test_native_count(chid):
    assert ca.element_count(chid) == N == 4000000
    assert ca.field_type(chid) == ca.DBF.DOUBLE


def test_round_trip_get(chid):
    data = numpy.arange(N, dtype=numpy.float64) * 0.5 - 1000.0
    put_wait(chid, data, timeout=BIG_TIMEOUT)
    status, dbrvalue = ca.get(chid, use_numpy=True)
    assert status == ECA.NORMAL
    assert dbrvalue.count == N
    assert ca.pend_io(BIG_TIMEOUT) == ECA.NORMAL
    value = dbrvalue.get()
    assert isinstance(value, numpy.ndarray)
    assert value.dtype == numpy.float64 and value.shape == (N,)
    assert value.flags.owndata and value.flags.writeable
    assert numpy.array_equal(value, data)

    # the callback path (count 0: the server's current length, all of it)
    done = Collector()
    assert ca.get(chid, count=0, callback=done, use_numpy=True) == (ECA.NORMAL, None)
    ca.flush_io()
    assert done.wait(1, BIG_TIMEOUT)
    result = done.items[0]
    assert result['status'] == ECA.NORMAL
    assert result['count'] == N
    assert numpy.array_equal(result['value'], data)


def test_round_trip_int_array_and_list(chid):
    data = numpy.arange(N, dtype=numpy.int32)[::-1]
    put_wait(chid, data, timeout=BIG_TIMEOUT)
    status, dbrvalue = ca.get(chid, DBR.DOUBLE, use_numpy=True)
    assert ca.pend_io(BIG_TIMEOUT) == ECA.NORMAL
    value = dbrvalue.get()
    assert numpy.array_equal(value, data.astype(numpy.float64))
    # the same buffer formatted as a list
    dbrvalue.use_numpy = False
    as_list = dbrvalue.get()
    assert type(as_list) is list and len(as_list) == N
    assert as_list[0] == float(N - 1) and as_list[-1] == 0.0
    assert type(as_list[12345]) is float


def test_round_trip_subscription(chid):
    first = numpy.arange(N, dtype=numpy.float64)
    put_wait(chid, first, timeout=BIG_TIMEOUT)
    updates = Collector()
    status, evid = ca.create_subscription(chid, updates, use_numpy=True)
    assert status == ECA.NORMAL
    ca.flush_io()
    try:
        assert updates.wait(1, BIG_TIMEOUT), 'no initial update'
        update = updates.items[0]
        assert update['status'] == ECA.NORMAL
        assert update['type'] == DBR.DOUBLE
        assert update['count'] == N
        assert isinstance(update['value'], numpy.ndarray)
        assert update['value'].dtype == numpy.float64
        assert numpy.array_equal(update['value'], first)

        second = numpy.sqrt(numpy.arange(N, dtype=numpy.float64)) + 7.0
        put_wait(chid, second, timeout=BIG_TIMEOUT)
        assert updates.wait(2, BIG_TIMEOUT), 'no update after put'
        assert numpy.array_equal(updates.last['value'], second)
    finally:
        assert ca.clear_subscription(evid) == ECA.NORMAL
