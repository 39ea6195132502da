"""Live events for several consumers: what `Mcu.events()` and `Phone.events()` return.

A subscription starts when `subscribe()` is called, not when the consumer first awaits it. (An async generator
would only register on its first `__anext__`, so an event arriving between `events = client.events()` and the
first `async for` step would be lost: a notification sent right after subscribing, a nod right after a card.)

    stream = broadcaster.subscribe()        # from now on nothing is missed
    ...                                      # trigger something
    async for event in stream: ...           # or: event = await stream.next()
    await stream.aclose()                    # or `async with broadcaster.subscribe() as stream:`

Each subscription holds at most `bound` events; a consumer that falls further behind loses the oldest, counted in
`Broadcaster.dropped` (memory stays bounded whatever the peer sends). Imports nothing of glassbridge.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType
from typing import Generic, TypeVar

__all__ = ["Broadcaster", "EventStream"]

T = TypeVar("T")


class EventStream(Generic[T]):
    """One consumer's view of a Broadcaster: an async iterator that is subscribed from creation until aclose()."""

    def __init__(self, owner: Broadcaster[T]) -> None:
        self._owner = owner
        self._queue: deque[T] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    def _push(self, event: T) -> None:
        if len(self._queue) >= self._owner.bound:
            self._queue.popleft()
            self._owner.dropped += 1
        self._queue.append(event)
        self._ready.set()

    def __aiter__(self) -> EventStream[T]:
        return self

    async def __anext__(self) -> T:
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    async def next(self) -> T:
        """The next event (waits for it)."""
        return await self.__anext__()

    async def aclose(self) -> None:
        """Unsubscribes; a consumer waiting in `async for` ends its loop."""
        if not self._closed:
            self._closed = True
            self._owner._remove(self)
            self._ready.set()

    async def __aenter__(self) -> EventStream[T]:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


class Broadcaster(Generic[T]):
    """Hands every published event to every current subscription (see the module docstring)."""

    def __init__(self, bound: int = 256) -> None:
        self.bound = bound
        self.dropped = 0
        self._streams: list[EventStream[T]] = []

    def subscribe(self) -> EventStream[T]:
        stream: EventStream[T] = EventStream(self)
        self._streams.append(stream)
        return stream

    def publish(self, event: T) -> None:
        for stream in list(self._streams):
            stream._push(event)

    @property
    def subscribers(self) -> int:
        return len(self._streams)

    def _remove(self, stream: EventStream[T]) -> None:
        if stream in self._streams:
            self._streams.remove(stream)
