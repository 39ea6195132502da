"""The one place that picks the companion's link engine (SPEC.md sections 2-9, packet profile).

The companion runs `glassbridge_companion.link.PyLink`: a second implementation of the link written from
SPEC.md alone, so that every test between glasses (the C engine, `glassbridge.protocol.link.Link`) and the
companion is a test between two independent implementations. Everything else imports `PeerLink` from here.
"""

from __future__ import annotations

from glassbridge_companion.link import PyLink as PeerLink

#: Which implementation PeerLink is (reported in the companion's status).
IMPLEMENTATION = "pylink"

__all__ = ["IMPLEMENTATION", "PeerLink"]
