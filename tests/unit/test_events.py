"""glassbridge._events: subscriptions start at subscribe(), stay bounded, and end cleanly."""

from __future__ import annotations

import asyncio

from glassbridge._events import Broadcaster


def test_an_event_published_before_the_first_await_is_not_lost() -> None:
    async def body() -> None:
        hub: Broadcaster[int] = Broadcaster()
        stream = hub.subscribe()
        hub.publish(1)  # an async generator would not have registered yet: this one would be lost
        assert await asyncio.wait_for(stream.next(), 1) == 1
        await stream.aclose()

    asyncio.run(body())


def test_every_subscriber_gets_every_event_and_a_slow_one_loses_the_oldest() -> None:
    async def body() -> None:
        hub: Broadcaster[int] = Broadcaster(bound=3)
        fast, slow = hub.subscribe(), hub.subscribe()
        for i in range(5):
            hub.publish(i)
            assert await fast.next() == i
        assert [await slow.next() for _ in range(3)] == [2, 3, 4]
        assert hub.dropped == 2

    asyncio.run(body())


def test_aclose_unsubscribes_and_ends_a_waiting_loop() -> None:
    async def body() -> None:
        hub: Broadcaster[str] = Broadcaster()
        stream = hub.subscribe()
        seen: list[str] = []

        async def consume() -> None:
            async for event in stream:
                seen.append(event)

        task = asyncio.create_task(consume())
        hub.publish("a")
        await asyncio.sleep(0.01)
        await stream.aclose()
        await asyncio.wait_for(task, 1)  # the loop ended instead of waiting forever
        hub.publish("b")
        assert seen == ["a"] and hub.subscribers == 0

    asyncio.run(body())
