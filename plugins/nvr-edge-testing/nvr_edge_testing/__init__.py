"""nvr-edge's tools off the box: simulated cameras (`simcam`), `nvr-edge demo`, the
benchmarks (`bench`), and a pytest kit for plugin authors (`pytest_plugin`).

Not firmware: the image does not install this distribution. Kept free of imports here,
because `nvr-edge` loads its `cli` module on every command.
"""
