"""Cards from the phone: notifications, navigation turns with arrows, payment and call prompts.

A prompt with `needs_response` (a payment, a ringing call) waits for the wearer's head: a nod confirms, a shake
dismisses, and the answer goes back with `phone.respond(id, confirm)`; the phone's outcome ("paid 23.50 EUR to
Cafe Lumen", "declined") is shown and said. Nobody answering within the prompt's timeout_ms (0: 30 s, the
proto's default) counts as dismissed on the phone; the glasses drop the prompt and say so. A newer prompt
replaces an older one (the phone times the older one out). Nods and shakes with no prompt waiting are ignored
(the pairing dialog listens to them on its own, through McuPairingUI).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from glassbridge.mcu.events import CardSpec
from glassbridge.protocol.errors import PeerError, RequestFailed
from glassbridge.phone.events import Card, NotificationEvent

if TYPE_CHECKING:
    from glassbridge.assistant.context import SkillContext

__all__ = ["CardSkill", "PendingPrompt", "card_for", "navigation_icon"]

#: glassbridge.proto Notification.timeout_ms: "0: 30 s".
DEFAULT_PROMPT_MS = 30_000
_ARROWS = ("arrow_left", "arrow_right", "arrow_up")


def navigation_icon(icon: str, text: str) -> str:
    """The arrow for a turn: the phone's icon when it sent an arrow, else read from the instruction."""
    if icon in _ARROWS:
        return icon
    words = text.lower().replace(",", " ").replace(".", " ").split()
    for word in words:  # the first direction named is the next turn ("turn right, then left")
        if word in ("left", "right"):
            return f"arrow_{word}"
    return "arrow_up"


def card_for(event: NotificationEvent, *, needs_response: bool) -> CardSpec:
    """The display card of a phone notification."""
    title = f"{event.app}: {event.title}" if event.app and event.title else (event.title or event.app)
    if event.kind == "navigation":
        return CardSpec(title=event.title or "Navigation", text=event.text, kind="navigation",
                        icon=navigation_icon(event.icon, f"{event.title} {event.text}"))
    if event.kind == "payment":
        hint = " Nod to pay, shake to decline." if needs_response else ""
        return CardSpec(title=title or "Payment", text=event.text + hint, kind="payment", icon="pay")
    if event.kind == "call":
        hint = " Nod to answer, shake to decline." if needs_response else ""
        return CardSpec(title=title or "Call", text=event.text + hint, kind="notification", icon="bluetooth")
    hint = " Nod to confirm, shake to dismiss." if needs_response else ""
    icon = event.icon if event.icon not in ("", "none") else "message"
    return CardSpec(title=title or "Notification", text=event.text + hint, kind="notification", icon=icon)


@dataclass
class PendingPrompt:
    notification_id: int
    kind: str
    title: str
    expiry: asyncio.Task[None] | None = None


class CardSkill:
    def __init__(self, ctx: SkillContext) -> None:
        self.ctx = ctx
        self.pending: PendingPrompt | None = None

    def on_notification(self, event: NotificationEvent) -> None:
        ctx = self.ctx
        needs = bool(getattr(event, "needs_response", False))  # the field arrives with the phone's issue-5 API
        timeout_ms = int(getattr(event, "timeout_ms", 0) or DEFAULT_PROMPT_MS)
        card = card_for(event, needs_response=needs)
        ctx.timeline.mark("notification", notification=event.notification_id, notification_kind=event.kind,
                          app=event.app, title=event.title, text=event.text, needs_response=needs)
        # Turns and prompts are said as well as shown (eyes on the road); messages are only shown.
        spoken = card.text if event.kind in ("navigation", "payment", "call") else ""
        ctx.spawn(self._show(card, spoken, event.notification_id), "notification card")
        if needs:
            self._replace_pending(PendingPrompt(event.notification_id, event.kind, card.title))
            assert self.pending is not None
            self.pending.expiry = ctx.spawn(self._expire(self.pending, timeout_ms / 1000), "prompt expiry",
                                            timer=True)

    async def _show(self, card: CardSpec, spoken: str, notification_id: int) -> None:
        await self.ctx.show(card, notification=notification_id)
        if spoken:
            await self.ctx.speak(spoken)

    def on_card(self, event: Card) -> None:
        """A card the phone composed itself: shown as it is."""
        self.ctx.timeline.mark("phone_card", card=event.card_id, card_kind=event.kind, title=event.title)
        card = CardSpec(title=event.title, text=event.text, kind=event.kind if event.kind != "unspecified" else "text",
                        icon=event.icon, ttl_ms=event.ttl_ms)
        self.ctx.spawn(self.ctx.show(card, phone_card=event.card_id), "phone card")

    def _replace_pending(self, prompt: PendingPrompt | None) -> None:
        old, self.pending = self.pending, prompt
        if old is not None and old.expiry is not None:
            old.expiry.cancel()

    async def _expire(self, prompt: PendingPrompt, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.pending is prompt:
            self.pending = None
            ctx = self.ctx
            ctx.timeline.mark("prompt_expired", notification=prompt.notification_id, seconds=seconds)
            what = "payment" if prompt.kind == "payment" else "call" if prompt.kind == "call" else "prompt"
            ctx.say_soon(prompt.title, f"No answer in {seconds:g} s: the {what} was declined.", icon="warning")

    def answer(self, *, confirm: bool) -> None:
        """A nod (confirm) or a shake (dismiss) for the waiting prompt."""
        ctx = self.ctx
        prompt = self.pending
        if prompt is None:
            ctx.timeline.mark("gesture_ignored", confirm=confirm, reason="no prompt waiting")
            return
        self._replace_pending(None)
        ctx.spawn(self._respond(prompt, confirm), "respond")

    async def _respond(self, prompt: PendingPrompt, confirm: bool) -> None:
        ctx = self.ctx
        limit = ctx.settings.assistant.answer_timeout_s
        ctx.timeline.mark("responding", notification=prompt.notification_id, confirm=confirm)
        try:
            outcome = await asyncio.wait_for(ctx.ports.phone.respond(prompt.notification_id, confirm), limit)
        except asyncio.TimeoutError:
            await ctx.notice(prompt.title, f"The phone did not take your answer in {limit:g} s.", icon="warning")
            return
        except RequestFailed as exc:
            await ctx.notice(prompt.title, f"The phone refused: {exc.peer_message or exc.code_name}.",
                             icon="warning")
            return
        except PeerError as exc:
            await ctx.notice(prompt.title, f"Your answer did not reach the phone: {exc}", icon="warning")
            return
        text = outcome or ("Confirmed." if confirm else "Declined.")
        ctx.timeline.mark("responded", notification=prompt.notification_id, confirm=confirm, outcome=outcome)
        kind = "payment" if prompt.kind == "payment" else "notification"
        await ctx.notice(prompt.title, text[0].upper() + text[1:] if text else text, kind=kind,
                         icon="pay" if kind == "payment" else "info")
