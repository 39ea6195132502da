"""The rig's commands: `glassbridge firmware`, `sim`, `demo` and `bench link|ble|e2e` (entry points of
rig/pyproject.toml; glassbridge.cli.plugins finds them)."""
