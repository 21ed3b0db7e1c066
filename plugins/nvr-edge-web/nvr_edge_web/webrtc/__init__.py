"""WebRTC live view: the relay's H.264 passed through to browsers, signalled by WHEP."""
