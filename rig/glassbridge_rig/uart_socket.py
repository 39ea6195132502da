"""The firmware's end of the emulated UART: a unix-socket client that reconnects whenever the MCU goes away.

QEMU exposes the MCU's UART as `-chardev socket,id=u0,path=SOCK,server=on,wait=off -serial chardev:u0`; the
host port's `--uart unix:SOCK` is a server of the same shape. Either may not exist yet (still starting), or
disappear and come back (QEMU or the host port restarted): the emulator keeps trying, and what the SoC sends
meanwhile is discarded and counted, as it would be by an MCU that is powered off.
"""

from __future__ import annotations

import asyncio
import os
import socket

_RETRY_FIRST_S = 0.005
_RETRY_MAX_S = 0.1  # a restarted MCU is reachable again within this long of its socket reappearing


class UartSocket:
    """A reconnecting unix-socket client with read/write that never raise for a lost peer.

    One task reads and one task writes (the emulator's two directions); only the reader closes a dead socket.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.connects = 0  # successful connections so far (1 after the first; more after MCU restarts)
        self._sock: socket.socket | None = None
        self._up = asyncio.Event()
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def start(self) -> None:
        self._wanted.set()
        self._task = asyncio.get_running_loop().create_task(self._maintain(), name=f"uart-socket {self.path}")

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._drop()

    async def wait_connected(self, timeout: float) -> None:
        """Wait until the firmware's socket accepted us; TimeoutError says where we were trying."""
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"the firmware's UART socket {self.path} did not accept a connection within "
                               f"{timeout:g} s") from None

    async def _maintain(self) -> None:
        """Connect, and connect again after each loss, with a short capped backoff."""
        loop = asyncio.get_running_loop()
        delay = _RETRY_FIRST_S
        while not self._closed:
            await self._wanted.wait()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, self.path)
            except (FileNotFoundError, ConnectionRefusedError, OSError):
                sock.close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
                continue
            delay = _RETRY_FIRST_S
            self._sock = sock
            self.connects += 1
            self._wanted.clear()
            self._up.set()

    def _drop(self) -> None:
        """The peer is gone: forget the socket and let `_maintain` reconnect."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._up.clear()
        if not self._closed:
            self._wanted.set()

    async def read(self, max_bytes: int) -> bytes:
        """The next bytes from the MCU; waits across disconnections."""
        loop = asyncio.get_running_loop()
        while True:
            sock = self._sock
            if sock is None:
                await self._up.wait()
                continue
            try:
                data = await loop.sock_recv(sock, max_bytes)
            except OSError:
                data = b""
            if data:
                return data
            if self._sock is sock:
                self._drop()

    async def write(self, data: bytes) -> int:
        """Send bytes to the MCU; waits while its socket buffer is full. Returns len(data), or 0 if the MCU is
        not connected (the bytes are then discarded, as by a powered-off MCU)."""
        sock = self._sock
        if sock is None:
            return 0
        try:
            await asyncio.get_running_loop().sock_sendall(sock, data)
        except OSError:
            # Only the reader closes the socket (closing it under a pending sock_recv would leave a stale fd in
            # the selector); shutting it down wakes that reader with EOF, and it drops and reconnects.
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return 0
        return len(data)
