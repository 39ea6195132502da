"""D-Bus signatures as typing.Annotated types, so dbus-fast reads the signature and mypy the Python type.

(dbus-fast also accepts bare signature strings as annotations, which mypy cannot check.) A method that returns
nothing has no return annotation at all: dbus-fast would read "-> None" as a reply signature.
"""

from __future__ import annotations

from typing import Annotated, Any

from dbus_fast import Variant
from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusInt16,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt16,
    DBusUInt32,
)

__all__ = [
    "DBusBool",
    "DBusBytes",
    "DBusDict",
    "DBusFdMtu",
    "DBusInt16",
    "DBusManufacturerData",
    "DBusObjectPath",
    "DBusPathList",
    "DBusStr",
    "DBusStrList",
    "DBusUInt16",
    "DBusUInt32",
]

DBusStrList = Annotated[list[str], DBusSignature("as")]
DBusPathList = Annotated[list[str], DBusSignature("ao")]
#: ManufacturerData: company id -> Variant("ay", data)
DBusManufacturerData = Annotated[dict[int, Variant], DBusSignature("a{qv}")]
#: AcquireWrite/AcquireNotify's reply: (unix fd, ATT_MTU)
DBusFdMtu = Annotated[list[Any], DBusSignature("hq")]
