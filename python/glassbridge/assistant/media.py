"""Music and call controls: button gestures forwarded to the phone as MediaCommands ([media] gestures map)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from glassbridge.mcu.events import CardSpec
from glassbridge.protocol.errors import PeerError, RequestFailed

if TYPE_CHECKING:
    from glassbridge.assistant.context import SkillContext

__all__ = ["MediaSkill"]

#: A media card is a short confirmation; it clears itself after this long.
MEDIA_CARD_MS = 1500


class MediaSkill:
    def __init__(self, ctx: SkillContext) -> None:
        self.ctx = ctx

    async def send(self, action: str) -> bool:
        """Sends `action` (play_pause, next, ...) to the phone; the wearer hears why when it does not go."""
        ctx = self.ctx
        label = action.replace("_", " ")
        if not ctx.ports.phone.up:
            ctx.timeline.mark("media_failed", action=action, reason="phone not connected")
            await ctx.notice("Media", f"No {label}: the phone is not connected.", icon="warning")
            return False
        limit = ctx.settings.assistant.answer_timeout_s
        try:
            await asyncio.wait_for(ctx.ports.phone.media(action), limit)
        except asyncio.TimeoutError:
            reason = f"the phone did not confirm it in {limit:g} s"
        except RequestFailed as exc:
            reason = f"the phone refused ({exc.peer_message or exc.code_name})"
        except PeerError as exc:
            reason = str(exc)
        else:
            ctx.timeline.mark("media", action=action)
            await ctx.show(CardSpec(title="Media", text=label, kind="text", icon="info", ttl_ms=MEDIA_CARD_MS))
            return True
        ctx.timeline.mark("media_failed", action=action, reason=reason)
        await ctx.notice("Media", f"No {label}: {reason}.", icon="warning")
        return False
