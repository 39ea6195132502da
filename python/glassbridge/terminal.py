"""Reading a person's answer from the terminal inside an event loop. Nothing here imports the rest of the package.

A thread blocked in `sys.stdin.readline()` after a timeout would keep the process from exiting until someone
pressed Enter; so the line is read when the event loop sees stdin readable, and a cancelled or timed-out wait
leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import sys

__all__ = ["read_line"]


async def read_line() -> str:
    """The next line typed on stdin ("" at end of input). Cancel it, or wrap it in wait_for, to give up."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()
    fd = sys.stdin.fileno()

    def readable() -> None:
        if not answer.done():
            answer.set_result(sys.stdin.readline())

    loop.add_reader(fd, readable)
    try:
        return await answer
    finally:
        loop.remove_reader(fd)
