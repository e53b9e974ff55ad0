"""caput to a PV without write access, caget of one without read access: an IOC of its own
whose access security makes 'ro:x' read-only and 'ro:hidden' neither readable nor writable.
Prints one line per outcome; run by tests/test_aio_loops.py."""
import asyncio

from caffi._embedded_ioc import EmbeddedIoc

ACF = 'ASG(DEFAULT) {RULE(1, READ)}\nASG(RW) {RULE(1, READ) RULE(1, WRITE)}\nASG(NONE) {RULE(1, NONE)}\n'
DB = ('record(ao, "ro:x") {}\nrecord(ao, "ro:rw") {field(ASG, "RW")}\n'
      'record(ao, "ro:hidden") {field(ASG, "NONE")}\n')


async def main():
    from epicscorelibs.ca import cadef

    import caffi.aio as aioca
    info = await aioca.cainfo('ro:x')
    print('access', info.read, info.write)
    for wait in (False, True):
        try:
            await aioca.caput('ro:x', 1.0, wait=wait)
        except cadef.CAException as error:
            print('raised', type(error).__name__, error.status, wait)
        result = await aioca.caput('ro:x', 1.0, wait=wait, throw=False)
        print('returned', type(result).__name__, result.ok, result.errorcode, wait)
    print('writable', (await aioca.caput('ro:rw', 2.0, wait=True)).ok,
          await aioca.caget('ro:rw'))
    # libca refuses a read without read access at once: aioca raises that as CAException
    info = await aioca.cainfo('ro:hidden')
    print('hidden access', info.read, info.write)
    for pvs in ('ro:hidden', ['ro:rw', 'ro:hidden']):
        form = 'list' if isinstance(pvs, list) else 'single'
        try:
            await aioca.caget(pvs)
        except cadef.CAException as error:
            print('read raised', type(error).__name__, error.status, form)
        result = await aioca.caget(pvs, throw=False)
        print('read returned', form, *(value if value.ok else
                                       (type(value).__name__, value.errorcode)
                                       for value in (result if form == 'list' else [result])))


with EmbeddedIoc(DB, acf=ACF):          # exports the client environment before caffi's context
    asyncio.run(main())
