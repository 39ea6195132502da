"""Power: what the glasses give up as the battery runs down, and saying so.

low       smaller photos for the phone ([camera] low_battery_*) and at most one per [power] low_min_interval_s
critical  captions and the wake word's microphone stop ([power] critical_stop_streaming); questions by tap work
back to ok: full-size photos, the wake word listens again
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from glassbridge.mcu.events import BatteryInfo

if TYPE_CHECKING:
    from glassbridge.assistant.context import SkillContext

__all__ = ["PowerSkill"]


class PowerSkill:
    def __init__(self, ctx: SkillContext) -> None:
        self.ctx = ctx
        self.level = "ok"
        self.percent: int | None = None

    @property
    def streaming_allowed(self) -> bool:
        return not (self.level == "critical" and self.ctx.settings.power.critical_stop_streaming)

    def photo_size(self) -> tuple[int, int, int]:
        """(max width, max height, JPEG quality) of the photo for the phone at the current battery level."""
        c, p = self.ctx.settings.camera, self.ctx.settings.power
        if self.level in ("low", "critical") and p.low_smaller_frames:
            return c.low_battery_width, c.low_battery_height, c.low_battery_quality
        return c.width, c.height, c.quality

    def capture_refusal(self, last_capture: float | None) -> str:
        """"" when a photo may be taken now, else the sentence that says why not (low battery rate limit)."""
        interval = self.ctx.settings.power.low_min_interval_s
        if self.level == "ok" or interval <= 0 or last_capture is None:
            return ""
        wait = interval - (self.ctx.clock() - last_capture)
        if wait <= 0:
            return ""
        return f"Battery low: one photo every {interval:g} s. Ask again in {max(wait, 0.1):.1f} s."

    def on_battery(self, info: BatteryInfo) -> None:
        ctx = self.ctx
        old, self.level, self.percent = self.level, info.level, info.percent
        ctx.timeline.mark("battery", percent=info.percent, level=info.level, charging=info.charging)
        if info.level == old:
            return
        settings = ctx.settings
        if info.level == "critical":
            stopped = []
            if settings.power.critical_stop_streaming:
                if ctx.state.captions_active:
                    ctx.stop_captions("the battery is critical", announce=False)
                    stopped.append("captions")
                if ctx.state.wake_word_enabled:
                    stopped.append("the wake word")
                ctx.update_microphone()
            off = f": {' and '.join(stopped)} {'are' if len(stopped) > 1 else 'is'} off" if stopped else ""
            ctx.say_soon("Battery critical", f"Battery at {info.percent}%{off}. Charge the glasses soon.",
                         icon="warning")
        elif info.level == "low":
            smaller = " sending smaller photos" if settings.power.low_smaller_frames else ""
            rate = (f", at most one every {settings.power.low_min_interval_s:g} s"
                    if settings.power.low_min_interval_s > 0 else "")
            ctx.say_soon("Battery low", f"Battery at {info.percent}%:{smaller}{rate}.".replace(":.", "."),
                         icon="warning")
            ctx.update_microphone()
        else:
            ctx.say_soon("Battery", f"Battery at {info.percent}%: back to full-size photos.")
            ctx.update_microphone()
