"""Where cameras come from: the config file's [[cameras]] today; plugins add more sources."""
