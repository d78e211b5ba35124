"""Session fixtures: one moto server (S3 and Secrets Manager) on 127.0.0.1 for every runnable-aws test.

How the server is found and started is in ``aws_server.py``. Each test that asks for ``aws`` starts from an
empty server (``POST /moto-api/reset``) holding one bucket.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator

import pytest
from aws_server import BUCKET, CREDENTIALS, Aws, start_moto, stop


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    saved = {key: os.environ.get(key) for key in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    process, endpoint = start_moto(tmp_path_factory.mktemp("moto") / "moto_server.log")
    try:
        yield endpoint
    finally:
        stop(process)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def aws(moto_endpoint: str) -> Aws:
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    server = Aws(moto_endpoint, BUCKET)
    server.client("s3").create_bucket(Bucket=BUCKET)
    return server
