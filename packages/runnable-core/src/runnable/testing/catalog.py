"""The catalog suite: files go in and come back byte for byte, with the SHA-256 users rely on.

A catalog backend implements four primitives (``open_write``, ``open_read``, ``list_files``,
``location``); the base class builds globbing, copying and hashing on them. These tests hold the whole
to what a pipeline relies on, so a backend that overrides a higher-level method is held to it too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from runnable.errors import CatalogError
from runnable.services.catalog import BaseCatalog
from runnable.testing import tasks
from runnable.testing.harness import ServiceSuite, Workspace, missing_fixture, rebuilt, unique_run_id

# A small project tree: nested folders, an empty file, a name with a space, and one file larger than the
# 1 MiB chunk the base class streams in (so chunk boundaries are crossed).
FILES: dict[str, bytes] = {
    "data/a.csv": b"a,b\n1,2\n",
    "data/b.csv": b"x,y\n3,4\n",
    "data/nested/deep/c.csv": b"deep\n",
    "data/nested/notes.txt": b"not a csv",
    "empty.txt": b"",
    "name with spaces.txt": "unicode ✓\n".encode(),
    "model.bin": bytes(range(256)) * 10_000,
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_tree(folder: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return folder


class CatalogSuite(ServiceSuite):
    """Subclass it and provide a ``catalog`` fixture returning a configured, empty catalog::

    class TestMyCatalog(CatalogSuite):
        @pytest.fixture
        def catalog(self, tmp_path):
            return MyCatalog(root=str(tmp_path / "store"))
    """

    @pytest.fixture
    def catalog(self) -> BaseCatalog:
        missing_fixture(type(self).__name__, "catalog", "the catalog instance under test")
        raise AssertionError  # unreachable: missing_fixture fails the test

    @pytest.fixture
    def source(self, tmp_path: Path) -> Path:
        return write_tree(tmp_path / "source", FILES)

    # --- the shape of the service -------------------------------------------------------------------------

    def test_is_a_catalog_with_a_location(self, catalog: BaseCatalog) -> None:
        assert isinstance(catalog, BaseCatalog)
        assert isinstance(type(catalog).service_name, str) and type(catalog).service_name
        location = catalog.location()
        assert isinstance(location, str) and location, "location() is recorded in every catalog entry"

    # --- round trips --------------------------------------------------------------------------------------

    def test_put_then_get_round_trips_every_byte_and_hash(
        self, catalog: BaseCatalog, source: Path, tmp_path: Path, run_id: str
    ) -> None:
        put = catalog.put(run_id, "**", source)
        assert sorted(entry.name for entry in put) == sorted(FILES), "put must store every matched file"
        for entry in put:
            assert entry.stage == "put" and entry.store_copy
            assert entry.data_hash == sha256(FILES[entry.name]), f"{entry.name}: recorded hash is not its SHA-256"
            assert entry.catalog_relative_path == f"{run_id}/{entry.name}"
            assert entry.catalog_handler_location == catalog.location()

        target = tmp_path / "target"
        got = catalog.get(run_id, "**", target)
        assert sorted(entry.name for entry in got) == sorted(FILES)
        for entry in got:
            assert entry.stage == "get"
            assert (target / entry.name).read_bytes() == FILES[entry.name], f"{entry.name}: bytes changed"
            assert entry.data_hash == sha256(FILES[entry.name]), f"{entry.name}: hash on get is not its SHA-256"

    def test_items_are_read_back_exactly(self, catalog: BaseCatalog, source: Path, run_id: str) -> None:
        catalog.put(run_id, "**", source)
        for name, content in FILES.items():
            with catalog.open_read(run_id, name) as handle:
                assert handle.read() == content, f"{name}: open_read gave different bytes"

    def test_exact_names_keep_their_folders(self, catalog: BaseCatalog, tmp_path: Path, run_id: str) -> None:
        """Execution logs and executed notebooks are stored under exact, dotted, nested names."""
        names = {"first step.execution.log": b"ran\n", "branch.item-1.step.attempt-2.execution.log": b"again\n"}
        names["notebooks/out/report-out.ipynb"] = b"{}"
        for name, content in names.items():
            entry = catalog.put_bytes(run_id, name, content)
            assert entry.name == name and entry.data_hash == sha256(content)
        local = write_tree(tmp_path / "local", {"file.txt": b"from a file\n"})
        entry = catalog.put_file(run_id, "kept/file.txt", local / "file.txt")
        assert entry.data_hash == sha256(b"from a file\n")
        assert sorted(catalog.list_files(run_id, "**")) == sorted([*names, "kept/file.txt"])
        for name, content in names.items():
            with catalog.open_read(run_id, name) as handle:
                assert handle.read() == content

    def test_writing_an_item_again_keeps_the_latest(self, catalog: BaseCatalog, run_id: str) -> None:
        catalog.put_bytes(run_id, "data/model.pkl", b"first version")
        catalog.put_bytes(run_id, "data/model.pkl", b"second")
        assert catalog.list_files(run_id, "data/*") == ["data/model.pkl"]
        with catalog.open_read(run_id, "data/model.pkl") as handle:
            assert handle.read() == b"second"

    def test_an_item_appears_whole_when_closed(self, catalog: BaseCatalog, run_id: str) -> None:
        """A step reading the catalog while another writes must never get half a file."""
        handle = catalog.open_write(run_id, "growing.bin")
        handle.write(b"first half")
        assert catalog.list_files(run_id, "*") == [], "an item being written must not be listed"
        handle.write(b", second half")
        handle.close()
        assert catalog.list_files(run_id, "*") == ["growing.bin"]
        with catalog.open_read(run_id, "growing.bin") as read:
            assert read.read() == b"first half, second half"

    def test_items_outlive_the_instance_that_wrote_them(self, catalog: BaseCatalog, run_id: str) -> None:
        """A later step, a retry or another process reads the catalog through a new instance."""
        catalog.put_bytes(run_id, "shared/item.txt", b"kept")
        other = rebuilt(catalog)
        assert other.list_files(run_id, "shared/*") == ["shared/item.txt"]
        with other.open_read(run_id, "shared/item.txt") as handle:
            assert handle.read() == b"kept"

    def test_a_retry_copies_every_item_of_the_original_run(
        self, catalog: BaseCatalog, source: Path, run_id: str
    ) -> None:
        """``runnable retry`` starts the new run from the files of the failed one."""
        catalog.put(run_id, "**", source)
        retry = unique_run_id("retry")
        assert catalog.copy_run(run_id, retry) == len(FILES)
        assert sorted(catalog.list_files(retry, "**")) == sorted(FILES)
        for name, content in FILES.items():
            with catalog.open_read(retry, name) as handle:
                assert handle.read() == content, f"{name}: the copy differs"

    # --- globs and folders ---------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("pattern", "expected"),
        [
            ("data/*.csv", ["data/a.csv", "data/b.csv"]),
            ("data/**/*.csv", ["data/a.csv", "data/b.csv", "data/nested/deep/c.csv"]),
            ("data/nested", ["data/nested/deep/c.csv", "data/nested/notes.txt"]),
            ("*.txt", ["empty.txt", "name with spaces.txt"]),
            ("model.bin", ["model.bin"]),
            ("nothing*", []),
        ],
        ids=["star", "double-star", "folder", "top-level", "exact", "no-match"],
    )
    def test_globs_select_exactly_the_matching_items(
        self, catalog: BaseCatalog, source: Path, run_id: str, pattern: str, expected: list[str]
    ) -> None:
        catalog.put(run_id, "**", source)
        assert sorted(catalog.list_files(run_id, pattern)) == expected

    def test_get_recreates_nested_folders(
        self, catalog: BaseCatalog, source: Path, tmp_path: Path, run_id: str
    ) -> None:
        catalog.put(run_id, "data", source)
        target = tmp_path / "target"
        catalog.get(run_id, "data/nested", target)
        assert (target / "data/nested/deep/c.csv").read_bytes() == FILES["data/nested/deep/c.csv"]
        assert (target / "data/nested/notes.txt").read_bytes() == FILES["data/nested/notes.txt"]
        assert not (target / "data/a.csv").exists(), "get must bring only what the glob matched"

    def test_runs_do_not_see_each_others_items(self, catalog: BaseCatalog, source: Path, tmp_path: Path) -> None:
        first, second = unique_run_id("a"), unique_run_id("b")
        catalog.put(first, "data/*.csv", source)
        assert catalog.list_files(second, "**") == []
        with pytest.raises(CatalogError):
            catalog.get(second, "data/*.csv", tmp_path / "target")

    def test_store_copy_false_records_the_hash_and_stores_nothing(
        self, catalog: BaseCatalog, source: Path, run_id: str
    ) -> None:
        (entry,) = catalog.put(run_id, "model.bin", source, store_copy=False)
        assert entry.store_copy is False and entry.data_hash == sha256(FILES["model.bin"])
        assert catalog.list_files(run_id, "**") == []

    # --- the documented errors ------------------------------------------------------------------------------

    def test_a_missing_item_is_a_catalog_error(self, catalog: BaseCatalog, tmp_path: Path, run_id: str) -> None:
        with pytest.raises(CatalogError):
            catalog.open_read(run_id, "absent.pickle")
        with pytest.raises(CatalogError):
            catalog.get(run_id, "absent*.csv", tmp_path / "target")

    def test_a_put_glob_matching_no_file_is_a_catalog_error(
        self, catalog: BaseCatalog, source: Path, run_id: str
    ) -> None:
        with pytest.raises(CatalogError):
            catalog.put(run_id, "no-such-*.csv", source)

    # --- in a real pipeline ----------------------------------------------------------------------------------

    def test_files_and_objects_flow_between_steps_of_a_run(self, catalog: BaseCatalog, workspace: Workspace) -> None:
        from runnable import Catalog, Pipeline, PythonTask, pickled

        graph = Pipeline(
            steps=[
                PythonTask(
                    name="produce",
                    function=tasks.produce,
                    returns=["doubled", pickled("model")],
                    catalog=Catalog(put=["data/**"]),
                ),
                PythonTask(
                    name="consume",
                    function=tasks.consume,
                    returns=["checked"],
                    catalog=Catalog(get=["data/**"], compute_data_folder=tasks.FETCHED),
                ),
            ]
        ).return_dag()
        run_log = workspace.run(graph, catalog, parameters={"rows": 4})
        messages = {step.internal_name: step.message for step in run_log.iter_steps() if step.message}
        assert run_log.status == "SUCCESS", messages
        assert run_log.parameters["checked"].value == len(tasks.PRODUCED)
        for step, stage in (("produce", "put"), ("consume", "get")):
            entries = {e.name: e for e in run_log.steps[step].data_catalog if e.name.startswith("data/")}
            assert sorted(entries) == sorted(tasks.PRODUCED), f"{step}: catalog entries of the run"
            for name, entry in entries.items():
                assert entry.stage == stage and entry.data_hash == sha256(tasks.PRODUCED[name])
