"""An example third-party nvr-edge plugin (docs/PLUGINS.md, "Your first plugin")."""
