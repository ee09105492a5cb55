"""Remote storage for the delivery tests: S3 served by moto on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

BUCKET = "aigen-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def s3_server() -> Iterator[dict[str, Any]]:
    """A moto S3 server on loopback with one bucket; yields the storage OPTIONS."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        options = {
            "bucket_name": BUCKET, "endpoint_url": f"http://127.0.0.1:{port}",
            "access_key": "testing", "secret_key": "testing", "region_name": "us-east-1",
            "querystring_auth": True, "querystring_expire": 300,
        }
        boto3.client("s3", endpoint_url=options["endpoint_url"], aws_access_key_id="testing",
                     aws_secret_access_key="testing",
                     region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield options
    finally:
        server.stop()
