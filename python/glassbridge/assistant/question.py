"""A question, as the skills pass it around: the ask skill answers it, the offline queue keeps it for later,
the wake word records one, the loop makes one of a tap.

    Question.look(3, clock())        # main tap: "What am I looking at?" (task describe)
    Question.sign(4, clock())        # capture tap: "What does this sign say?" (task read_text)
    Question.voice(5, clock(), pcm)  # the wake word's recording (task ask; the phone recognises it)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AnswerTimeout", "Question"]


class AnswerTimeout(Exception):
    """The phone did not finish answering within [assistant] answer_timeout_s."""


@dataclass
class Question:
    """One question: what triggered it, its text (empty for a recorded one) and the phone task."""

    number: int
    source: str  # "tap", "sign", "voice"
    text: str
    task: str  # glassbridge.proto AssistantTask: ask, describe, read_text
    asked_at: float  # on the assistant's clock
    pcm: bytes | None = None  # the recorded question (wake word), PCM16 16 kHz

    @classmethod
    def look(cls, number: int, now: float) -> Question:
        return cls(number, "tap", "What am I looking at?", "describe", now)

    @classmethod
    def sign(cls, number: int, now: float) -> Question:
        return cls(number, "sign", "What does this sign say?", "read_text", now)

    @classmethod
    def voice(cls, number: int, now: float, pcm: bytes) -> Question:
        return cls(number, "voice", "", "ask", now, pcm)

    @property
    def title(self) -> str:
        return self.text or "Your question"
