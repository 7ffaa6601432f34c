"""Artifact roots to test against, and a look at them behind nbtrack's back.

``Backend`` is a root (a local directory or a prefix of a bucket on the moto
server of conftest's ``moto_s3``) with the blobs stored there read through
the filesystem or boto3, never through nbtrack. conftest's ``s3_root`` makes
one the store's ``NBTRACK_ARTIFACT_ROOT``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Backend:
    """An artifact root and a way to look at it without nbtrack."""

    name: str
    root: str
    bucket: str | None = None
    prefix: str = "blobs"
    s3: Any = None

    def blobs(self) -> dict[str, bytes]:
        """Every blob stored: sha256 -> content."""
        if self.bucket is None:
            base = Path(self.root)
            if not base.exists():
                return {}
            return {
                p.parent.name + p.name: p.read_bytes()
                for p in base.glob("??/*")
                if p.is_file() and len(p.parent.name + p.name) == 64
            }
        found = {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + "/"
        )
        for page in pages:
            for item in page.get("Contents", []):
                head, _, tail = item["Key"][len(self.prefix) + 1 :].partition("/")
                if len(head + tail) == 64:
                    body = self.s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"]
                    found[head + tail] = body.read()
        return found

    def overwrite(self, sha: str, data: bytes) -> None:
        """Replace a blob's content behind nbtrack's back."""
        if self.bucket is None:
            path = Path(self.root) / sha[:2] / sha[2:]
            path.chmod(0o644)
            path.write_bytes(data)
        else:
            key = f"{self.prefix}/{sha[:2]}/{sha[2:]}"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def remove(self, sha: str) -> None:
        """Delete a blob behind nbtrack's back."""
        if self.bucket is None:
            (Path(self.root) / sha[:2] / sha[2:]).unlink()
        else:
            self.s3.delete_object(Bucket=self.bucket, Key=f"{self.prefix}/{sha[:2]}/{sha[2:]}")


def s3_backend(endpoint: str, bucket: str, prefix: str = "blobs") -> Backend:
    """The root ``s3://bucket/prefix`` on the S3 server at ``endpoint``."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint)
    return Backend("s3", f"s3://{bucket}/{prefix}", bucket=bucket, prefix=prefix, s3=client)
