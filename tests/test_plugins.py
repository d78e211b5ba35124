"""Plugins: a real plugin distribution, built and installed into its own virtual environment, found through
the ``runnable`` entry point group and chosen by name from a configuration file.

The distribution's source is ``tests/plugin_dist`` (``runnable-plugin-demo`` 1.2.3): a ``demo-catalog``
catalog with a required ``root`` setting, and ``step_finished``/``run_finished`` observers. It is installed
with pip (not put on ``sys.path`` by hand) into a fresh venv that sees this test environment's packages
through a ``.pth`` file, so runnable-core (editable here) is the code under test in both.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

PLUGIN_SOURCE = Path(__file__).parent / "plugin_dist"


@dataclass
class Venv:
    python: Path
    site_packages: Path

    def run(self, *args: str, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_") and k != "PYTHONPATH"}
        env.update(COLUMNS="250", PYTHONIOENCODING="utf-8", NO_COLOR="1")
        return subprocess.run(
            [str(self.python), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def runnable(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "runnable", *args, cwd=cwd)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A new venv with runnable-plugin-demo installed into it by pip; built once for this module."""
    for needed in ("hatchling", "pip"):
        if importlib.util.find_spec(needed) is None:
            pytest.skip(f"{needed} is needed to build and install the plugin (it is in the hatch-test env)")
    root = tmp_path_factory.mktemp("plugin-venv")
    source = root / "runnable-plugin-demo"
    shutil.copytree(
        PLUGIN_SOURCE,
        source,
        ignore=shutil.ignore_patterns("__pycache__", "build", "dist"),
    )

    home = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(home)],
        check=True,
        capture_output=True,
    )
    python = home / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site_packages = Path(
        subprocess.run(
            [
                str(python),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The test environment's packages (runnable-core editable, its dependencies, hatchling) become visible.
    ours = sysconfig.get_paths()["purelib"]
    (site_packages / "zz_test_env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")

    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return Venv(python=python, site_packages=site_packages)


def _table(output: str) -> list[list[str]]:
    """Rows of a rich table printed without colour: cells split on the column separator."""
    rows = []
    for line in output.splitlines():
        line = line.replace("┃", "│")  # the header row uses a heavier separator
        if "│" in line:
            rows.append([cell.strip() for cell in line.split("│")])
    return rows


# --- the core registers through the same entry point group -------------------------------------------


def test_core_registers_through_the_entry_point_group():
    from runnable import builtin_plugin, plugins

    points = {ep.name: ep for ep in importlib.metadata.entry_points(group="runnable")}
    assert points["core"].value == "runnable.builtin_plugin"
    assert points["core"].dist is not None and points["core"].dist.metadata["Name"] == "runnable-core"

    plugins.reset()
    registry = plugins.get_registry()
    assert registry.pm.get_plugin("core") is builtin_plugin
    version = importlib.metadata.version("runnable-core")
    core = [impl for impl in registry.all() if impl.plugin == "core"]
    assert {(impl.kind, impl.name) for impl in core} >= {
        ("pipeline-executor", "local"),
        ("catalog", "file-system"),
        ("run-log-store", "file-system"),
        ("secrets", "env-secrets"),
        ("experiment-tracker", "run-log"),
        ("task-type", "python"),
    }
    assert {(impl.distribution, impl.version) for impl in core} == {("runnable-core", version)}


def test_plugin_is_not_importable_here_only_in_its_venv(venv: Venv):
    # The demo plugin exists only where pip put it: nothing in this process can see it.
    assert importlib.util.find_spec("runnable_plugin_demo") is None
    where = venv.run(
        "-c",
        "import importlib.metadata as m, runnable_plugin_demo as p; "
        "d = m.distribution('runnable-plugin-demo'); print(d.version); print(p.__file__)",
        cwd=venv.python.parent,
    )
    assert where.returncode == 0, where.stderr
    version, module_file = where.stdout.split()
    assert version == "1.2.3"
    assert Path(module_file).is_relative_to(venv.site_packages)


# --- `runnable plugins` -----------------------------------------------------------------------------


def test_plugins_command_lists_the_installed_plugin_and_the_core(venv: Venv, tmp_path: Path):
    result = venv.runnable("plugins", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _table(result.stdout)
    assert ["kind", "name", "distribution", "version", "plugin"] == rows[0]
    by_name = {(row[0], row[1]): row for row in rows[1:]}
    assert by_name[("catalog", "demo-catalog")] == [
        "catalog",
        "demo-catalog",
        "runnable-plugin-demo",
        "1.2.3",
        "demo",
    ]
    core_version = importlib.metadata.version("runnable-core")
    for kind, name in (
        ("catalog", "file-system"),
        ("pipeline-executor", "local"),
        ("run-log-store", "file-system"),
    ):
        assert by_name[(kind, name)] == [
            kind,
            name,
            "runnable-core",
            core_version,
            "core",
        ]


# --- choosing the plugin by name from a configuration file -----------------------------------------


TASKS = """
from pathlib import Path


def write_report():
    Path("out").mkdir(exist_ok=True)
    Path("out/report.txt").write_text("made by a task\\n")
    return 3


def check_report(lines: int):
    assert Path("out/report.txt").read_text() == "made by a task\\n"
    return lines + 1
"""

PIPELINE = """
dag:
  start_at: write
  steps:
    write:
      type: task
      command: tasks.write_report
      returns: [lines]
      catalog: {put: [out/report.txt]}
      next: check
    check:
      type: task
      command: tasks.check_report
      returns: [checked]
      catalog: {get: [out/report.txt]}
      next: success
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tasks.py").write_text(TASKS)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    return tmp_path


def test_config_file_selects_the_plugin_catalog(venv: Venv, project: Path):
    (project / "config.yaml").write_text("catalog:\n  type: demo-catalog\n  config: {root: demo-store}\n")
    result = venv.runnable(
        "execute",
        "pipeline.yaml",
        "-c",
        "config.yaml",
        "--run-id",
        "demo-run",
        cwd=project,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    # the file landed where the plugin's catalog keeps items, and nowhere the default catalog would
    stored = project / "demo-store" / "demo-run" / "out" / "report.txt"
    assert stored.read_text() == "made by a task\n"
    assert not (project / ".catalog").exists()

    log = json.loads((project / ".run_log_store" / "demo-run.json").read_text())
    assert log["status"] == "SUCCESS"
    assert log["run_config"]["catalog"] == {
        "type": "demo-catalog",
        "config": {"compute_data_folder": ".", "root": "demo-store", "max_items": 1000},
    }
    assert log["parameters"]["checked"]["value"] == 4
    put = log["steps"]["write"]["data_catalog"]
    assert [(e["name"], e["stage"], e["catalog_handler_location"]) for e in put] == [
        ("out/report.txt", "put", "demo://demo-store")
    ]

    # the plugin's observers were called once per step, then once for the run
    observed = (project / "observed-steps.txt").read_text().splitlines()
    assert observed == [
        "demo-run write SUCCESS",
        "demo-run check SUCCESS",
        "demo-run success SUCCESS",
        "demo-run run SUCCESS",
    ]


def test_unknown_type_lists_installed_catalogs_including_the_plugin(venv: Venv, project: Path):
    (project / "config.yaml").write_text("catalog: {type: no-such-catalog}\n")
    result = venv.runnable("execute", "pipeline.yaml", "-c", "config.yaml", cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr
    assert "catalog" in message and "no-such-catalog" in message
    installed = message.split("installed:", 1)[1].splitlines()[0]
    from runnable.plugins import get_registry

    # every catalog of the test environment (the workspace's plugins are visible in the venv) and the demo's
    assert {name.strip() for name in installed.split(",")} == {*get_registry().names("catalog"), "demo-catalog"}
    assert "Traceback" not in message
    assert not (project / ".run_log_store").exists(), "a bad configuration must fail before anything is written"


@pytest.mark.parametrize(
    ("config", "key", "problem"),
    [
        (
            "{root: demo-store, rooot: typo}",
            "rooot",
            "unknown key (known keys: compute_data_folder, max_items, root)",
        ),
        ("{}", "root", "missing required key"),
        ("{root: demo-store, max_items: lots}", "max_items", "invalid value"),
    ],
    ids=["unknown-key", "missing-key", "wrong-type"],
)
def test_bad_plugin_config_names_section_key_and_plugin(venv: Venv, project: Path, config: str, key: str, problem: str):
    (project / "config.yaml").write_text(f"catalog:\n  type: demo-catalog\n  config: {config}\n")
    result = venv.runnable("execute", "pipeline.yaml", "-c", "config.yaml", cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    first = result.stderr.splitlines()[0]
    assert "config.yaml" in first
    assert f"catalog.config.{key}" in first
    assert problem in first
    assert "'demo-catalog'" in first
    assert "Traceback" not in result.stderr


# --- the loader and registry refuse ambiguity and say which plugin is at fault ----------------------


@pytest.fixture
def fresh_plugins():
    from runnable import plugins

    plugins.reset()
    yield plugins
    plugins.reset()


def _distribution(folder: Path, name: str, version: str, entry_point: str, module: str) -> None:
    """The metadata of an installed distribution declaring one ``runnable`` entry point (``folder`` goes on
    sys.path): what ``pip install`` leaves behind, without installing anything."""
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[runnable]\n{entry_point} = {module}\n")


def _registry(*contributed: tuple[str, str, list[type] | dict[str, str]]):
    """A registry over hand-registered plugins: (plugin name, distribution, catalog classes or import paths)."""
    import pluggy
    from runnable import hookspecs
    from runnable.plugins import Origin, Registry

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    origins = {}
    for plugin_name, distribution, classes in contributed:

        class Plugin:
            @hookspecs.hookimpl
            def register_catalogs(self, classes=classes) -> list[type] | dict[str, str]:
                return classes

        pm.register(Plugin(), name=plugin_name)
        origins[plugin_name] = Origin(distribution, "1.0")
    return Registry(pm, origins)


def test_two_plugins_offering_one_name_are_listed_and_choosing_it_names_both():
    from runnable.defaults.file_system_catalog import FileSystemCatalog
    from runnable.errors import ConfigurationError

    class OtherFileSystem(FileSystemCatalog):
        pass

    registry = _registry(
        ("core", "runnable-core", [FileSystemCatalog]),
        ("other", "runnable-other", [OtherFileSystem]),
    )
    listed = [(impl.name, impl.distribution) for impl in registry.all()]
    assert listed == [
        ("file-system", "runnable-core"),
        ("file-system", "runnable-other"),
    ]
    with pytest.raises(ConfigurationError) as raised:
        registry.get("catalog", "file-system", source="config.yaml")
    message = str(raised.value)
    assert message.startswith("config.yaml: catalog: type 'file-system' is provided by several plugins")
    assert "'core' (runnable-core 1.0)" in message and "'other' (runnable-other 1.0)" in message


def test_a_class_without_a_name_or_of_another_kind_is_reported_with_its_plugin():
    from runnable.defaults.file_system_run_log import FileSystemRunLogStore
    from runnable.errors import RunnableError
    from runnable.services.catalog import BaseCatalog

    class Nameless(BaseCatalog):
        pass

    with pytest.raises(
        RunnableError,
        match=r"plugin 'bad' \(runnable-bad 1.0\): catalog .*Nameless.* has no service_name",
    ):
        _registry(("bad", "runnable-bad", [Nameless]))
    with pytest.raises(
        RunnableError,
        match=r"'file-system' is a run-log-store but was registered through register_catalogs",
    ):
        _registry(("bad", "runnable-bad", [FileSystemRunLogStore]))


def test_a_name_registered_by_import_path_is_imported_when_chosen_only(tmp_path, monkeypatch):
    (tmp_path / "lazy_catalog_plugin.py").write_text(
        "from typing import ClassVar\n"
        "from runnable.defaults.file_system_catalog import FileSystemCatalog\n\n\n"
        "class LazyCatalog(FileSystemCatalog):\n"
        "    service_name: ClassVar[str] = 'lazy'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_catalog_plugin", raising=False)
    registry = _registry(("lazy", "runnable-lazy", {"lazy": "lazy_catalog_plugin:LazyCatalog"}))
    assert registry.names("catalog") == ["lazy"]
    assert [(impl.name, impl.distribution) for impl in registry.all()] == [("lazy", "runnable-lazy")]
    assert "lazy_catalog_plugin" not in sys.modules  # listed, not imported
    assert registry.create("catalog", "lazy", {"catalog_location": "x"}).catalog_location == "x"
    assert "lazy_catalog_plugin" in sys.modules


def test_an_import_path_that_fails_or_names_another_class_is_an_error_naming_the_plugin():
    from runnable.errors import RunnableError

    registry = _registry(
        (
            "lazy",
            "runnable-lazy",
            {"gone": "no_such_module_here:Catalog", "fs2": "runnable.defaults.file_system_catalog:FileSystemCatalog"},
        )
    )
    assert registry.names("catalog") == ["fs2", "gone"]
    with pytest.raises(RunnableError) as raised:
        registry.get("catalog", "gone")
    assert str(raised.value).startswith(
        "plugin 'lazy' (runnable-lazy 1.0): catalog 'gone': cannot load 'no_such_module_here:Catalog': "
        "ModuleNotFoundError"
    )
    assert raised.value.hint == "fix or uninstall runnable-lazy (pip uninstall runnable-lazy)"
    with pytest.raises(RunnableError, match=r"registered catalog 'fs2' as .*FileSystemCatalog', whose name is 'file-s"):
        registry.get("catalog", "fs2")
    with pytest.raises(
        RunnableError, match=r"plugin 'bad' \(runnable-bad 1.0\): register_catalogs returned 'x': 'nope'"
    ):
        _registry(("bad", "runnable-bad", {"x": "nope"}))


def test_the_plugins_command_imports_every_implementation_and_names_a_broken_one(tmp_path, monkeypatch, fresh_plugins):
    from runnable.cli import app
    from typer.testing import CliRunner

    _distribution(tmp_path, "runnable-lazybroken", "0.0.1", "lazybroken", "lazybroken_plugin")
    (tmp_path / "lazybroken_plugin.py").write_text(
        "from runnable.hookspecs import hookimpl\n\n\n"
        "@hookimpl\n"
        "def register_catalogs():\n"
        "    return {'gone': 'no_such_module_for_lazybroken:Catalog'}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "gone" in fresh_plugins.get_registry().names("catalog")  # registering imports nothing
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 2
    assert "plugin 'lazybroken' (runnable-lazybroken 0.0.1): catalog 'gone': cannot load" in " ".join(
        result.output.split()
    )


def test_loading_the_installed_plugins_imports_none_of_their_implementations():
    # Every runnable process loads every installed plugin; a container step must not pay for the modules of
    # executors, stores and trackers its configuration does not choose.
    code = (
        "import json, sys\n"
        "from runnable.plugins import get_registry\n"
        "registry = get_registry()\n"
        "print(json.dumps(registry.names('pipeline-executor')))\n"
        "registry.get('pipeline-executor', 'local')\n"
        "prefixes = ('runnable_', 'runnable.executors', 'runnable.defaults')\n"
        "print(json.dumps([m for m in sys.modules if m.startswith(prefixes)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert set(json.loads(out[0])) >= {"local", "mocked", "emulator", "argo", "step-functions"}
    loaded = set(json.loads(out[1]))
    assert "runnable.executors.local" in loaded
    assert {"runnable_argo.plugin", "runnable_aws.plugin", "runnable_vault.plugin", "runnable_mlflow.plugin"} <= loaded
    implementations = {
        "runnable.executors.emulator",
        "runnable.executors.mocked",
        "runnable.defaults.chunked_run_log",
        "runnable_argo.executor",
        "runnable_aws.stepfunctions.executor",
        "runnable_aws.batch_job",
        "runnable_aws.s3_catalog",
        "runnable_vault.manager",
        "runnable_mlflow.tracker",
    }
    assert not loaded & implementations


def test_a_plugin_that_fails_to_import_is_an_error_naming_its_distribution(tmp_path, monkeypatch, fresh_plugins):
    from runnable.errors import RunnableError

    _distribution(tmp_path, "runnable-broken", "0.0.1", "broken", "runnable_broken_plugin_module")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RunnableError) as raised:
        fresh_plugins.get_registry()
    message = str(raised.value)
    assert message.startswith("plugin 'broken' (runnable-broken 0.0.1): cannot load 'runnable_broken_plugin_module'")
    assert "ModuleNotFoundError" in message
    assert "pip uninstall runnable-broken" in raised.value.hint


def test_a_distribution_shadowed_on_sys_path_is_loaded_once(tmp_path, monkeypatch, fresh_plugins):
    # A second copy of runnable-core's metadata earlier on sys.path (a stale install): only one core plugin.
    _distribution(tmp_path, "runnable_core", "9.9.9", "core", "runnable.builtin_plugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = fresh_plugins.get_registry()
    catalogs = [impl for impl in registry.all() if impl.kind == "catalog" and impl.name == "file-system"]
    assert [(impl.plugin, impl.version) for impl in catalogs] == [("core", "9.9.9")]
    assert registry.get("catalog", "file-system").__name__ == "FileSystemCatalog"


def test_a_misspelt_hook_in_a_plugin_is_an_error_naming_it(tmp_path, monkeypatch, fresh_plugins):
    from runnable.errors import RunnableError

    _distribution(tmp_path, "runnable-typo", "0.0.2", "typo", "runnable_typo_plugin")
    (tmp_path / "runnable_typo_plugin.py").write_text(
        "from runnable.hookspecs import hookimpl\n\n\n@hookimpl\ndef step_finnished(run_id, step_log):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RunnableError) as raised:
        fresh_plugins.get_registry()
    message = str(raised.value)
    assert message.startswith("plugin 'typo' (runnable-typo 0.0.2): ")
    assert "step_finnished" in message and "\n" not in message


def test_a_misspelt_hook_on_a_tracker_is_an_error_naming_it():
    from runnable.engine.hooks import HookRelay
    from runnable.errors import ConfigurationError
    from runnable.hookspecs import hookimpl

    class Tracker:
        @hookimpl
        def run_finish(self, run_log):  # run_finished
            pass

    with pytest.raises(ConfigurationError, match=r"Tracker.run_finish: @hookimpl names no runnable hook"):
        HookRelay(None, [Tracker()])


TEMPLATE_PIPELINE = """
dag:
  start_at: greet
  steps:
    greet: {type: task, command_type: template, command: "hello {name}, {count} times", returns: [greeting],
            next: success}
"""


def test_a_plugin_task_type_runs_in_a_yaml_pipeline(venv: Venv, tmp_path: Path):
    (tmp_path / "pipeline.yaml").write_text(TEMPLATE_PIPELINE)
    (tmp_path / "params.yaml").write_text("name: world\ncount: 3\n")
    result = venv.runnable("execute", "pipeline.yaml", "-p", "params.yaml", "--run-id", "tpl", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    log = json.loads((tmp_path / ".run_log_store" / "tpl.json").read_text())
    assert log["parameters"]["greeting"]["value"] == "hello world, 3 times"


def test_a_command_type_no_plugin_provides_is_refused_before_anything_runs(tmp_path: Path):
    from cli_helpers import runnable_cli

    (tmp_path / "pipeline.yaml").write_text(TEMPLATE_PIPELINE)
    result = runnable_cli("execute", "pipeline.yaml", cwd=tmp_path)
    assert result.code == 2
    assert "step 'greet': command_type 'template' is not installed; installed: notebook, python, shell" in result.err
    assert not (tmp_path / ".run_log_store").exists()
