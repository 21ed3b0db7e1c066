"""Reading a copy back from the bucket by byte range: playback and download of a segment
whose file left the box (status "remote")."""

from __future__ import annotations

from collections.abc import Iterator

from minio import Minio

CHUNK = 256 * 1024  # what one read hands the web server: a viewer sees bytes early


class BucketSegment:
    """One object, read with ranged GETs (the store sends only the bytes asked for)."""

    def __init__(self, client: Minio, bucket: str, key: str) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        self.where = f"s3://{bucket}/{key}"

    def chunks(self, first: int, length: int) -> Iterator[bytes]:
        try:
            response = self.client.get_object(self.bucket, self.key, offset=first,
                                              length=length)
        except Exception as exc:  # S3Error, urllib3's connection errors: the store's side
            raise ConnectionError(f"{self.where} cannot be read: {_reason(exc)}") from None
        try:
            yield from response.stream(CHUNK)
        except Exception as exc:
            raise ConnectionError(f"{self.where} broke off: {_reason(exc)}") from None
        finally:
            response.close()
            response.release_conn()


def _reason(exc: Exception) -> str:
    return getattr(exc, "code", None) or type(exc).__name__
