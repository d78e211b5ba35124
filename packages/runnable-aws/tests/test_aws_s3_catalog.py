"""The S3 catalog against a real S3 server: the conformance suite, multipart uploads and never half an item."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from aws_server import Aws
from runnable.testing import CatalogSuite
from runnable_aws.s3_catalog import S3Catalog


class TestS3Catalog(CatalogSuite):
    @pytest.fixture
    def catalog(self, aws: Aws) -> S3Catalog:
        return S3Catalog(**aws.settings(prefix="suite/catalog"))


def _pending_uploads(aws: Aws) -> list[str]:
    answer = aws.client("s3").list_multipart_uploads(Bucket=aws.bucket)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


def test_a_large_item_goes_up_in_parts_and_is_hashed_once(aws: Aws, tmp_path: Path) -> None:
    data = os.urandom(12 * 1024 * 1024 + 3)  # three 5 MiB parts, the last one short
    (tmp_path / "big.bin").write_bytes(data)
    catalog = S3Catalog(**aws.settings(part_size_mb=5))
    (entry,) = catalog.put("r1", "big.bin", tmp_path)
    assert entry.data_hash == hashlib.sha256(data).hexdigest()
    head = aws.client("s3").head_object(Bucket=aws.bucket, Key="catalog/r1/big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3"), "a multipart upload's ETag ends with its part count"
    catalog.get("r1", "big.bin", tmp_path / "back")
    assert (tmp_path / "back" / "big.bin").read_bytes() == data


def test_an_item_is_invisible_until_its_upload_completes(aws: Aws) -> None:
    catalog = S3Catalog(**aws.settings(part_size_mb=5))
    handle = catalog.open_write("r1", "growing.bin")
    handle.write(os.urandom(6 * 1024 * 1024))  # past one part: the multipart upload has begun
    assert _pending_uploads(aws) == ["catalog/r1/growing.bin"]
    assert catalog.list_files("r1", "**") == []
    handle.write(b"tail")
    handle.close()
    assert catalog.list_files("r1", "**") == ["growing.bin"]
    assert _pending_uploads(aws) == []


def test_an_error_while_writing_leaves_no_object_and_no_parts(aws: Aws) -> None:
    catalog = S3Catalog(**aws.settings(part_size_mb=5))
    with pytest.raises(RuntimeError, match="the step died"):
        with catalog.open_write("r1", "broken.bin") as handle:
            handle.write(os.urandom(6 * 1024 * 1024))
            raise RuntimeError("the step died")
    assert catalog.list_files("r1", "**") == []
    assert _pending_uploads(aws) == [], "the multipart upload must be aborted"
    small = S3Catalog(**aws.settings())
    with pytest.raises(RuntimeError):
        with small.open_write("r1", "small.bin") as handle:
            handle.write(b"half")
            raise RuntimeError("died before the only PUT")
    assert small.list_files("r1", "**") == []


def test_items_live_under_bucket_prefix_run(aws: Aws, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"1,2\n")
    catalog = S3Catalog(**aws.settings(prefix="team/catalog/"))
    (entry,) = catalog.put("run-7", "a.csv", tmp_path)
    assert entry.catalog_handler_location == f"s3://{aws.bucket}/team/catalog"
    body = aws.client("s3").get_object(Bucket=aws.bucket, Key="team/catalog/run-7/a.csv")["Body"].read()
    assert body == b"1,2\n"
