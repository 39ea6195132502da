"""The simulated BLE rig: a process with the radio, and `BleRig`, the harness the tests and `make demo` use.

There is no Bluetooth in the kernel of the test machines, so the whole radio lives in one process,
`python -m glassbridge_rig.ble_rig.process --workdir DIR`, on a `TimedLink` (glassbridge_rig.ble_timing):

    glasses' adapter   bumble TimedController + Host + Device, exported on D-Bus as BlueZ (glassbridge_rig.bluez)
                       on the bus of DBUS_SYSTEM_BUS_ADDRESS: bleak's unmodified BlueZ backend drives it
    phone slot(s)      bare TimedControllers, each behind a unix socket speaking HCI (H4) as bumble's
                       `unix-server:` transport does: `glassbridge companion --transport unix:PATH` attaches to it
                       exactly as it attaches to a USB dongle on a laptop (`--transport usb:0`)
    impostor           an in-process bumble Device advertising the glassbridge service under the companion's name,
                       switched on and off over ctl: from a new address, or claiming the companion's identity
                       address (without its keys)
    ctl                a unix socket, one JSON object per line each way (see `process.Rig.command`)

When the rig is up it writes DIR/rig.json (socket paths) and prints one line `READY {json}` on stdout.

`BleRig` starts the private bus, the rig process and the companion process, waits for each to be ready (with
timeouts and errors that quote the process's log), and ends every process by its pid, whatever happens:

    with BleRig(tmp_path) as rig:
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = rig.bus_address     # or subprocess env=rig.env
        rig.ctl({"cmd": "drop"})                                     # the radio link lost
        rig.companion_ctl({"cmd": "status"})

The two run in different processes and are different modules: process.py (bumble, the BlueZ look-alike, the
impostor, ctl) runs only in the rig's process; harness.py (BleRig, RigProcess) runs in the test's, the CLI's or
the demo's process and imports no bumble, so that driving the rig costs neither bumble's import nor its event
loop there. They share only contract.py: the command line, the socket names, the READY line and the addresses.
This package exports the harness; nothing here imports process.py.
"""

from __future__ import annotations

from glassbridge_rig.ble_rig.contract import DEFAULT_COMPANION_NAME, GLASSES_ADDRESS
from glassbridge_rig.ble_rig.harness import BleRig, BleRigError, RigProcess

__all__ = ["DEFAULT_COMPANION_NAME", "GLASSES_ADDRESS", "BleRig", "BleRigError", "RigProcess"]
