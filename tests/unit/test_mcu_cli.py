"""`glassbridge mcu`: monitor's text lines are sentences (not Python reprs), and a baud or a time that is not a
finite number above 0 is refused before any port is opened (exit status 2, one line naming the option)."""

from __future__ import annotations

import pytest

from glassbridge.cli.main import main
from glassbridge.cli.mcu import describe
from glassbridge.mcu.events import (
    BatteryChanged,
    BatteryInfo,
    ButtonPressed,
    CaptureFailsafe,
    GestureDetected,
    McuConnected,
    McuDisconnected,
    McuRebooted,
    WakeWordHeard,
)


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (ButtonPressed("main", "double_tap", 12_345), "button main: double tap (MCU time 12.345 s)"),
        (GestureDetected("nod", 1_500, 87), "gesture: nod (87 % sure, MCU time 1.500 s)"),
        (BatteryChanged(BatteryInfo(12, 3650, True, "low"), 61_000),
         "battery: 12 %, 3650 mV, low, charging (MCU time 61.000 s)"),
        (BatteryChanged(BatteryInfo(80, 3990, False, "ok"), 2_000), "battery: 80 %, 3990 mV, ok (MCU time 2.000 s)"),
        (McuConnected("0.1.0", 7), "connected: firmware 0.1.0, boot #7"),
        (McuDisconnected("nothing heard from the MCU for the link timeout"),
         "disconnected: nothing heard from the MCU for the link timeout"),
        (McuRebooted(8, 3), "the MCU rebooted (boot #8); 3 unacknowledged messages were dropped"),
        (CaptureFailsafe(10_020, True, True, 50_000, 14_500),
         "fail-safe: the MCU switched camera and microphone off after 10.0 s without the SoC (link back after "
         "14.5 s)"),
        (CaptureFailsafe(10_000, False, True, 50_000, 11_000),
         "fail-safe: the MCU switched microphone off after 10.0 s without the SoC (link back after 11.0 s)"),
        (WakeWordHeard(65537, 0, 24000, 0.973, 61_250, 40_000),
         "wake word heard on the MCU (probability 0.973, 2.50 s into listening, MCU time 61.250 s); stream 65537"),
    ],
)
def test_monitor_prints_readable_lines(event: object, line: str) -> None:
    text = describe(event)
    assert text == line
    assert "(" + type(event).__name__ not in text and "BatteryInfo" not in text and "=" not in text


@pytest.mark.parametrize("command", ["status", "monitor"])
@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--baud", "0", "must be at least 1200, got 0"),
        ("--baud", "-9600", "must be at least 1200"),
        ("--baud", "fast", "expected a whole number"),
        ("--timeout", "-1", "must be more than 0, got -1"),
        ("--timeout", "0", "must be more than 0"),
        ("--timeout", "inf", "expected a finite number, got 'inf'"),
        ("--timeout", "nan", "expected a finite number, got 'nan'"),
    ],
)
def test_bad_rates_and_times_are_refused_before_the_port_is_opened(
    capsys: pytest.CaptureFixture[str], tmp_path: object, command: str, option: str, value: str, says: str
) -> None:
    code = main(["mcu", command, "--port", "/nonexistent/port", option, value])
    err = capsys.readouterr().err
    assert code == 2
    assert f"argument {option}: {says}" in err
    assert "/nonexistent/port" not in err  # refused before anything tried to open it


@pytest.mark.parametrize(("option", "value"), [("--duration", "-1"), ("--duration", "nan"), ("--count", "-2")])
def test_monitor_refuses_negative_or_endless_limits(capsys: pytest.CaptureFixture[str], option: str,
                                                    value: str) -> None:
    assert main(["mcu", "monitor", "--port", "/nonexistent/port", option, value]) == 2
    assert f"argument {option}:" in capsys.readouterr().err
