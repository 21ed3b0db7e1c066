"""A/B image updates (docs/UPDATES.md): the `update` command and its progress state.

request (arguments, refusal policy), download (the bundle over HTTP), rauc (the updater's
command line), progress (the state and the health gate's files), updater (one update on
its thread), plugin (the built-in plugin `update`)."""
