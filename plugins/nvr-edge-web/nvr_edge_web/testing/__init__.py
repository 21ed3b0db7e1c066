"""Helpers for tests and benchmarks of the web plugin: headless Chromium over the DevTools
protocol (`cdp`) and WHEP viewers that receive without decoding (`whep_load`). Not used
by the appliance itself."""
