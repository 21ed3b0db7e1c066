"""nvr-edge's object-storage archive tier: closed segments copied to an S3-compatible
bucket, verified, and recorded in the catalog."""

__version__ = "0.1.0"
