"""`Companion`: the phone side of the glassbridge phone link, in one object.

    companion = Companion(state_dir, name="glassbridge-companion", confirm="auto")
    await companion.start(hci_source, hci_sink)     # a bumble transport's source/sink, or a LocalLink controller
    print(companion.identity.address)               # the static random identity the glasses bond with
    ...                                             # glasses connect, pair, and talk over the link
    companion.status()                              # connections, link sessions, pairings, transfers
    await companion.command({"cmd": "notify", ...}) # the control-socket commands (ctl.py)
    await companion.stop()

It joins the pieces: `server.CompanionServer` (bumble: GATT service, security, privacy, connections), one
`session.LinkSession` per bonded glasses identity (kept across reconnections), `app.CompanionApp` (transfers,
assistant, captions) and a `brain.Brain` (default `OfflineBrain`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from glassbridge.companion.app import CompanionApp
from glassbridge.companion.brain import Brain, OfflineBrain
from glassbridge.companion.engine import IMPLEMENTATION
from glassbridge.companion.identity import Identity, keystore_path, load_or_create_identity
from glassbridge.companion.server import CompanionServer, ConnectionState
from glassbridge.companion.session import LinkSession
from glassbridge.companion.speech import Recogniser
from glassbridge.companion.transfers import TransferStore
from glassbridge.protocol.gatt import MIN_ATT_MTU, ServiceInfoData, encode_service_info, frame_limit
from glassbridge.protocol.link import LinkEvent
from glassbridge.protocol.messages import pb

__all__ = ["Companion", "ConfirmPolicy", "DEFAULT_NAME"]

log = logging.getLogger(__name__)

DEFAULT_NAME = "glassbridge-companion"
ConfirmPolicy = Literal["auto", "refuse", "ask"]
#: ask(peer, number) -> accepted: how "--confirm ask" asks its user (the CLI prompts on the terminal).
Ask = Callable[[str, int], Awaitable[bool]]

_NOTIFICATION_KINDS = {n.removeprefix("NOTIFICATION_KIND_"): v for n, v in pb.NotificationKind.items() if v}
_ICONS = {n.removeprefix("ICON_"): v for n, v in pb.Icon.items()}


def _app_version() -> str:
    try:
        from glassbridge import __version__

        return f"companion {__version__}"[:31]
    except ImportError:
        return "companion"


class Companion:
    def __init__(
        self,
        state_dir: str | Path,
        *,
        name: str = DEFAULT_NAME,
        confirm: ConfirmPolicy = "auto",
        mtu: int = 517,
        rpa_timeout: float = 900.0,
        brain: Brain | None = None,
        retention_s: float = 900.0,
        ask: Ask | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        recogniser: Recogniser | Callable[[], Recogniser] | None = None,
    ) -> None:
        if confirm not in ("auto", "refuse", "ask"):
            raise ValueError(f"confirm policy {confirm!r}: use auto, refuse or ask")
        self.state_dir = Path(state_dir)
        self.name = name
        self.confirm: ConfirmPolicy = confirm
        self.mtu = mtu
        self.rpa_timeout = rpa_timeout
        self.brain: Brain = brain or OfflineBrain()
        self.pairings: list[dict[str, Any]] = []
        self.sessions: dict[str, LinkSession] = {}
        self.identity: Identity = load_or_create_identity(self.state_dir)
        self.app_version = _app_version()
        # Notifications, media controls and payment prompts are the phone's own (ctl-driven here), whatever the brain.
        self.capabilities = (self.brain.capabilities | pb.CAPABILITY_NOTIFICATIONS | pb.CAPABILITY_NAVIGATION
                             | pb.CAPABILITY_MEDIA_CONTROL | pb.CAPABILITY_PAYMENTS)
        self._ask = ask
        self._on_event = on_event or (lambda _e: None)
        self.transfers = TransferStore(retention_s=retention_s)
        self.app = CompanionApp(self.brain, self.transfers, notify_event=self._on_event, recogniser=recogniser)
        self.server: CompanionServer | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------------

    async def start(self, hci_source: Any, hci_sink: Any) -> None:
        """Power on the controller behind source/sink, load the bonds, advertise. Returns once advertising."""
        self.server = CompanionServer(
            self.identity, hci_source, hci_sink,
            keystore_file=str(keystore_path(self.state_dir)), name=self.name, max_mtu=self.mtu,
            rpa_timeout=self.rpa_timeout, decide=self._decide, service_info=self._service_info,
            on_frame=self._on_frame, on_subscribed=self._on_subscribed, on_disconnected=self._on_disconnected)
        await self.server.start()
        log.info("companion %s advertising as %s (identity %s)", self.name, self.server.device.random_address,
                 self.identity.address)

    async def stop(self) -> None:
        await self.app.close()
        close = getattr(self.brain, "close", None)
        if close is not None:  # the openai brain's HTTP client
            await close()
        for session in self.sessions.values():
            await session.close()
        if self.server is not None:
            await self.server.stop()

    @property
    def _srv(self) -> CompanionServer:
        if self.server is None:
            raise RuntimeError("the companion is not started (call start() first)")
        return self.server

    # ---- pairing --------------------------------------------------------------------------------------------

    async def _decide(self, peer: str, number: int, method: str) -> bool:
        if method == "passkey_display":
            accepted = True  # the wearer types it on the glasses; nothing to confirm on the phone
        elif self.confirm == "auto":
            accepted = True
        elif self.confirm == "ask" and self._ask is not None:
            accepted = await self._ask(peer, number)
        else:
            accepted = False
        record = {"peer": peer, "number": number, "digits": f"{number:06d}", "method": method, "accepted": accepted}
        self.pairings = (self.pairings + [record])[-32:]
        log.info("pairing with %s: %s %06d, %s", peer, method, number, "accepted" if accepted else "refused")
        self._on_event({"event": "pairing", **record})
        return accepted

    def _service_info(self, max_frame: int) -> bytes:
        return encode_service_info(ServiceInfoData(1, 1, self.capabilities, self.app_version, max_frame))

    # ---- frames <-> link sessions ---------------------------------------------------------------------------

    def _bind(self, state: ConnectionState, session: LinkSession) -> None:
        """Send this session's frames to this connection (it is secure and subscribed)."""
        if state.subscribed:
            session.attach(state, lambda frame: self._srv.send_frame(state, frame),
                           frame_limit(max(state.connection.att_mtu, MIN_ATT_MTU)))

    def _on_frame(self, state: ConnectionState, frame: bytes) -> None:
        session = self.sessions.get(state.identity)
        if session is None:
            mtu = state.connection.att_mtu
            if mtu < MIN_ATT_MTU:
                self._srv.frames_dropped += 1
                log.warning("frame from %s before the MTU exchange (ATT_MTU %d): dropped; the glasses must "
                            "exchange the MTU first (SPEC.md 16.4)", state.identity, mtu)
                return
            # SPEC 16.4: the link is created when the first frame arrives on a connection that has none.
            session = LinkSession(state.identity, frame_limit(mtu), on_event=self._on_link_event,
                                  capabilities=self.capabilities, app_version=self.app_version)
            self.sessions[state.identity] = session
            self._bind(state, session)
        elif not session.writes_to(state):
            self._bind(state, session)
        session.receive(frame)

    def _on_subscribed(self, state: ConnectionState, subscribed: bool) -> None:
        session = self.sessions.get(state.identity)
        if session is None:
            return
        if subscribed:
            self._bind(state, session)
        else:
            session.detach(state)

    def _on_disconnected(self, state: ConnectionState) -> None:
        session = self.sessions.get(state.identity)
        if session is not None:
            session.detach(state)

    def _on_link_event(self, session: LinkSession, event: LinkEvent) -> None:
        self.app.on_link_event(session, event)

    # ---- status and commands ----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        srv = self._srv
        links = {identity: s.status() for identity, s in self.sessions.items()}
        return {
            "identity": self.identity.address,
            "address": str(srv.device.random_address),
            "name": self.name,
            "link_implementation": IMPLEMENTATION,
            "confirm": self.confirm,
            "mtu": self.mtu,
            "bonded": srv.bonds.identities(),
            "connections": srv.connection_status(),
            "links": links,
            "frames_dropped": srv.frames_dropped + sum(s["stats"]["framing_errors"] for s in links.values()),
            "frames_refused_unsecured": dict(srv.refused),
            "notifications_dropped": srv.notifications_dropped,
            "fail_writes": srv.fail_writes,
            "pairings": list(self.pairings),
            "transfers": [t.summary() for t in self.transfers.all()],
            "decode_errors": self.app.decode_errors,
            "unknown_messages": self.app.unknown_messages,
            "link_events": list(self.app.link_events),
            "answer_delay_ms": self.app.answer_delay_ms,
            "brain": self.brain_status(),
            "media": list(self.app.media),
            "responses": list(self.app.responses),
            "captions": self.app.caption_status(),
            "questions": list(self.app.questions),
            "answers": list(self.app.answers),
            "audio_packets_ignored": self.app.audio_packets_ignored,
        }

    def brain_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.brain.name, "online": bool(self.brain.online)}
        for attr in ("base_url", "model"):  # the openai brain's endpoint (never its key)
            if hasattr(self.brain, attr):
                out[attr] = getattr(self.brain, attr)
        return out

    async def command(self, req: dict[str, Any]) -> dict[str, Any]:
        """One control-socket request (ctl.py); ValueError/KeyError/TypeError become {"ok": false}."""
        cmd = req["cmd"]
        srv = self._srv
        if cmd == "status":
            return {"ok": True, **self.status()}
        if cmd == "confirm":
            policy = req.get("policy")
            if policy not in ("auto", "refuse"):
                raise ValueError(f'policy must be "auto" or "refuse", got {policy!r}')
            self.confirm = policy
            return {"ok": True, "confirm": policy}
        if cmd == "fail-writes":
            count, error = int(req.get("count", 1)), int(req.get("error", 0x0E))
            if count < 0 or not 0x01 <= error <= 0xFF:
                raise ValueError("count must be >= 0 and error an ATT error code 1..255 (e.g. 14, Unlikely Error)")
            srv.fail_writes, srv.fail_error = count, error
            return {"ok": True, "fail_writes": count, "error": error}
        if cmd == "disconnect":
            return {"ok": True, "disconnected": await srv.disconnect_all()}
        if cmd == "notify":
            kind_name = str(req.get("kind", "MESSAGE")).upper()
            if kind_name not in _NOTIFICATION_KINDS:
                raise ValueError(f"kind {kind_name!r}: one of {', '.join(_NOTIFICATION_KINDS)}")
            icon_name = str(req.get("icon", "MESSAGE" if kind_name == "MESSAGE" else "NONE")).upper()
            if icon_name not in _ICONS:
                raise ValueError(f"icon {icon_name!r}: one of {', '.join(_ICONS)}")
            targets = [s for s in self.sessions.values() if s.attached]
            if not targets:
                return {"ok": False, "error": "no glasses connected and subscribed: nothing to notify"}
            needs_response = req.get("needs_response", False)
            if not isinstance(needs_response, bool):
                raise TypeError(f"needs_response must be true or false, got {needs_response!r}")
            timeout_ms = int(req.get("timeout_ms", 0))
            if not 0 <= timeout_ms <= 600_000:
                raise ValueError(f"timeout_ms {timeout_ms}: 0 (= 30 s) to 600000")
            ids = [self.app.notify(s, _NOTIFICATION_KINDS[kind_name], str(req.get("app", "")),
                                   str(req.get("title", "")), str(req.get("text", "")), _ICONS[icon_name],
                                   needs_response=needs_response, timeout_ms=timeout_ms,
                                   amount=str(req.get("amount", "")), merchant=str(req.get("merchant", "")))
                   for s in targets]
            return {"ok": True, "notification_ids": ids, "glasses": [s.identity for s in targets]}
        if cmd == "brain":
            return {"ok": True, **self.brain_status()}
        if cmd == "answer-delay":
            ms = int(req.get("ms", 0))
            if ms < 0:
                raise ValueError("ms must be >= 0")
            self.app.answer_delay_ms = ms
            return {"ok": True, "answer_delay_ms": ms}
        return {"ok": False, "error": f"unknown command {cmd!r}: status, confirm, fail-writes, disconnect, notify, "
                                      "brain, answer-delay"}

