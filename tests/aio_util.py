"""Helpers of the caffi.aio tests."""
import asyncio
import time


async def until(condition, timeout=5.0, message='condition not met'):
    """Await, polling the loop's clock, until condition() is true; AssertionError after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        await asyncio.sleep(0.01)
