"""The `glassbridge` command (placeholder until the CLI lands)."""


def main(argv: list[str] | None = None) -> int:
    print("glassbridge: CLI not built yet")
    return 0
