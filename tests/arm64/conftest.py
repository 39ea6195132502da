"""tests/arm64 runs only inside the arm64 rootfs (`make test-arm64`, scripts/arm64/test.sh), where
$GLASSBRIDGE_PARITY_REFERENCE names the x86_64 results written on the host by `python -m tests.arm64.parity write`
in the same run. On the host itself there is nothing to compare with, so the folder is not collected (rather than
collected and skipped, which CI counts as a failure)."""

from __future__ import annotations

import os
import platform

collect_ignore = [] if os.environ.get("GLASSBRIDGE_PARITY_REFERENCE") and platform.machine() == "aarch64" else [
    "test_parity.py"]
