"""The catalog suite: files go in and come back byte for byte, with the SHA-256 users rely on.

A catalog backend implements four primitives (``open_write``, ``open_read``, ``list_files``,
``location``); the base class builds globbing, copying and hashing on them. These tests hold the whole
to what a pipeline relies on, so a backend that overrides a higher-level method is held to it too.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from runnable.errors import CatalogError
from runnable.services import globs
from runnable.services.catalog import BaseCatalog
from runnable.testing import tasks
from runnable.testing.harness import (
    START_METHODS,
    ServiceSuite,
    Workspace,
    credential_values,
    leaked,
    missing_fixture,
    rebuilt,
    run_workers,
    unique_run_id,
)

MIB = 1024 * 1024

# A small project tree: nested folders, an empty file, a name with a space, one file larger than the 1 MiB
# chunk the base class streams in, dotfiles and nested dot folders, and a near miss for every glob the
# suite tries (``data-old/`` beside ``data/``, ``reports-archive/`` and ``reports.txt`` beside ``reports/``,
# ``data/nested.txt`` beside ``data/nested/``, ``.configuration.yaml`` beside ``.config/``, ``b.csv.bak``
# beside ``b.csv``, ``ab.csv`` for ``?.csv``, ``archive.txt.gz`` for ``*.txt``, ``summary.txt.old`` for
# ``**/summary.txt``, ``model.bin.1`` beside ``model.bin``).
FILES: dict[str, bytes] = {
    "data/a.csv": b"a,b\n1,2\n",
    "data/b.csv": b"x,y\n3,4\n",
    "data/b.csv.bak": b"x,y\n",
    "data/ab.csv": b"two letters\n",
    "data/nested.txt": b"beside the folder data/nested\n",
    "data/.hidden.csv": b"dot,file\n",
    "data/.cache/d.csv": b"in a dot folder\n",
    "data/nested/deep/c.csv": b"deep\n",
    "data/nested/notes.txt": b"not a csv",
    "data-old/a.csv": b"old\n",
    "empty.txt": b"",
    "name with spaces.txt": "unicode ✓ 数据\n".encode(),
    "reports/summary.txt": b"this year\n",
    "reports/summary.txt.old": b"superseded\n",
    "reports-archive/2023/summary.txt": b"last year\n",
    "reports.txt": b"index\n",
    ".gitignore": b"*.pyc\n",
    ".configuration.yaml": b"beside the folder .config\n",
    "archive.txt.gz": b"not a .txt",
    ".config/tool/.settings/deep.toml": b"[x]\n",
    "model.bin": bytes(range(256)) * 10_000,
    "model.bin.1": b"a near miss",
}

# glob -> what it selects from FILES (the rules of runnable.services.globs, spelled out).
GLOBS: dict[str, list[str]] = {
    "data/*.csv": ["data/.hidden.csv", "data/a.csv", "data/ab.csv", "data/b.csv"],
    "data/**/*.csv": [
        "data/.cache/d.csv",
        "data/.hidden.csv",
        "data/a.csv",
        "data/ab.csv",
        "data/b.csv",
        "data/nested/deep/c.csv",
    ],
    "data/nested": ["data/nested/deep/c.csv", "data/nested/notes.txt"],
    "data/nested/": ["data/nested/deep/c.csv", "data/nested/notes.txt"],
    "reports": ["reports/summary.txt", "reports/summary.txt.old"],
    "**/summary.txt": ["reports-archive/2023/summary.txt", "reports/summary.txt"],
    "*.txt": ["empty.txt", "name with spaces.txt", "reports.txt"],
    "data/?.csv": ["data/a.csv", "data/b.csv"],
    "data/[!a].csv": ["data/b.csv"],
    "model.bin": ["model.bin"],
    ".config": [".config/tool/.settings/deep.toml"],
    ".*": [".config/tool/.settings/deep.toml", ".configuration.yaml", ".gitignore"],
    "**": sorted(FILES),
    "nothing*": [],
}
GLOB_IDS = [
    "star", "double-star", "folder", "folder-slash", "near-miss-folder", "star-star-name", "top-level", "question",
    "negated-set", "exact", "dot-folder", "dotfiles", "everything", "no-match",
]  # fmt: skip

# Globs and names that would reach outside the data folder or the run.
ESCAPING_GLOBS = ["../../../f", "../*", "/etc/*", "data/../../x", "..", "C:/Windows/*"]
ESCAPING_NAMES = ["../escaped.txt", "/tmp/escaped.txt", "a/../../escaped.txt"]

# Concurrency: how many writers at once (spawned processes start slowly: fewer of them).
WRITERS = 16
SPAWNED = 4


def writers(method: str) -> int:
    return SPAWNED if method == "spawn" else WRITERS


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_tree(folder: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return folder


def large_pair(size: int = 5 * MIB) -> tuple[bytes, bytes]:
    """Two files of ``size`` bytes, identical for their first 2 MiB and differing after it."""
    head = random.Random(7).randbytes(2 * MIB)
    return head + random.Random(8).randbytes(size - 2 * MIB), head + random.Random(9).randbytes(size - 2 * MIB)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (links not followed) and its bytes: to prove nothing was written there."""
    return {name: (folder / name).read_bytes() for name in globs.local_files(folder)} if folder.is_dir() else {}


def _own_bytes(index: int) -> bytes:
    """What writer ``index`` puts: its own bytes, 256 KiB and more, with nothing in common with the others'."""
    return random.Random(index).randbytes(256 * 1024 + index * 4099)


def _put_out_bin(index: int, barrier: Any, catalog: BaseCatalog, run_id: str, root: str) -> str:
    """One branch: write ``out.bin`` with its own bytes in its own folder and put it (the same name as all)."""
    folder = Path(root) / f"branch-{index}"
    write_tree(folder, {"out.bin": _own_bytes(index)})
    barrier.wait(timeout=60)
    (entry,) = catalog.put(run_id, "out.bin", folder)
    return entry.data_hash


def _put_own_items(index: int, barrier: Any, catalog: BaseCatalog, run_id: str) -> int:
    """One branch putting items of its own names, a few times over: none may be lost to another writer."""
    barrier.wait(timeout=60)
    for item in range(4):
        catalog.put_bytes(run_id, f"branch-{index}/item-{item}.txt", f"{index}:{item}".encode())
    return index


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

    # --- globs and folders: one definition (runnable.services.globs) ----------------------------------------

    @pytest.mark.parametrize(("pattern", "expected"), list(GLOBS.items()), ids=GLOB_IDS)
    def test_globs_select_exactly_the_matching_items(
        self, catalog: BaseCatalog, source: Path, run_id: str, pattern: str, expected: list[str]
    ) -> None:
        """``list_files`` follows the one definition: dotfiles included, folders whole, near misses left out."""
        catalog.put(run_id, "**", source)
        listed = catalog.list_files(run_id, pattern)
        assert sorted(listed) == expected, f"list_files({pattern!r})"
        assert len(listed) == len(set(listed)), "each item is listed once"
        assert expected == globs.select(pattern, FILES), "the suite's table disagrees with runnable.services.globs"

    @pytest.mark.parametrize(("pattern", "expected"), list(GLOBS.items()), ids=GLOB_IDS)
    def test_put_selects_local_files_by_the_same_rules(
        self, catalog: BaseCatalog, source: Path, run_id: str, pattern: str, expected: list[str]
    ) -> None:
        if not expected:
            with pytest.raises(CatalogError):
                catalog.put(run_id, pattern, source)
            return
        put = catalog.put(run_id, pattern, source)
        assert sorted(entry.name for entry in put) == expected, f"put({pattern!r}) selected other files"
        assert sorted(catalog.list_files(run_id, "**")) == expected, "put stored other items than it reported"

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

    # --- large files ------------------------------------------------------------------------------------------

    def test_large_files_differing_after_the_first_mib_stay_apart(
        self, catalog: BaseCatalog, tmp_path: Path, run_id: str
    ) -> None:
        """A backend naming blobs by a hash of the first MiB (or deduplicating on a prefix) mixes these up."""
        first, second = large_pair()
        source = write_tree(tmp_path / "source", {"big/first.bin": first, "big/second.bin": second})
        put = {entry.name: entry.data_hash for entry in catalog.put(run_id, "big", source)}
        assert put == {"big/first.bin": sha256(first), "big/second.bin": sha256(second)}
        for name, content in (("big/first.bin", first), ("big/second.bin", second)):
            with catalog.open_read(run_id, name) as handle:
                assert handle.read() == content, f"{name}: read back other bytes (same first MiB as its sibling)"
        got = catalog.get(run_id, "big/*.bin", tmp_path / "target")
        assert {entry.name: entry.data_hash for entry in got} == put
        assert (tmp_path / "target/big/second.bin").read_bytes() == second
        retry = unique_run_id("retry")
        catalog.copy_run(run_id, retry)
        with catalog.open_read(retry, "big/second.bin") as handle:
            assert sha256(handle.read()) == sha256(second), "copy_run mixed up the two large items"

    # --- confinement: nothing outside the data folder or the run ------------------------------------------------

    @pytest.mark.parametrize("pattern", ESCAPING_GLOBS)
    def test_a_glob_reaching_outside_is_refused_and_nothing_moves(
        self, catalog: BaseCatalog, tmp_path: Path, run_id: str, pattern: str
    ) -> None:
        project = tmp_path / "project"
        data = write_tree(project / "work" / "step", {"inside.txt": b"in"})
        # files each escaping glob would reach from the data folder, were it followed
        write_tree(project / "work", {"f": b"outside the data folder", "x": b"outside too"})
        write_tree(tmp_path, {"f": b"three levels up"})
        write_tree(project, {"work/step/data/placeholder": b"so data/.. exists"})
        catalog.put(run_id, "inside.txt", data)
        before = snapshot(tmp_path)
        with pytest.raises(CatalogError):
            catalog.put(run_id, pattern, data)
        with pytest.raises(CatalogError):
            catalog.get(run_id, pattern, data)
        assert snapshot(tmp_path) == before, "a refused glob still wrote something"
        assert catalog.list_files(run_id, "**") == ["inside.txt"], "a refused put still stored something"

    @pytest.mark.parametrize("name", ESCAPING_NAMES)
    def test_an_exact_name_reaching_outside_is_refused(
        self, catalog: BaseCatalog, tmp_path: Path, run_id: str, name: str
    ) -> None:
        before, absolute = snapshot(tmp_path), Path("/tmp/escaped.txt")
        existed = absolute.exists()
        with pytest.raises(CatalogError):
            catalog.put_bytes(run_id, name, b"escaped")
        local = write_tree(tmp_path / "local", {"f.txt": b"escaped"})
        with pytest.raises(CatalogError):
            catalog.put_file(run_id, name, local / "f.txt")
        assert snapshot(tmp_path) == {**before, "local/f.txt": b"escaped"}
        assert absolute.exists() == existed, "an absolute item name was written outside the catalog"
        assert catalog.list_files(run_id, "**") == []

    def test_put_does_not_follow_symbolic_links(self, catalog: BaseCatalog, tmp_path: Path, run_id: str) -> None:
        outside = write_tree(tmp_path / "outside", {"secret.txt": b"not yours", "dir/also.txt": b"nor this"})
        data = write_tree(tmp_path / "data", {"real.txt": b"mine"})
        (data / "link.txt").symlink_to(outside / "secret.txt")
        (data / "linked-dir").symlink_to(outside / "dir", target_is_directory=True)
        put = catalog.put(run_id, "**", data)
        assert [entry.name for entry in put] == ["real.txt"], "a symbolic link was followed"
        assert catalog.list_files(run_id, "**") == ["real.txt"]
        for pattern in ("link.txt", "linked-dir"):
            with pytest.raises(CatalogError):
                catalog.put(run_id, pattern, data)

    def test_get_never_writes_through_a_symbolic_link(
        self, catalog: BaseCatalog, source: Path, tmp_path: Path, run_id: str
    ) -> None:
        catalog.put(run_id, "data/a.csv", source)
        catalog.put(run_id, "reports", source)
        outside = write_tree(tmp_path / "outside", {"victim.csv": b"untouched", "dir/keep.txt": b"kept"})
        target = tmp_path / "target"
        (target / "data").mkdir(parents=True)
        (target / "data" / "a.csv").symlink_to(outside / "victim.csv")
        (target / "reports").symlink_to(outside / "dir", target_is_directory=True)
        before = snapshot(outside)
        for pattern in ("data/a.csv", "reports", "**"):
            with pytest.raises(CatalogError):
                catalog.get(run_id, pattern, target)
        assert snapshot(outside) == before, "get wrote through a symbolic link"
        assert (target / "data" / "a.csv").is_symlink(), "a refused get still replaced the link"

    def test_listed_names_stay_inside_the_run(self, catalog: BaseCatalog, source: Path, run_id: str) -> None:
        catalog.put(run_id, "**", source)
        for name in catalog.list_files(run_id, "**"):
            assert globs.check_name(name) == name, f"list_files returned {name!r}: not a plain relative name"

    # --- concurrency: parallel branches writing at once ---------------------------------------------------------

    def _processes_or_skip(self, catalog: BaseCatalog, method: str) -> None:
        if method != "thread" and not catalog.visible_across_processes():
            pytest.skip(f"{type(catalog).__name__} at {catalog.location()} keeps its items in one process")

    @pytest.mark.parametrize("method", START_METHODS)
    def test_branches_putting_one_name_at_once_record_their_own_hash(
        self, catalog: BaseCatalog, tmp_path: Path, run_id: str, method: str
    ) -> None:
        """16 branches each write ``out.bin`` with their own bytes and put it at once. Each recorded hash is
        that of its own bytes (never another branch's), and the item is one of them whole (the last wins)."""
        self._processes_or_skip(catalog, method)
        catalog.put_bytes(run_id, "warm-up.txt", b"the parent used the catalog before forking")
        count = writers(method)
        hashes = run_workers(method, count, _put_out_bin, catalog, run_id, str(tmp_path / "branches"))
        own = [sha256(_own_bytes(index)) for index in range(count)]
        wrong = [index for index in range(count) if hashes[index] != own[index]]
        assert not wrong, f"branches {wrong} recorded a hash that is not of their own bytes"
        with catalog.open_read(run_id, "out.bin") as handle:
            stored = sha256(handle.read())
        assert stored in own, "the stored out.bin is none of the writers' files: writes were mixed"

    @pytest.mark.parametrize("method", START_METHODS)
    def test_branches_writing_different_names_at_once_lose_nothing(
        self, catalog: BaseCatalog, run_id: str, method: str
    ) -> None:
        """A catalog keeping an index (read, add, write back) loses items when branches write at once."""
        self._processes_or_skip(catalog, method)
        catalog.put_bytes(run_id, "warm-up.txt", b"the parent used the catalog before forking")
        count = writers(method)
        run_workers(method, count, _put_own_items, catalog, run_id)
        expected = sorted(f"branch-{w}/item-{i}.txt" for w in range(count) for i in range(4))
        listed = sorted(catalog.list_files(run_id, "branch-*"))
        lost = sorted(set(expected) - set(listed))
        assert not lost, f"{len(lost)} of {len(expected)} items written at once were lost, e.g. {lost[:3]}"
        for name in expected[::7]:
            index, item = name.removeprefix("branch-").split("/item-")
            with catalog.open_read(run_id, name) as handle:
                assert handle.read() == f"{index}:{item.removesuffix('.txt')}".encode()

    def test_readers_see_a_whole_item_while_it_is_rewritten(
        self, catalog: BaseCatalog, tmp_path: Path, run_id: str
    ) -> None:
        """Branches ``get`` an item another step rewrites: each gets one version whole, with its hash. A
        backend may instead refuse a read that raced a rewrite with a :class:`CatalogError` (an object store
        pinning the version it started reading), never hand out a mix."""
        versions = [random.Random(v).randbytes(3 * MIB) for v in range(2)]
        known = {sha256(v) for v in versions}
        catalog.put_bytes(run_id, "shared.bin", versions[0])
        deadline = time.monotonic() + 1.5

        def rewrite() -> None:
            turn = 0
            while time.monotonic() < deadline:
                turn += 1
                catalog.put_bytes(run_id, "shared.bin", versions[turn % 2])

        writer = threading.Thread(target=rewrite)
        writer.start()
        try:
            whole = refused = 0
            while writer.is_alive() or whole == 0:
                target = tmp_path / f"reader-{whole + refused}"
                try:
                    (entry,) = catalog.get(run_id, "shared.bin", target)
                except CatalogError:
                    refused += 1
                    assert refused < 1000, "every read was refused"
                    continue
                got = sha256((target / "shared.bin").read_bytes())
                assert got in known, "a reader got a mix of two versions, or half of one"
                assert entry.data_hash == got, "the recorded hash is not that of the bytes the reader got"
                whole += 1
        finally:
            writer.join()

    # --- credentials ------------------------------------------------------------------------------------------

    @pytest.fixture
    def backend_credentials(self, catalog: BaseCatalog) -> list[str]:
        """The credentials in the catalog's own configuration; override if yours are elsewhere."""
        return credential_values(catalog)

    # --- the documented errors ------------------------------------------------------------------------------

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

    def test_its_own_credentials_never_reach_a_run_log_or_catalog_file(
        self, catalog: BaseCatalog, workspace: Workspace, backend_credentials: list[str]
    ) -> None:
        """The catalog's config (a key, a password in a URL) must not be recorded: not in ``run_config``
        (``masked_config``), not in ``location()`` (in every entry), not in any item it stores."""
        from runnable import Catalog, Pipeline, PythonTask

        if not backend_credentials:
            pytest.skip("the catalog's configuration holds no credential (no SecretStr, no password-like field)")
        graph = Pipeline(
            steps=[
                PythonTask(name="produce", function=tasks.produce, returns=["doubled"], catalog=Catalog(put=["data"]))
            ]
        ).return_dag()
        run_log = workspace.run(graph, catalog, parameters={"rows": 2})
        assert run_log.status == "SUCCESS", [s.message for s in run_log.iter_steps() if s.message]
        items = []
        for name in catalog.list_files(run_log.run_id, "**"):
            with catalog.open_read(run_log.run_id, name) as handle:
                items.append(handle.read().decode("utf-8", "replace"))
        leaks = leaked(
            backend_credentials,
            run_log=run_log.model_dump_json(),
            persisted_files=workspace.persisted_text(),
            catalog_items="\n".join(items),
            location=catalog.location(),
        )
        assert not leaks, leaks
