"""Holding a rendered manifest to Argo's official JSON schema, strictly, plus the checks a schema cannot make.

Strict: every object definition with ``properties`` is closed (``additionalProperties: false``), so a
misspelt or invented key fails here rather than being dropped by the Argo server. The semantic checks
follow references: templates a task calls, tasks a ``depends`` names, task outputs and template inputs a
``{{...}}`` expression reads, arguments a template receives.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_NAME = "workflow-schema.json"
DEFINITIONS = {
    "Workflow": "io.argoproj.workflow.v1alpha1.Workflow",
    "WorkflowTemplate": "io.argoproj.workflow.v1alpha1.WorkflowTemplate",
    "CronWorkflow": "io.argoproj.workflow.v1alpha1.CronWorkflow",
}


def schema_file() -> Path:
    """``shared/reference/argo/workflow-schema.json``: beside the repository (CI), in ``RUNNABLE_SHARED``, or
    in a folder above this file (``/work/shared`` beside a worktree). Missing is a failure, never a skip."""
    candidates = []
    if os.environ.get("RUNNABLE_SHARED"):
        candidates.append(Path(os.environ["RUNNABLE_SHARED"]) / "reference" / "argo" / SCHEMA_NAME)
    for folder in Path(__file__).resolve().parents:
        candidates.append(folder / "shared" / "reference" / "argo" / SCHEMA_NAME)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise AssertionError(
        f"Argo's schema {SCHEMA_NAME} was not found in shared/reference/argo beside the repository or above it: "
        "put the shared folder beside the clone or set RUNNABLE_SHARED to it"
    )


@functools.lru_cache(maxsize=1)
def strict_schema() -> dict[str, Any]:
    schema = json.loads(schema_file().read_text())
    strict = copy.deepcopy(schema)
    for definition in strict["definitions"].values():
        if "properties" in definition and "additionalProperties" not in definition:
            definition["additionalProperties"] = False
    return strict


@functools.lru_cache(maxsize=3)
def _validator(kind: str) -> jsonschema.protocols.Validator:
    schema = strict_schema()
    root = {"$ref": f"#/definitions/{DEFINITIONS[kind]}", "definitions": schema["definitions"]}
    return jsonschema.Draft202012Validator(root)


def schema_errors(manifest: dict[str, Any]) -> list[str]:
    kind = manifest.get("kind")
    if kind not in DEFINITIONS:
        return [f"kind {kind!r} is not one of {sorted(DEFINITIONS)}"]
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in _validator(kind).iter_errors(manifest)
    ]


def semantic_errors(manifest: dict[str, Any]) -> list[str]:
    spec = manifest["spec"].get("workflowSpec", manifest["spec"])
    templates = {t["name"]: t for t in spec["templates"]}
    errors = []
    if len(templates) != len(spec["templates"]):
        errors.append("two templates share a name")
    if spec["entrypoint"] not in templates:
        errors.append(f"entrypoint {spec['entrypoint']!r} is no template")

    def inputs_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in template.get("inputs", {}).get("parameters", [])}

    for template in spec["templates"]:
        where = f"template {template['name']!r}"
        declared = inputs_of(template)
        text = json.dumps({k: v for k, v in template.items() if k != "dag"})
        for name in re.findall(r"\{\{inputs\.parameters\.([^}]+)\}\}", text):
            if name not in declared:
                errors.append(f"{where}: reads input {name!r} it does not declare")
        if "dag" not in template:
            continue
        tasks = {t["name"]: t for t in template["dag"]["tasks"]}
        if len(tasks) != len(template["dag"]["tasks"]):
            errors.append(f"{where}: two tasks share a name")
        for task in tasks.values():
            here = f"{where}, task {task['name']!r}"
            called = templates.get(task["template"])
            if called is None:
                errors.append(f"{here}: calls no template {task['template']!r}")
                continue
            targets = re.findall(r"([A-Za-z0-9][-A-Za-z0-9]*)(?:\.[A-Za-z]+)?", task.get("depends", ""))
            for target in [*targets, *task.get("dependencies", [])]:
                if target not in tasks:
                    errors.append(f"{here}: depends on no task {target!r}")
            given = {p["name"] for p in task.get("arguments", {}).get("parameters", [])}
            wanted = inputs_of(called)
            for name in given - set(wanted):
                errors.append(f"{here}: passes {name!r}, which {task['template']!r} does not take")
            for name, parameter in wanted.items():
                if name not in given and "value" not in parameter and "default" not in parameter:
                    errors.append(f"{here}: {task['template']!r} needs input {name!r}")
            body = json.dumps(task)
            for name in re.findall(r"\{\{inputs\.parameters\.([^}]+)\}\}", body):
                if name not in declared:
                    errors.append(f"{here}: reads input {name!r} its template does not declare")
            for source, output in re.findall(r"\{\{tasks\.([^.}]+)\.outputs\.parameters\.([^}]+)\}\}", body):
                produced = templates.get(tasks[source]["template"], {}) if source in tasks else {}
                names = {p["name"] for p in produced.get("outputs", {}).get("parameters", [])}
                if output not in names:
                    errors.append(f"{here}: reads output {output!r} of {source!r}, which does not produce it")
                if source not in targets:
                    errors.append(f"{here}: reads {source!r}'s output without waiting for it")
            if "{{item}}" in body and "withParam" not in task and "withItems" not in task:
                errors.append(f"{here}: reads {{{{item}}}} without withParam")
    return errors


def check(manifest: dict[str, Any]) -> None:
    """Fail with every schema and semantic error of the manifest."""
    errors = schema_errors(manifest) + semantic_errors(manifest)
    assert not errors, "\n".join(errors[:30])
