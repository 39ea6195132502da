"""What the BLE rig's harness and its process agree on: how the process is started, the sockets it makes, the
line that says it is up, and the addresses both sides quote.

Apart from both so that neither imports the other: the harness (harness.py) must not import bumble, on which the
process (process.py) is built.
"""

from __future__ import annotations

__all__ = [
    "CTL_SOCKET",
    "DEFAULT_COMPANION_NAME",
    "GLASSES_ADDRESS",
    "PROCESS_MODULE",
    "READY",
    "RIG_JSON",
    "phone_socket",
]

#: The glasses' adapter: a static random address (two top bits set), which it connects from and distributes as its
#: identity when bonding. (A public address in the controller would make bumble's SMP distribute that one while
#: connections come from the random one: the peer could never find the bond again.)
GLASSES_ADDRESS = "C6:1A:55:60:0B:01"
#: Name the companion advertises by default (glassbridge companion --name); the impostor borrows it.
DEFAULT_COMPANION_NAME = "glassbridge-companion"
#: The rig process: `python -m PROCESS_MODULE --workdir DIR [--sockdir DIR] [--timing JSON] [--slots N]
#: [--companion-name NAME]` (process.main).
PROCESS_MODULE = "glassbridge_rig.ble_rig.process"
#: Prefix of the line the process prints on stdout once every socket is up, followed by the rig.json object.
READY = "READY "
#: Written into the workdir when the rig is up: pid, ctl and phone socket paths, the glasses' address.
RIG_JSON = "rig.json"
#: The rig's ctl socket, in the socket directory.
CTL_SOCKET = "rig.ctl"


def phone_socket(index: int) -> str:
    """File name of phone slot `index`'s HCI socket, in the socket directory."""
    return f"phone{index}.hci"
