"""`Companion`: the phone side of the glassbridge phone link, in one object.

    companion = Companion(state_dir, name="glassbridge-companion")
    await companion.start(hci_source, hci_sink)     # a bumble transport's source/sink, or a LocalLink controller
    print(companion.identity.address)               # the static random identity the glasses bond with
    companion.pending_pairings()                    # a pairing waits for a person: its digits, peer name, address
    companion.answer_pairing("123456")              # the digits the glasses show: accepted only if they match
    ...                                             # glasses connect, pair, and talk over the link
    companion.status()                              # connections, link sessions, pairings, transfers
    await companion.command({"cmd": "notify", ...}) # the control-socket commands (ctl.py)
    await companion.stop()

It joins the pieces: `server.CompanionServer` (bumble: GATT service, security, privacy, connections), one
`session.LinkSession` per bonded glasses identity (kept across reconnections), `app.CompanionApp` (transfers,
assistant, captions) and a `brain.Brain` (default `OfflineBrain`).

Pairing needs a person on both sides (SPEC.md 16.2). LE Secure Connections numeric comparison is only as good as
the comparison: a companion that said yes by itself would bond with any device nearby that also says yes. So a
numeric comparison waits, at most `pairing_timeout` seconds, for the person to answer with the digits the glasses
show (`answer_pairing`: the control socket's `pair-confirm`, or the terminal's prompt); the pairing is accepted only
when they equal the companion's own. No answer, other digits or `refuse_pairing` refuse it. The policy
"refuse" refuses every pairing (a phone that takes no new glasses). There is no accept-all mode.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bumble.device import Connection

from glassbridge_companion.app import CompanionApp
from glassbridge_companion.brain import Brain, OfflineBrain
from glassbridge_companion.engine import IMPLEMENTATION
from glassbridge_companion.identity import Identity, keystore_path, load_or_create_identity
from glassbridge_companion.server import CompanionServer, ConnectionState
from glassbridge_companion.session import LinkSession
from glassbridge_companion.speech import Recogniser
from glassbridge_companion.transfers import TransferStore
from glassbridge.protocol.gatt import MIN_ATT_MTU, ServiceInfoData, encode_service_info, frame_limit
from glassbridge.protocol.link import LinkEvent
from glassbridge.protocol.messages import pb

__all__ = ["Companion", "ConfirmPolicy", "DEFAULT_NAME", "PAIRING_TIMEOUT_S", "PendingPairing"]

log = logging.getLogger(__name__)

DEFAULT_NAME = "glassbridge-companion"
ConfirmPolicy = Literal["ask", "refuse"]
POLICIES = ("ask", "refuse")
#: How long a numeric comparison waits for the person (SMP's own transaction timeout is 30 s).
PAIRING_TIMEOUT_S = 30.0
#: ask(pending) -> what the person typed (the digits they see on the glasses, or "" / "n" for no): the terminal
#: prompt of `glassbridge companion` on a TTY. The control socket answers through answer_pairing as well.
Ask = Callable[["PendingPairing"], Awaitable[str]]
_DIGITS = re.compile(r"^\d{6}$")


@dataclass
class PendingPairing:
    """A numeric comparison waiting for the person: what the phone's screen shows."""

    id: int
    peer: str  # the address the glasses connected from (their identity when it resolves)
    name: str  # their GAP device name, "" when they did not tell
    number: int
    method: str
    deadline: float  # time.monotonic()
    answer: asyncio.Future[tuple[bool, str]] = field(repr=False)

    @property
    def digits(self) -> str:
        return f"{self.number:06d}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "peer": self.peer, "name": self.name, "digits": self.digits, "method": self.method,
                "expires_in_s": round(max(0.0, self.deadline - time.monotonic()), 1)}

    def decide(self, accepted: bool, reason: str) -> bool:
        if self.answer.done():
            return False
        self.answer.set_result((accepted, reason))
        return True

_NOTIFICATION_KINDS = {n.removeprefix("NOTIFICATION_KIND_"): v for n, v in pb.NotificationKind.items() if v}
_ICONS = {n.removeprefix("ICON_"): v for n, v in pb.Icon.items()}


def _app_version() -> str:
    """ServiceInfo.app_version: the software and its version (the glasses print it after the word "companion")."""
    try:
        from glassbridge import __version__

        return f"glassbridge {__version__}"[:31]
    except ImportError:
        return "glassbridge"


class Companion:
    def __init__(
        self,
        state_dir: str | Path,
        *,
        name: str = DEFAULT_NAME,
        confirm: ConfirmPolicy = "ask",
        pairing_timeout: float = PAIRING_TIMEOUT_S,
        mtu: int = 517,
        rpa_timeout: float = 900.0,
        brain: Brain | None = None,
        retention_s: float = 900.0,
        ask: Ask | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        recogniser: Recogniser | Callable[[], Recogniser] | None = None,
    ) -> None:
        if confirm not in POLICIES:
            raise ValueError(f"confirm policy {confirm!r}: use ask (a person compares the digits) or refuse")
        if not 0 < pairing_timeout <= 600:
            raise ValueError(f"pairing_timeout {pairing_timeout!r}: 0 < seconds <= 600")
        self.state_dir = Path(state_dir)
        self.name = name
        self.confirm: ConfirmPolicy = confirm
        self.pairing_timeout = pairing_timeout
        self._pending: dict[int, PendingPairing] = {}
        self._pairing_ids = itertools.count(1)
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
        self.app = CompanionApp(self.brain, self.transfers, notify_event=self._on_event, recogniser=recogniser,
                                authorized=self._bonded)
        self.server: CompanionServer | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------------

    async def start(self, hci_source: Any, hci_sink: Any) -> None:
        """Power on the controller behind source/sink, load the bonds, advertise. Returns once advertising."""
        self.server = CompanionServer(
            self.identity, hci_source, hci_sink,
            keystore_file=str(keystore_path(self.state_dir)), name=self.name, max_mtu=self.mtu,
            rpa_timeout=self.rpa_timeout, decide=self._decide, service_info=self._service_info,
            on_frame=self._on_frame, on_subscribed=self._on_subscribed, on_disconnected=self._on_disconnected,
            on_refused=self._on_refused, accepting=lambda: self.confirm != "refuse")
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

    async def _decide(self, connection: Connection, number: int, method: str) -> bool:
        peer = str(connection.peer_address)
        name = await _peer_name(connection)
        if method == "passkey_display":
            # The wearer types these digits on the glasses: the comparison is theirs (a stranger cannot see them).
            accepted, reason = True, "passkey shown for the glasses to type"
        elif self.confirm == "refuse":  # normally refused at the request already (security.StrictSession)
            accepted, reason = False, "the companion takes no new glasses (policy refuse)"
        else:
            accepted, reason = await self._ask_person(peer, name, number, method)
        self._record_pairing({"peer": peer, "name": name, "number": number, "digits": f"{number:06d}",
                              "method": method, "accepted": accepted, "reason": reason})
        return accepted

    async def _ask_person(self, peer: str, name: str, number: int, method: str) -> tuple[bool, str]:
        loop = asyncio.get_running_loop()
        pending = PendingPairing(next(self._pairing_ids), peer, name, number, method,
                                 time.monotonic() + self.pairing_timeout, loop.create_future())
        self._pending[pending.id] = pending
        log.warning("pairing request from %s (%s): the companion shows %s; answer with the digits the glasses "
                    "show within %g s", name or "a device without a name", peer, pending.digits,
                    self.pairing_timeout)
        self._on_event({"event": "pairing-request", **pending.to_dict()})
        prompt = loop.create_task(self._prompt(pending)) if self._ask is not None else None
        try:
            return await asyncio.wait_for(asyncio.shield(pending.answer), self.pairing_timeout)
        except asyncio.TimeoutError:
            return False, f"nobody compared the digits within {self.pairing_timeout:g} s"
        finally:
            self._pending.pop(pending.id, None)
            if prompt is not None:
                prompt.cancel()

    async def _prompt(self, pending: PendingPairing) -> None:
        assert self._ask is not None
        typed = await self._ask(pending)
        if typed.strip().lower() in ("", "n", "no"):
            pending.decide(False, "refused on the terminal")
        else:
            self.answer_pairing(typed, peer=pending.peer)

    def pending_pairings(self) -> list[dict[str, Any]]:
        """The comparisons waiting for the person: id, peer address, peer name, the six digits, seconds left."""
        return [p.to_dict() for p in self._pending.values() if not p.answer.done()]

    def answer_pairing(self, digits: str | int, *, peer: str | None = None) -> dict[str, Any]:
        """The person's answer: the six digits the glasses show. The pairing whose digits they are is accepted;
        digits that match none refuse the only pairing waiting (the screens differ: someone is in the middle).
        ValueError for something that is not six digits or when nothing waits."""
        typed = f"{digits:06d}" if isinstance(digits, int) else str(digits).strip()
        if not _DIGITS.match(typed):
            raise ValueError(f"digits {typed!r}: type the six digits the glasses show, e.g. 042917")
        waiting = [p for p in self._pending.values() if not p.answer.done()
                   and (peer is None or p.peer.upper() == peer.upper())]
        if not waiting:
            raise ValueError("no pairing waits for an answer" + (f" from {peer}" if peer else ""))
        for p in waiting:
            if p.digits == typed:
                p.decide(True, "the person confirmed the same digits")
                return {"ok": True, "accepted": True, "peer": p.peer, "name": p.name}
        if len(waiting) == 1:
            p = waiting[0]
            p.decide(False, f"the glasses showed {typed}, the companion {p.digits}")
            return {"ok": False, "accepted": False, "peer": p.peer,
                    "error": f"{typed} is not what the companion shows: pairing with {p.peer} refused"}
        return {"ok": False, "accepted": False,
                "error": f"no waiting pairing shows {typed}; name the peer (\"peer\") to refuse one"}

    def refuse_pairing(self, *, peer: str | None = None) -> int:
        """Refuses the waiting pairings (those of `peer` only, when given); returns how many."""
        n = 0
        for p in list(self._pending.values()):
            if peer is None or p.peer.upper() == peer.upper():
                n += p.decide(False, "refused by the person")
        return n

    def _on_refused(self, connection: Connection, reason: str) -> None:
        self._record_pairing({"peer": str(connection.peer_address), "name": "", "number": None, "digits": "",
                              "method": "refused before comparison", "accepted": False, "reason": reason})

    def _record_pairing(self, record: dict[str, Any]) -> None:
        self.pairings = (self.pairings + [record])[-32:]
        log.info("pairing with %s: %s %s, %s (%s)", record["peer"], record["method"], record["digits"],
                 "accepted" if record["accepted"] else "refused", record["reason"])
        self._on_event({"event": "pairing", **record})

    async def forget(self, identity: str) -> dict[str, Any]:
        """Forgets the bond of `identity` (their keys, their link session); they must pair again."""
        known = await self._srv.forget(identity)
        session = self.sessions.pop(identity.upper(), None)
        if session is not None:
            await session.close()
        return {"ok": known, "forgotten": identity.upper()} if known else {
            "ok": False, "error": f"no bond with {identity}; bonded: {', '.join(self._srv.bonds.identities()) or 'none'}"}

    def _service_info(self, max_frame: int) -> bytes:
        return encode_service_info(ServiceInfoData(1, 1, self.capabilities, self.app_version, max_frame))

    # ---- frames <-> link sessions ---------------------------------------------------------------------------

    def _bind(self, state: ConnectionState, session: LinkSession) -> None:
        """Send this session's frames to this connection (it is secure and subscribed)."""
        if state.subscribed:
            session.attach(state, lambda frame: self._srv.send_frame(state, frame),
                           frame_limit(max(state.connection.att_mtu, MIN_ATT_MTU)))

    def _bonded(self, session: LinkSession) -> bool:
        """The session's bond still stands (authenticated, the same keys): it may use the paid brain."""
        srv = self._srv
        return srv.bonds.authenticated(session.identity) and srv.bonds.fingerprint(session.identity) == session.bond

    def _session(self, state: ConnectionState) -> LinkSession | None:
        """The link session of this connection's glasses, if it belongs to the bond this connection is secured
        with. A session created under other keys (the bond was forgotten and made anew) is ended, never handed
        over: its queued messages were for whoever held the old bond."""
        session = self.sessions.get(state.identity)
        if session is not None and session.bond != self._srv.bonds.fingerprint(state.identity):
            log.warning("glasses %s: bonded with other keys than their link session's: the old session ends",
                        state.identity)
            del self.sessions[state.identity]
            session.detach(state)
            asyncio.get_running_loop().create_task(session.close())
            return None
        return session

    def _on_frame(self, state: ConnectionState, frame: bytes) -> None:
        session = self._session(state)
        if session is None:
            mtu = state.connection.att_mtu
            if mtu < MIN_ATT_MTU:
                self._srv.frames_dropped += 1
                log.warning("frame from %s before the MTU exchange (ATT_MTU %d): dropped; the glasses must "
                            "exchange the MTU first (SPEC.md 16.4)", state.identity, mtu)
                return
            # SPEC 16.4: the link is created when the first frame arrives on a connection that has none.
            session = LinkSession(state.identity, frame_limit(mtu), on_event=self._on_link_event,
                                  capabilities=self.capabilities, app_version=self.app_version,
                                  bond=self._srv.bonds.fingerprint(state.identity))
            self.sessions[state.identity] = session
            self._bind(state, session)
        elif not session.writes_to(state):
            self._bind(state, session)
        session.receive(frame)

    def _on_subscribed(self, state: ConnectionState, subscribed: bool) -> None:
        session = self._session(state)
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
            "pairing_timeout_s": self.pairing_timeout,
            "pending_pairings": self.pending_pairings(),
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
            "busy_refusals": self.app.busy_refusals,
            "unauthorized_questions": self.app.unauthorized,
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
            if policy not in POLICIES:
                raise ValueError(f'policy must be "ask" (a person compares the digits) or "refuse", got {policy!r}')
            self.confirm = policy
            return {"ok": True, "confirm": policy}
        if cmd == "pairing":
            return {"ok": True, "pending": self.pending_pairings()}
        if cmd == "pair-confirm":
            if "digits" not in req:
                raise KeyError("digits: the six digits the glasses show")
            return self.answer_pairing(str(req["digits"]), peer=req.get("peer"))
        if cmd == "pair-refuse":
            return {"ok": True, "refused": self.refuse_pairing(peer=req.get("peer"))}
        if cmd == "forget":
            identity = req.get("identity")
            if not isinstance(identity, str) or not identity:
                raise ValueError('forget needs "identity": the bonded glasses\' identity address (see status "bonded")')
            return await self.forget(identity)
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
        return {"ok": False, "error": f"unknown command {cmd!r}: status, pairing, pair-confirm, pair-refuse, forget, "
                                      "confirm, fail-writes, disconnect, notify, brain, answer-delay"}



async def _peer_name(connection: Connection, timeout: float = 1.5) -> str:
    """The central's GAP Device Name (one ATT Read By Type), for the pairing prompt; "" when it does not answer."""
    from bumble.gatt import GATT_DEVICE_NAME_CHARACTERISTIC

    try:
        values = await asyncio.wait_for(
            connection.gatt_client.read_characteristics_by_uuid(GATT_DEVICE_NAME_CHARACTERISTIC, None), timeout)
    except Exception as exc:  # no GAP service, refused, timed out, disconnected: the address still shows
        log.debug("device name of %s: %s", connection.peer_address, exc)
        return ""
    if not values:
        return ""
    name = bytes(values[0]).decode("utf-8", "replace")
    return "".join(c if c.isprintable() else "?" for c in name)[:48]  # a peer's bytes, shown to a person
