"""bumble's JSON key store, kept private: keys.json is written 0600 in a 0700 folder (glassbridge.private).

bumble's `JsonKeyStore.save` opens its file with the process's umask (0644 under the usual 022), so any local user
could read every bond's LTK and IRK. `PrivateKeyStore` keeps bumble's format and atomic replace, writes through
`write_private`, and tightens a file that an earlier version left readable the first time it loads it.
"""

from __future__ import annotations

import json
from typing import Any

from bumble.keys import JsonKeyStore

from glassbridge.private import private_dir, tighten, write_private

__all__ = ["PrivateKeyStore"]


class PrivateKeyStore(JsonKeyStore):
    def __init__(self, namespace: str | None = None, filename: str | None = None) -> None:
        super().__init__(namespace, filename)
        private_dir(self.directory_name)
        tighten(self.filename)

    async def save(self, db: dict[str, dict[str, dict[str, Any]]]) -> None:
        write_private(self.filename, json.dumps(db, sort_keys=True, indent=4))
