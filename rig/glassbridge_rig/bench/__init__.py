"""Benchmarks that need the rig: the MCU link through the emulated UART, the phone link over the BLE rig, tap to
answer card on the simulated glasses. The glasses' own benchmarks (kernels, pipeline) are in glassbridge.bench."""
