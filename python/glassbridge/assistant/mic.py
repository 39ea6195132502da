"""The microphone has one reader: this router. It streams while someone needs it (captions, or the wake word
when enabled and the battery allows) and hands each 20 ms chunk to captions, or to the wake word and listening.

The firmware lights the capture LED while the microphone streams (ARCHITECTURE decision 9), so streaming only
when needed is a privacy matter too: with the wake word off and no captions, the microphone is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from glassbridge.protocol.errors import PeerError

if TYPE_CHECKING:
    from glassbridge.assistant.context import SkillContext

__all__ = ["MicRouter"]

log = logging.getLogger(__name__)
#: One chunk per 20 ms: the Opus frame and a multiple of the wake word's 10 ms feature step.
FRAME_MS = 20


class MicRouter:
    def __init__(self, ctx: SkillContext) -> None:
        self.ctx = ctx
        self._task: asyncio.Task[None] | None = None
        self.chunks = 0

    @property
    def streaming(self) -> bool:
        return self._task is not None and not self._task.done()

    def wanted(self) -> bool:
        state = self.ctx.state
        if state.captions_active:
            return True
        return state.wake_word_on_soc and state.streaming_allowed

    def update(self) -> None:
        """Starts or stops the stream to match wanted() (called whenever captions, battery or settings change)."""
        ctx = self.ctx
        if ctx.state.stopping:
            return
        if self.wanted() and not self.streaming:
            state = ctx.state
            ctx.timeline.mark("mic_on", captions=state.captions_active, wake_word=state.wake_word_enabled)
            self._task = asyncio.create_task(self._run(), name="assistant-mic")
        elif not self.wanted() and self.streaming:
            assert self._task is not None
            self._task.cancel()
            ctx.abort_listening("the microphone stopped")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        ctx = self.ctx
        stream = ctx.ports.mcu.microphone(FRAME_MS)
        try:
            async for chunk in stream:
                self.chunks += 1
                state = ctx.state
                if state.captions_active:
                    await ctx.feed_captions(chunk)
                elif state.wake_word_on_soc:
                    ctx.feed_wake_word(chunk)
        except asyncio.CancelledError:
            ctx.timeline.mark("mic_off")
            raise
        except PeerError as exc:
            log.warning("assistant: the microphone stream failed: %s", exc)
            ctx.timeline.mark("mic_failed", reason=str(exc))
            ctx.say_soon("Microphone", f"The microphone stopped: {exc}", icon="warning")
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()  # Mcu.microphone's finally turns the stream (and its LED) off
