"""A script written for aioca 2.x: only aioca's documented names, nothing of caffi's.

tests/test_aio_loops.py runs it unchanged with `aioca` bound to caffi.aio
(`import caffi.aio as aioca`); with aioca installed it runs against aioca itself as well.

usage: aioca_script.py DOUBLE_PV STRING_PV WAVEFORM_PV MISSING_PV
"""
import asyncio
import sys

import numpy

import aioca
from aioca import (DBR_STRING, FORMAT_CTRL, FORMAT_TIME, CANothing, caget, cainfo, camonitor,
                   caput, connect)
from aioca.types import AugmentedValue, Dbr


async def main(double_pv, string_pv, waveform_pv, missing_pv):
    await connect([double_pv, string_pv, waveform_pv])
    await caput(double_pv, 7.25, wait=True)
    await caput(string_pv, 'from an aioca script', wait=True)
    await caput(waveform_pv, numpy.linspace(0, 1, 5), wait=True)

    value = await caget(double_pv, format=FORMAT_TIME)
    assert value == 7.25 and value.ok and value.name == double_pv
    print(f'{value.name} = {value} at {value.datetime:%Y-%m-%d} severity {value.severity}')
    ctrl = await caget(double_pv, format=FORMAT_CTRL)
    print(f'units {ctrl.units!r}, precision {ctrl.precision}')
    text, wave = await caget([string_pv, waveform_pv])
    assert text == 'from an aioca script' and isinstance(text, str)
    assert numpy.allclose(wave, numpy.linspace(0, 1, 5))
    as_text: Dbr = DBR_STRING
    assert await caget(double_pv, datatype=as_text) == '7.2500'

    try:
        await caget(missing_pv, timeout=0.5)
    except CANothing as nothing:
        print(f'as expected: {nothing}')
    else:
        raise AssertionError('a missing PV was read')
    results = await caget([double_pv, missing_pv], timeout=0.5, throw=False)
    assert results[0].ok and not results[1].ok

    updates = []
    done = asyncio.Event()

    def on_update(value: AugmentedValue, index: int) -> None:
        updates.append((index, value))
        if len(updates) >= 4:
            done.set()

    subscriptions = camonitor([double_pv, string_pv], on_update, all_updates=True)
    await caput(double_pv, 8.5, wait=True)
    await caput(string_pv, 'changed', wait=True)
    await asyncio.wait_for(done.wait(), 10)
    for subscription in subscriptions:
        subscription.close()
    assert (0, 8.5) in updates and (1, 'changed') in updates

    info = await cainfo(double_pv)
    print(info)
    print(f'{len(aioca.get_channel_infos())} channels; dropped {subscriptions[0].dropped_callbacks}')
    print('aioca script: OK')


if __name__ == '__main__':
    asyncio.run(main(*sys.argv[1:5]))
