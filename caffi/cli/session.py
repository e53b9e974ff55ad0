"""The Channel Access session of a command: a preemptive context, channels connected with a
bounded wait, reads with callbacks gathered within the timeout, and libca's exception reports."""
import collections
import threading

from .. import ca
from .status import CliError, exit_status


class Session(object):
    """A preemptive CA context for the command, with libca's exception reports collected."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.exceptions = []
        self._lock = threading.Lock()
        status = ca.create_context(True)
        if status != ca.ECA.NORMAL:
            raise CliError(f'cannot create a Channel Access context: {ca.message(status)}')
        self.context = ca.current_context()
        ca.add_exception_event(self._on_exception)
        self.chids = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _on_exception(self, report):
        with self._lock:
            self.exceptions.append(report)

    def exceptions_for(self, chid):
        with self._lock:
            return [r for r in self.exceptions if r['chid'] == chid]

    def connect(self, names):
        """Channels by name, connected within the timeout; raises CliError naming any missing."""
        chids, missing = self.connect_some(names)
        self.raise_if_missing(missing)
        return chids

    def raise_if_missing(self, missing):
        """A CliError naming the channels of *missing* (names) that did not connect, if any."""
        if missing:
            raise CliError(not_found_message(missing, self.timeout))

    def connect_some(self, names):
        """(connected chids by name, names that did not connect within the timeout)."""
        chids = collections.OrderedDict()
        for name in names:
            if name in chids:
                continue
            status, chid = ca.create_channel(name)
            if status != ca.ECA.NORMAL:
                raise CliError(f'{name}: cannot create a channel: {ca.message(status)}')
            chids[name] = chid
            self.chids.append(chid)
        ca.pend_io(self.timeout)
        missing = [name for name, chid in chids.items()
                   if ca.state(chid) != ca.ChannelState.CONN]
        for name in missing:
            del chids[name]
        return chids, missing

    def read(self, chids, chtype=None, count=None, use_numpy=False):
        """get() with callbacks on every channel; the callback dicts by name, within the timeout."""
        results = {}
        done = threading.Condition()

        def reader(name):
            def on_read(result):
                with done:
                    results[name] = result
                    done.notify_all()
            return on_read

        for name, chid in chids.items():
            status, _ = ca.get(chid, chtype, count, callback=reader(name), use_numpy=use_numpy)
            if status != ca.ECA.NORMAL:
                # a read of the native type (no chtype) cannot be refused for the command line
                code = exit_status(status, from_arguments=chtype is not None)
                raise CliError(f'{name}: read request failed: {ca.message(status)}'
                               + (f' ({chtype.name} on a {ca.field_type(chid).name} channel)'
                                  if status == ca.ECA.BADTYPE and chtype is not None else ''),
                               code)
        ca.flush_io()
        with done:
            done.wait_for(lambda: len(results) == len(chids), self.timeout)
        late = [name for name in chids if name not in results]
        if late:
            raise CliError(f'{", ".join(late)}: no reply to the read request within '
                           f'{self.timeout:g} s (timeout)')
        return results

    def close(self):
        for chid in self.chids:
            ca.clear_channel(chid)
        ca.destroy_context()


def not_found_message(names, timeout):
    which = ', '.join(names)
    return (f'{which}: not connected within {timeout:g} s (timeout): no server answered for '
            f'{"this PV" if len(names) == 1 else "these PVs"}; check the name, that the IOC runs '
            f'and EPICS_CA_ADDR_LIST')


def read_failure(name, result):
    status = result['status']
    return f'{name}: read failed: {ca.message(status)} ({getattr(status, "name", status)})'
