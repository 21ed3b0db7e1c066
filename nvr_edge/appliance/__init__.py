"""The main process: owns the camera workers, the catalog, the live hub and every thread."""
