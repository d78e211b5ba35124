"""The file-system catalog on fsspec: globs, nested folders, hashes, store_copy, any fsspec URL."""

from __future__ import annotations

import hashlib
import uuid

import fsspec
import pytest
from core_helpers import run_log, write
from runnable import Catalog, Pipeline, PythonTask
from runnable.defaults.file_system_catalog import FileSystemCatalog
from runnable.errors import CatalogError


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["file", "memory"])
def catalog(request, tmp_path):
    if request.param == "file":
        location = f"file://{tmp_path}/catalog"
    else:
        location = f"memory://catalog-{uuid.uuid4().hex}"
    return FileSystemCatalog(catalog_location=location)


def test_put_then_get_round_trips_nested_files_with_hashes(catalog, tmp_path):
    source = tmp_path / "work"
    write(source / "data" / "a.csv", "a,b\n1,2\n")
    write(source / "data" / "nested" / "deep" / "b.csv", "x\n")
    write(source / "data" / "notes.txt", "not a csv")
    put = catalog.put("run1", "data/**/*.csv", source)
    assert [e.name for e in put] == ["data/a.csv", "data/nested/deep/b.csv"]
    assert put[0].data_hash == _sha(b"a,b\n1,2\n")
    assert put[0].catalog_relative_path == "run1/data/a.csv" and put[0].stage == "put"

    target = tmp_path / "elsewhere"
    got = catalog.get("run1", "data/*", target)  # a matched folder brings everything below it
    assert sorted(e.name for e in got) == ["data/a.csv", "data/nested/deep/b.csv"]
    assert (target / "data" / "nested" / "deep" / "b.csv").read_text() == "x\n"
    assert {e.data_hash for e in got} == {e.data_hash for e in put}


def test_store_copy_false_records_the_hash_only(catalog, tmp_path):
    write(tmp_path / "big.bin", "large data that stays where it is")
    (entry,) = catalog.put("run2", "big.bin", tmp_path, store_copy=False)
    assert entry.data_hash == _sha(b"large data that stays where it is") and entry.store_copy is False
    assert catalog.list_files("run2", "*") == []


def test_missing_items_and_empty_globs_are_clear_errors(catalog, tmp_path):
    with pytest.raises(CatalogError, match=r"glob 'nothing\*' matched no file"):
        catalog.put("run3", "nothing*", tmp_path)
    with pytest.raises(CatalogError, match="nothing in the catalog of run 'run3' matches 'absent.csv'"):
        catalog.get("run3", "absent.csv", tmp_path)
    with pytest.raises(CatalogError, match="has no item 'x.pickle'"):
        catalog.open_read("run3", "x.pickle")


def test_a_pipeline_uses_a_memory_catalog_from_the_config(scratch):
    location = f"memory://pipeline-{uuid.uuid4().hex}"
    write(scratch / "config.yaml", f"catalog:\n  type: file-system\n  config: {{catalog_location: '{location}'}}\n")

    def produce():
        (scratch / "result.txt").write_text("42")

    Pipeline(steps=[PythonTask(name="produce", function=produce, catalog=Catalog(put=["result.txt"]))]).execute(
        configuration_file="config.yaml", run_id="mem"
    )
    fs = fsspec.filesystem("memory")
    assert fs.cat(f"{location}/mem/result.txt") == b"42"
    entry = run_log(scratch, "mem")["steps"]["produce"]["data_catalog"][0]
    assert entry["catalog_handler_location"] == location and entry["data_hash"] == _sha(b"42")


def test_compute_data_folder_per_step(scratch):
    def produce():
        write(scratch / "outputs" / "model.txt", "weights")

    def consume():
        assert (scratch / "inputs" / "model.txt").read_text() == "weights"

    Pipeline(
        steps=[
            PythonTask(
                name="produce", function=produce, catalog=Catalog(put=["model.txt"], compute_data_folder="outputs")
            ),
            PythonTask(
                name="consume", function=consume, catalog=Catalog(get=["model.txt"], compute_data_folder="inputs")
            ),
        ]
    ).execute(run_id="folders")
    assert run_log(scratch, "folders")["status"] == "SUCCESS"


def test_no_partial_item_is_visible_after_a_failed_write(tmp_path):
    catalog = FileSystemCatalog(catalog_location=str(tmp_path / "cat"))
    with pytest.raises(RuntimeError):
        with catalog.open_write("run", "half.bin") as handle:
            handle.write(b"some")
            raise RuntimeError("crash mid-write")
    assert catalog.list_files("run", "*") == []
    assert not any(p.is_file() for p in (tmp_path / "cat").rglob("*"))
