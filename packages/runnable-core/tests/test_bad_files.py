"""Bad files and a hostile file system: YAML bombs, oversized files, duplicate keys, a full disk, a catalog that
cannot be written. Each is one line naming the file or path; the run log stays readable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from core_helpers import write
from runnable.errors import ConfigurationError, ParameterError, PipelineDefinitionError
from runnable.yaml_io import MAX_ALIAS_EXPANSION, MAX_YAML_BYTES, load_yaml_file
from runnable.yaml_loader import load_pipeline_yaml

BOMB = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def _cli(*args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    return subprocess.run([sys.executable, "-m", "runnable", *args], cwd=cwd, env=env, capture_output=True, text=True)


def _one_line(error: Exception) -> str:
    message = str(error)
    assert "\n" not in message
    return message


def test_alias_bomb_is_refused_naming_the_file_and_line(scratch):
    path = write(scratch / "bomb.yaml", BOMB)
    with pytest.raises(PipelineDefinitionError) as caught:
        load_yaml_file(path, PipelineDefinitionError)
    message = _one_line(caught.value)
    assert message.startswith(f"{path}:") and f"aliases expand to more than {MAX_ALIAS_EXPANSION}" in message


def test_modest_aliases_and_merge_keys_still_work(scratch):
    path = write(
        scratch / "ok.yaml",
        """
        base: &base {image: python:3.12, cpu: 1}
        train:
          <<: *base
          cpu: 4
        lists: [*base, *base]
        """,
    )
    data = load_yaml_file(path, ConfigurationError)
    assert data["train"] == {"image": "python:3.12", "cpu": 4} and data["lists"][1]["cpu"] == 1


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(scratch):
    path = scratch / "huge.yaml"
    with open(path, "w") as handle:
        handle.write("values:\n")
        line = "  - " + "x" * 1020 + "\n"
        for _ in range(MAX_YAML_BYTES // len(line) + 2):
            handle.write(line)
    with pytest.raises(ParameterError) as caught:
        load_yaml_file(path, ParameterError)
    message = _one_line(caught.value)
    assert message.startswith(f"{path}: parameters file is") and f"over the {MAX_YAML_BYTES} bytes" in message


def test_duplicate_step_is_refused_naming_file_line_and_key(scratch):
    path = write(
        scratch / "pipeline.yaml",
        """
        dag:
          start_at: a
          steps:
            a: {type: stub, next: success}
            b: {type: stub, next: success}
            a: {type: stub, next: b}
        """,
    )
    with pytest.raises(PipelineDefinitionError) as caught:
        load_pipeline_yaml(path)
    assert _one_line(caught.value) == f"{path}:6:5: malformed YAML: duplicate key 'a' (first at line 4)"


def test_duplicate_keys_in_configuration_and_parameters_files_from_the_cli(scratch):
    write(scratch / "pipeline.yaml", "dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: success}\n")
    write(scratch / "config.yaml", "catalog: {type: file-system}\ncatalog: {type: do-nothing}\n")
    done = _cli("execute", "pipeline.yaml", "-c", "config.yaml", cwd=scratch)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "config.yaml:2:1: malformed YAML: duplicate key 'catalog' (first at line 1)" in done.stderr.splitlines()[0]
    write(scratch / "params.yaml", "lr: 0.1\nepochs: 3\nlr: 0.2\n")
    done = _cli("execute", "pipeline.yaml", "-p", "params.yaml", cwd=scratch)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "params.yaml:3:1: malformed YAML: duplicate key 'lr' (first at line 1)" in done.stderr.splitlines()[0]


def test_the_bomb_as_a_configuration_file_is_one_line_from_the_cli(scratch):
    write(scratch / "pipeline.yaml", "dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: success}\n")
    write(scratch / "config.yaml", BOMB)
    done = _cli("execute", "pipeline.yaml", "-c", "config.yaml", cwd=scratch)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    first = done.stderr.splitlines()[0]
    assert "config.yaml:" in first and "aliases expand to more than" in first


FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from runnable.engine.capture import CapturedOutput

    # A file-size limit makes writes past it fail with EFBIG, as a full disk fails them with ENOSPC.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 * 1024 * 1024, 2 * 1024 * 1024))
    output = CapturedOutput(spool=1024)
    for _ in range(4 * 1024):
        output.write("x" * 1023 + "\\n")
    text = output.getvalue()
    print(len(text), text.splitlines()[-1])
    """
)


def test_captured_output_on_a_full_disk_keeps_what_fits_and_says_why_the_rest_is_missing(scratch):
    script = write(scratch / "full.py", FULL_DISK)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env={**os.environ, "TMPDIR": str(scratch)}
    )
    assert done.returncode == 0, done.stderr
    size, note = done.stdout.strip().split(" ", 1)
    assert 1024 * 1024 <= int(size) <= 2 * 1024 * 1024 + 512  # what fits, then the note
    assert note.startswith(f"[runnable: the rest of the output was not kept: cannot write {scratch}")
    assert note.endswith("File too large]")


def test_the_run_log_stays_readable_when_the_catalog_cannot_be_written(scratch):
    """The catalog's folder is a file: every catalog write fails with NotADirectoryError."""
    (scratch / "blocker").write_text("a file where the catalog's folder should be")
    write(scratch / "config.yaml", "catalog:\n  type: file-system\n  config: {catalog_location: blocker/catalog}\n")
    write(
        scratch / "pipeline.yaml",
        """
        dag:
          start_at: a
          steps:
            a:
              type: task
              command_type: shell
              command: echo hi > out.txt
              catalog: {put: [out.txt]}
              next: success
        """,
    )
    done = _cli("execute", "pipeline.yaml", "-c", "config.yaml", "--run-id", "blocked", cwd=scratch)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert "blocker/catalog" in done.stderr.splitlines()[-2]  # the one-line error, then its hint
    run_log = json.loads((scratch / ".run_log_store" / "blocked.json").read_text())
    assert run_log["status"] == "FAIL"
    step = run_log["steps"]["a"]
    assert step["status"] == "FAIL" and "\n" not in step["message"]
    assert "blocker/catalog" in step["message"] and "Not a directory" in step["message"]
    shown = _cli("runs", "show", "blocked", cwd=scratch)
    assert shown.returncode == 0, shown.stderr
