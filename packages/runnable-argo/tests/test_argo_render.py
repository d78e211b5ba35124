"""Rendering: every pipeline becomes a manifest that passes Argo's schema strictly and whose references all
resolve; the configuration reaches the right places; what must never be in a manifest is not."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from argo_helpers import MINIMAL, REPO, clean_env, render
from argo_pipelines import ALL_KINDS, FAILING, NOTEBOOK, TASKS
from manifest_checks import check, schema_errors
from runnable_argo.names import Names, dns_label

FULL = """
pipeline-executor:
  type: argo
  config:
    image: registry.example.com/project:1.0
    image_pull_policy: IfNotPresent
    image_pull_secrets: [registry-credentials]
    namespace: data-science
    service_account: runner
    name: Nightly Training
    run_id: "{{workflow.name}}"
    working_dir: /project
    resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: 2, memory: 4Gi}}
    node_selector: {pool: batch}
    tolerations: [{key: dedicated, operator: Equal, value: batch, effect: NoSchedule}]
    retry: {limit: 4, backoff: {duration: 30s, factor: 2, max_duration: 10m}}
    parallelism: 8
    active_deadline_seconds: 86400
    ttl: {seconds_after_success: 3600, seconds_after_failure: 86400}
    pod_gc: OnPodSuccess
    labels: {team: forecasting}
    annotations: {owner: data@example.com}
    env: {LOG_LEVEL: debug}
    kubernetes_secret: project-secrets
    secrets: {API_TOKEN: {secret: vault-synced, key: token}}
    volumes: [{name: runs, claim_name: runnable-runs, mount_path: /mnt/runs}]
    overrides:
      step_up:
        image: registry.example.com/gpu:1.0
        resources: {limits: {nvidia.com/gpu: 1}}
        node_selector: {gpu: "yes"}
run-log-store: {type: chunked-fs, config: {log_folder: /mnt/runs/run-logs}}
"""


def templates(manifest: dict) -> dict[str, dict]:
    spec = manifest["spec"].get("workflowSpec", manifest["spec"])
    return {t["name"]: t for t in spec["templates"]}


@pytest.mark.parametrize(
    ("pipeline", "cwd"),
    [
        ("examples/quickstart/pipeline.py", "."),
        ("examples/composites/pipeline.py", "."),
        ("hello.py", "examples/docs"),
        ("hello.yaml", "examples/docs"),
    ],
)
def test_every_example_renders_a_valid_workflow(tmp_path: Path, pipeline: str, cwd: str) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    manifest = render(tmp_path / cwd, pipeline)  # render() holds it to the schema and the reference checks
    assert manifest["kind"] == "Workflow"


@pytest.mark.parametrize("pipeline", [ALL_KINDS, FAILING, NOTEBOOK])
def test_every_kind_of_step_renders_a_valid_workflow(render_in, pipeline: str) -> None:
    manifest = render_in({"tasks_argo.py": TASKS, "p.yaml": pipeline}, "p.yaml")
    names = templates(manifest)
    for name in ("execute-step", "fan-out", "fan-in"):
        assert names[name]["container"]["command"] == ["runnable"]
    assert names["execute-step"]["container"]["args"][:5] == [
        "execute-step",
        "p.yaml",
        "{{inputs.parameters.address}}",
        "--run-id",
        "{{workflow.uid}}",
    ]


def test_translation_of_map_conditional_loop_and_on_failure(render_in) -> None:
    manifest = render_in({"tasks_argo.py": TASKS, "p.yaml": ALL_KINDS}, "p.yaml")
    names = templates(manifest)
    main = {t["name"]: t for t in names["main"]["dag"]["tasks"]}
    # map: the fan-out's keys file is an output parameter fed to withParam; the fan-in waits for the branches
    assert names["fan-out"]["outputs"]["parameters"][0] == {
        "name": "keys",
        "valueFrom": {"path": "/tmp/runnable/keys.json", "default": "[]"},
    }
    assert main["grid-branches"]["withParam"] == "{{tasks.grid-fan-out.outputs.parameters.keys}}"
    assert main["grid-branches"]["arguments"]["parameters"] == [{"name": "key1", "value": "{{item}}"}]
    assert "grid-branches.Failed" in main["grid-fan-in"]["depends"]
    # conditional: each branch runs when the fan-out chose it
    assert main["pick-left"]["when"] == "'{{tasks.pick-fan-out.outputs.parameters.keys}}' == '[\"left\"]'"
    # on_failure: recover runs when split's fan-out or fan-in failed; the next step only on success
    assert main["recover"]["depends"] == "(split-fan-out.Failed || split-fan-in.Failed)"
    assert main["success"]["depends"] == "split-fan-in.Succeeded || recover.Succeeded"
    # the loop: a template that runs a round while the plan is not done, and calls itself
    loop = next(t for n, t in names.items() if n.endswith("rounds-loop"))
    tasks = {t["name"]: t for t in loop["dag"]["tasks"]}
    assert tasks["round"]["when"] == "{{tasks.fan-out.outputs.parameters.done}} == false"
    assert tasks["next-round"]["template"] == loop["name"]
    # addresses splice the runtime keys into the protocol's step names, spaces spelled %
    step_up = next(t for n, t in names.items() if n.endswith("rounds") and "dag" in t)["dag"]["tasks"][0]
    address = "grid.{{inputs.parameters.key1}}.both.climb.rounds.{{inputs.parameters.key2}}.step_up"
    assert step_up["arguments"]["parameters"] == [{"name": "address", "value": address}]
    assert main[dns_label("set up")]["arguments"]["parameters"][0]["value"] == "set%up"
    # retries: the container is retried when it exits 3 (a store could not be reached)
    assert names["execute-step"]["retryStrategy"] == {
        "limit": "2",
        "retryPolicy": "Always",
        "expression": "asInt(lastRetry.exitCode) == 3",
    }


def test_every_setting_reaches_the_manifest(render_in) -> None:
    manifest = render_in({"tasks_argo.py": TASKS, "p.yaml": ALL_KINDS}, "p.yaml", FULL)
    spec = manifest["spec"]
    assert manifest["metadata"] == {
        "generateName": dns_label("Nightly Training", limit=50) + "-",
        "namespace": "data-science",
        "labels": {"team": "forecasting"},
        "annotations": {"owner": "data@example.com"},
    }
    assert spec["serviceAccountName"] == "runner" and spec["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert spec["nodeSelector"] == {"pool": "batch"} and spec["parallelism"] == 8
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}]
    assert spec["activeDeadlineSeconds"] == 86400 and spec["podGC"] == {"strategy": "OnPodSuccess"}
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 3600, "secondsAfterFailure": 86400}
    assert spec["volumes"] == [
        {"name": "runs", "persistentVolumeClaim": {"claimName": "runnable-runs", "readOnly": False}}
    ]
    names = templates(manifest)
    step = names["execute-step"]
    container = step["container"]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert container["volumeMounts"] == [{"name": "runs", "mountPath": "/mnt/runs"}]
    assert container["workingDir"] == "/project" and container["imagePullPolicy"] == "IfNotPresent"
    assert {"name": "LOG_LEVEL", "value": "debug"} in container["env"]
    assert container["args"][3:5] == ["--run-id", "{{workflow.name}}"]
    assert step["retryStrategy"]["limit"] == "4" and step["retryStrategy"]["backoff"]["maxDuration"] == "10m"
    gpu = names[dns_label("execute-step-step_up")]
    assert gpu["container"]["image"] == "registry.example.com/gpu:1.0" and gpu["nodeSelector"] == {"gpu": "yes"}
    assert gpu["container"]["resources"] == {"limits": {"nvidia.com/gpu": "1"}}
    used = [t["template"] for tpl in names.values() for t in tpl.get("dag", {}).get("tasks", [])]
    assert gpu["name"] in used and used.count(gpu["name"]) == 1


def test_a_schedule_renders_a_cron_workflow_and_a_template_on_request(render_in) -> None:
    cron = MINIMAL.replace("}}", ', schedule: "0 3 * * *", timezone: Europe/London, concurrency_policy: Replace}}')
    manifest = render_in({"tasks_argo.py": TASKS, "p.yaml": FAILING}, "p.yaml", cron)
    assert manifest["kind"] == "CronWorkflow" and manifest["metadata"] == {"name": "p"}
    assert manifest["spec"]["schedules"] == ["0 3 * * *"] and manifest["spec"]["concurrencyPolicy"] == "Replace"
    assert manifest["spec"]["workflowSpec"]["entrypoint"] == "main"
    template = render_in({}, "p.yaml", MINIMAL.replace("}}", ", kind: WorkflowTemplate}}"))
    assert template["kind"] == "WorkflowTemplate" and template["metadata"] == {"name": "p"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (MINIMAL.replace("image:", "imag:"), "imag"),
        (MINIMAL.replace("}}", ", resources: {request: {cpu: 1}}}}"), "request"),
        (MINIMAL.replace("}}", ", overrides: {no_such_step: {image: x}}}}"), "no_such_step"),
        (MINIMAL.replace("}}", ', schedule: "* * * * *", kind: WorkflowTemplate}}'), "schedule"),
    ],
)
def test_bad_configuration_is_a_one_line_error(tmp_path: Path, config: str, message: str) -> None:
    (tmp_path / "p.yaml").write_text(FAILING)
    (tmp_path / "argo.yaml").write_text(config)
    command = [sys.executable, "-m", "runnable", "render", "p.yaml", "-c", "argo.yaml"]
    done = subprocess.run(command, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, check=False)
    assert done.returncode != 0
    error = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(error) == 1 and message in error[0], done.stderr
    assert "Traceback" not in done.stderr


def test_branches_run_one_at_a_time_unless_the_store_takes_concurrent_writers(render_in, tmp_path: Path) -> None:
    files = {"tasks_argo.py": TASKS, "p.yaml": ALL_KINDS}
    assert render_in(files, "p.yaml")["spec"]["parallelism"] == 1
    assert "parallelism" not in render_in(files, "p.yaml", MINIMAL + "run-log-store: {type: chunked-fs}\n")["spec"]
    assert "parallelism" not in render_in({"p.yaml": FAILING}, "p.yaml")["spec"]  # no branches
    (tmp_path / "p.yaml").write_text(ALL_KINDS)
    (tmp_path / "argo.yaml").write_text(MINIMAL.replace("}}", ", parallelism: 4}}"))
    command = [sys.executable, "-m", "runnable", "render", "p.yaml", "-c", "argo.yaml"]
    done = subprocess.run(command, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "concurrent writers" in done.stderr, done.stderr


def test_secrets_are_referenced_never_rendered(tmp_path: Path) -> None:
    canary = "canary-7f3c9e1d-never-in-a-manifest"
    step = "{type: task, command: tasks_argo.setup, secrets: [API_TOKEN, DB_PASSWORD], next: success}"
    pipeline = f"dag:\n  start_at: step_up\n  steps:\n    step_up: {step}\n"
    (tmp_path / "tasks_argo.py").write_text(TASKS)
    (tmp_path / "p.yaml").write_text(pipeline)
    (tmp_path / "argo.yaml").write_text(FULL)
    command = [sys.executable, "-m", "runnable", "render", "p.yaml", "-c", "argo.yaml", "-o", "workflow.yaml"]
    env = clean_env(API_TOKEN=canary, DB_PASSWORD=canary)
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "workflow.yaml").read_text()
    assert canary not in text and canary not in done.stdout + done.stderr
    env_vars = templates(yaml.safe_load(text))["execute-step"]["container"]["env"]
    assert {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "vault-synced", "key": "token"}}} in env_vars
    assert {
        "name": "DB_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "project-secrets", "key": "DB_PASSWORD"}},
    } in env_vars


def test_a_500_step_pipeline_stays_far_below_argos_1_mb_limit(render_in) -> None:
    steps = "\n".join(
        f"    step {i}: {{type: task, command: tasks_argo.setup, next: {f'step {i + 1}' if i < 499 else 'success'}}}"
        for i in range(500)
    )
    manifest = render_in(
        {"tasks_argo.py": TASKS, "long.yaml": f"dag:\n  start_at: step 0\n  steps:\n{steps}\n"}, "long.yaml"
    )
    size = len(json.dumps(manifest, separators=(",", ":")))  # what the API server stores
    assert len(templates(manifest)["main"]["dag"]["tasks"]) == 502
    assert size < 250_000, f"{size} bytes for 500 steps"


def test_strict_schema_rejects_unknown_keys_and_non_string_quantities() -> None:
    good = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "x-"},
        "spec": {"entrypoint": "a", "templates": [{"name": "a", "container": {"image": "i", "command": ["true"]}}]},
    }
    check(good)
    typo = json.loads(json.dumps(good))
    typo["spec"]["templates"][0]["container"]["imagePullPolicyy"] = "Always"
    assert schema_errors(typo)
    number = json.loads(json.dumps(good))
    number["spec"]["templates"][0]["container"]["resources"] = {"limits": {"cpu": 2}}
    assert schema_errors(number)


def test_names_are_dns_labels_and_unique() -> None:
    assert dns_label("train") == "train"
    assert dns_label("Train Model") != dns_label("train-model") and dns_label("Train Model").startswith("train-model-")
    assert dns_label("3rd").startswith("s-3rd")
    long = dns_label("x" * 100)
    assert len(long) <= 63
    names = Names(("fan-out",))
    assert names.take("fan-out") == "fan-out-2" and names.take("a") == "a" and names.take("a") == "a-2"


def test_deploy_says_to_submit_the_rendered_workflow_with_argo(tmp_path: Path) -> None:
    """Argo workflows are submitted with Argo's own tools: `runnable deploy` says so in one line, exit 2."""
    (tmp_path / "p.yaml").write_text(FAILING)
    (tmp_path / "argo.yaml").write_text(MINIMAL)
    command = [sys.executable, "-m", "runnable", "deploy", "p.yaml", "-c", "argo.yaml"]
    done = subprocess.run(command, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 2
    error = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(error) == 1 and "'argo' does not deploy" in error[0], done.stderr
    assert "argo submit" in done.stderr
