"""The canary: a real pipeline run through the CLI with ``secrets: {type: vault}`` leaks no secret value.

A python task and a shell task both use two secrets (one through an alias) read from an OpenBao server over
verified TLS with AppRole auth, and both carelessly print them. Afterwards, nothing the run wrote (run log,
catalog) and nothing it printed (stdout, stderr, DEBUG logging) holds a value, while digests the tasks
computed prove they received the right ones. (Rendered Argo / Step Functions manifests are checked by the
packages that render them.)
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from vault_server import ROOT_TOKEN, BaoServer, approle, read_policy

TASKS = '''
import hashlib
import os


def careless() -> str:
    """Prints its secrets, as user code does by mistake; returns a digest proving it got them."""
    print("python sees", os.environ["API_TOKEN"], "and", os.environ["STRIPE_KEY"])
    return hashlib.sha256(os.environ["API_TOKEN"].encode()).hexdigest()
'''

PIPELINE = {
    "dag": {
        "start_at": "python task",
        "steps": {
            "python task": {
                "type": "task",
                "command": "canary_tasks.careless",
                "secrets": ["API_TOKEN", "STRIPE_KEY"],
                "returns": ["digest"],
                "next": "shell task",
            },
            "shell task": {
                "type": "task",
                "command_type": "shell",
                "command": 'echo "shell sees $API_TOKEN and $STRIPE_KEY" >&2; '
                'printf %s "$STRIPE_KEY" | sha256sum | cut -d" " -f1 > shell-digest.txt',
                "secrets": ["API_TOKEN", "STRIPE_KEY"],
                "catalog": {"put": ["shell-digest.txt"]},
                "next": "success",
            },
        },
    }
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_no_secret_value_in_run_log_catalog_or_output(openbao_tls: BaoServer, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex[:10]
    values = {"API_TOKEN": f"canary-token-{marker}", "api_key": f"canary-stripe-{marker}"}
    base = openbao_tls.put({"API_TOKEN": values["API_TOKEN"]})
    openbao_tls.put({"api_key": values["api_key"]}, f"{base}/billing")
    role = approle(openbao_tls, read_policy(openbao_tls, base, f"{base}/billing"))

    credentials = tmp_path / "credentials"  # outside the project: the run must not copy it anywhere
    credentials.mkdir()
    (credentials / "secret-id").write_text(role.secret_id)
    project = tmp_path / "project"
    project.mkdir()
    (project / "canary_tasks.py").write_text(TASKS)
    (project / "pipeline.yaml").write_text(yaml.safe_dump(PIPELINE))
    config = {
        "secrets": {
            "type": "vault",
            "config": {
                "url": openbao_tls.url,
                "verify": openbao_tls.ca_file,
                "path": base,
                "aliases": {"STRIPE_KEY": "billing#api_key"},
                "auth": {
                    "method": "approle",
                    "role_id": {"env": "CANARY_ROLE_ID"},
                    "secret_id": {"file": str(credentials / "secret-id")},
                },
            },
        },
        "run-log-store": {"type": "file-system", "config": {"log_folder": "runs"}},
        "catalog": {"type": "file-system", "config": {"catalog_location": "catalog"}},
    }
    (project / "config.yaml").write_text(yaml.safe_dump(config))

    run_id = f"canary-{marker}"
    command = [sys.executable, "-m", "runnable", "execute", "pipeline.yaml", "-c", "config.yaml"]
    result = subprocess.run(
        [*command, "--run-id", run_id, "--log-level", "DEBUG"],
        cwd=project,
        env=_environment(CANARY_ROLE_ID=role.role_id),
        capture_output=True,
        text=True,
        timeout=300,
    )
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed
    assert "python sees" in printed and "shell sees" in printed, "the tasks' output is shown (masked)"

    persisted = {
        str(path.relative_to(project)): path.read_bytes().decode("utf-8", "replace")
        for path in project.rglob("*")
        if path.is_file()
    }
    assert any(name.startswith("runs") for name in persisted) and any(name.startswith("catalog") for name in persisted)
    for name, value in values.items():
        assert value not in printed, f"{name} printed"
        leaked = [file for file, text in persisted.items() if value in text]
        assert not leaked, f"{name} written to {leaked}"

    run_log = json.loads(_read_run_log(project / "runs", run_id))
    assert run_log["parameters"]["digest"]["value"] == sha256(values["API_TOKEN"]), "python task got another value"
    [shell_digest] = [text for file, text in persisted.items() if file.startswith("catalog") and "shell-digest" in file]
    assert shell_digest.strip() == sha256(values["api_key"]), "shell task got another value"


def _environment(**extra: str) -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("RUNNABLE_", "VAULT_", "BAO_"))} | extra


def _read_run_log(folder: Path, run_id: str) -> str:
    """The run log the file-system store wrote for ``run_id`` (one JSON file named after it)."""
    [path] = [p for p in folder.rglob("*.json") if run_id in p.name]
    return path.read_text()


def test_no_secret_value_in_a_rendered_argo_manifest(openbao_tls: BaoServer, tmp_path: Path) -> None:
    """Rendering for an orchestrator names the secrets a task needs; their values stay in Vault. (Argo's
    executor comes from another package of this repository: the test speaks to it only through the CLI.)"""
    pytest.importorskip("runnable_argo", reason="runnable-argo renders the manifest")
    marker = uuid.uuid4().hex[:10]
    value = f"canary-render-{marker}"
    base = openbao_tls.put({"API_TOKEN": value})
    project = tmp_path / "project"
    project.mkdir()
    (project / "canary_tasks.py").write_text(TASKS)
    (project / "pipeline.yaml").write_text(yaml.safe_dump(PIPELINE))
    config = {
        "pipeline-executor": {"type": "argo", "config": {"image": "registry.example.com/project:1"}},
        "secrets": {
            "type": "vault",
            "config": {
                "url": openbao_tls.url,
                "verify": openbao_tls.ca_file,
                "path": base,
                "aliases": {"STRIPE_KEY": "billing#api_key"},
                "auth": {"method": "token", "token": {"env": "CANARY_TOKEN"}},
            },
        },
    }
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "runnable", "render", "pipeline.yaml", "-c", "config.yaml", "-o", "workflow.yaml"],
        cwd=project,
        env=_environment(CANARY_TOKEN=ROOT_TOKEN),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = (project / "workflow.yaml").read_text()
    assert "API_TOKEN" in manifest, "the manifest names the secret the task needs"
    assert value not in manifest and ROOT_TOKEN not in manifest
    assert value not in result.stdout + result.stderr
