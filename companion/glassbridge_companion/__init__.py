"""glassbridge_companion: the phone side of the phone link (SPEC.md 16), on bumble.

A GATT peripheral hosting the glassbridge service with the security SPEC 16.2 asks for (LE Secure Connections
numeric comparison, bonds, a resolvable private address), one link session per bonded glasses kept across
reconnections, resumable photo/audio transfers, and a pluggable brain (`OfflineBrain` answers honestly without a
cloud from what the glasses perceived; `OpenAIBrain` asks any OpenAI-compatible endpoint). Spoken questions and live
captions are recognised on the phone with pocketsphinx (speech.py, captions.py); media commands and payment or
call prompts are answered (app.py). Runs as `glassbridge companion --transport usb:0` on a laptop with a Bluetooth
dongle, or in the rig.

Its own distribution (`glassbridge-companion`, companion/pyproject.toml), so the glasses' package needs neither
bumble nor pocketsphinx. Imports only glassbridge.protocol, glassbridge.audio (Opus, resampling) and the small
shared helpers (glassbridge.private); bumble, pocketsphinx and openai are imported where they are needed. Adds the
`glassbridge companion` command through the `glassbridge.commands` entry point group.
"""

from __future__ import annotations

__all__ = ["Companion"]


def __getattr__(name: str) -> object:
    if name == "Companion":  # late: bumble is an optional dependency
        from glassbridge_companion.companion import Companion

        return Companion
    raise AttributeError(name)
