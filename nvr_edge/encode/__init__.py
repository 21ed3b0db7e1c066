"""Video encoders: offered by plugins (`nvr_encoders`), probed by test-encoding in a child
process, ranked, and used through an `EncoderSession` that falls back at run time.

A foundation facility: the camera worker (MJPEG cameras) and the live side (lighter
renditions) stand on it, so it imports nothing above `nvr_edge`'s plain modules."""
