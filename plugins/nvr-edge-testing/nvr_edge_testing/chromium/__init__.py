"""Headless Chromium over the DevTools protocol (`cdp`), for the web plugin's tests and
the live bench."""
