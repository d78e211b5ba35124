"""A test interpreter of Argo Workflows manifests: it runs a rendered manifest's containers on this machine,
in the order Argo's controller would. A stand-in for Argo (no Kubernetes can run here), for tests only.

What it understands, as Argo defines it: DAG templates whose tasks wait on ``depends`` expressions (task
results ``Succeeded``/``Failed``/``Skipped``/``Omitted``/``Errored``, ``&&``, ``||``, ``!``, parentheses;
a bare task name meaning ``Succeeded || Skipped``) or ``dependencies``; ``withParam`` fanning a task out
over a JSON list (``{{item}}``; an empty list skips it); ``when`` (``==``/``!=`` between two values);
templates calling templates, themselves included; input and output parameters (``valueFrom.path`` read
after the container ran, else its ``default``); ``retryStrategy`` (``limit``, ``retryPolicy``, and the
``asInt(lastRetry.exitCode) == N`` expression). With ``failFast: false`` a DAG fails when a leaf task
failed or when a task failed that no other task's ``depends`` handles (``task.Failed``): the stricter
reading, so a rendering cannot pass here by leaning on a lenient one.

A container runs its ``command`` + ``args`` in a fresh process, with ``runnable`` replaced by this
interpreter's ``python -m runnable``, in ``workdir``, with the container's env (``secretKeyRef`` values
come from ``secrets``). A file a container writes for an output parameter goes to a fresh folder per
container, as each pod has its own file system. Anything else in the manifest it does not understand is
an error, not ignored.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SUCCEEDED, FAILED, SKIPPED, OMITTED, ERRORED = "Succeeded", "Failed", "Skipped", "Omitted", "Errored"
RESULTS = {SUCCEEDED, FAILED, SKIPPED, OMITTED, ERRORED}


class ManifestError(AssertionError):
    """The manifest asks for something Argo would reject or this interpreter does not know."""


@dataclass
class Outcome:
    phase: str
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Interpreter:
    manifest: dict[str, Any]
    workdir: Path
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    env: dict[str, str] | None = None
    secrets: dict[tuple[str, str], str] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)  # every container argv, in the order run

    def __post_init__(self) -> None:
        spec = self.manifest["spec"]
        self.spec = spec.get("workflowSpec", spec)  # a CronWorkflow wraps the workflow's spec
        self.templates = {t["name"]: t for t in self.spec["templates"]}

    # --- entry ----------------------------------------------------------------------------------------------

    def run(self) -> str:
        """Run the workflow; its phase (Succeeded or Failed)."""
        return self.template(self.spec["entrypoint"], {}, depth=0).phase

    def template(self, name: str, arguments: dict[str, str], depth: int) -> Outcome:
        if depth > 200:
            raise ManifestError(f"template {name!r}: recursion deeper than 200 calls")
        if name not in self.templates:
            raise ManifestError(f"no template {name!r}")
        template = self.templates[name]
        declared = {p["name"]: p for p in template.get("inputs", {}).get("parameters", [])}
        unknown = set(arguments) - set(declared)
        if unknown:
            raise ManifestError(f"template {name!r}: arguments {sorted(unknown)} are not among its inputs")
        inputs = {}
        for key, parameter in declared.items():
            if key not in arguments and "value" not in parameter and "default" not in parameter:
                raise ManifestError(f"template {name!r}: input {key!r} has no value")
            inputs[key] = arguments.get(key, parameter.get("value", parameter.get("default")))
        if "dag" in template:
            return self.dag(template, inputs, depth)
        if "container" in template:
            return self.container(template, inputs)
        raise ManifestError(f"template {name!r}: only dag and container templates are interpreted")

    # --- substitution and expressions ----------------------------------------------------------------------

    def substitute(self, text: str, scope: dict[str, str]) -> str:
        def value(match: re.Match[str]) -> str:
            key = match.group(1).strip()
            if key in scope:
                return scope[key]
            if key in ("workflow.uid", "workflow.name"):
                return self.uid
            raise ManifestError(f"{{{{{key}}}}} cannot be resolved here ({text!r})")

        return re.sub(r"\{\{([^{}]+)\}\}", value, text)

    @staticmethod
    def depends(expression: str, results: dict[str, str]) -> bool:
        def result(match: re.Match[str]) -> str:
            task, outcome = match.group(1), match.group(2)
            if task not in results:
                raise ManifestError(f"depends {expression!r}: no task {task!r}")
            if outcome is None:
                return str(results[task] in (SUCCEEDED, SKIPPED))
            if outcome not in RESULTS:
                raise ManifestError(f"depends {expression!r}: unknown result {outcome!r}")
            return str(results[task] == outcome)

        python = re.sub(r"([A-Za-z0-9][-A-Za-z0-9]*)(?:\.([A-Za-z]+))?", result, expression)
        python = python.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
        if not re.fullmatch(r"[\sa-zTF()]*", python):
            raise ManifestError(f"depends {expression!r}: cannot be read")
        return bool(eval(python, {"__builtins__": {}}))  # noqa: S307 - only True/False/and/or/not/() remain

    @staticmethod
    def when(expression: str) -> bool:
        match = re.fullmatch(r"\s*(.+?)\s*(==|!=)\s*(.+?)\s*", expression)
        if not match:
            raise ManifestError(f"when {expression!r}: only `a == b` and `a != b` are interpreted")
        left, operator, right = (part.strip("'") for part in match.groups())
        return (left == right) == (operator == "==")

    # --- DAG ------------------------------------------------------------------------------------------------

    def dag(self, template: dict[str, Any], inputs: dict[str, str], depth: int) -> Outcome:
        dag = template["dag"]
        if dag.get("failFast", True):
            raise ManifestError(f"template {template['name']!r}: failFast must be false for failure paths to run")
        tasks = {task["name"]: task for task in dag["tasks"]}
        if len(tasks) != len(dag["tasks"]):
            raise ManifestError(f"template {template['name']!r}: two tasks share a name")
        results: dict[str, str] = {}
        outputs: dict[str, dict[str, str]] = {}
        referenced: set[str] = set()
        for task in tasks.values():
            referenced |= set(self.waits_on(task))
        while len(results) < len(tasks):
            ready = [
                t for name, t in tasks.items() if name not in results and all(w in results for w in self.waits_on(t))
            ]
            if not ready:
                raise ManifestError(f"template {template['name']!r}: tasks wait on each other")
            task = ready[0]  # Argo starts every ready task; running them one by one is one order it may take
            results[task["name"]], outputs[task["name"]] = self.task(task, inputs, results, outputs, depth)
        leaves = [name for name in tasks if name not in referenced]
        handled = {n for t in tasks.values() for n in re.findall(r"([-A-Za-z0-9]+)\.Failed", t.get("depends", ""))}
        failed = any(results[name] in (FAILED, ERRORED) for name in leaves) or any(
            phase in (FAILED, ERRORED) and name not in handled for name, phase in results.items()
        )
        return Outcome(FAILED if failed else SUCCEEDED)

    @staticmethod
    def waits_on(task: dict[str, Any]) -> list[str]:
        if "depends" in task:
            return re.findall(r"([A-Za-z0-9][-A-Za-z0-9]*)(?:\.[A-Za-z]+)?", task["depends"])
        return list(task.get("dependencies", []))

    def task(
        self,
        task: dict[str, Any],
        inputs: dict[str, str],
        results: dict[str, str],
        outputs: dict[str, dict[str, str]],
        depth: int,
    ) -> tuple[str, dict[str, str]]:
        known = {"name", "template", "arguments", "depends", "dependencies", "when", "withParam"}
        if set(task) - known:
            raise ManifestError(f"task {task['name']!r}: {sorted(set(task) - known)} are not interpreted")
        if "depends" in task and not self.depends(task["depends"], results):
            return OMITTED, {}
        if "dependencies" in task and not all(results[d] in (SUCCEEDED, SKIPPED) for d in task["dependencies"]):
            return OMITTED, {}
        scope = {f"inputs.parameters.{k}": v for k, v in inputs.items()}
        for name, values in outputs.items():
            scope.update({f"tasks.{name}.outputs.parameters.{k}": v for k, v in values.items()})
        items: list[Any] = [None]
        if "withParam" in task:
            items = json.loads(self.substitute(task["withParam"], scope))
            if not isinstance(items, list):
                raise ManifestError(f"task {task['name']!r}: withParam is not a JSON list: {items!r}")
            if not items:
                return SKIPPED, {}
        phases, last = [], Outcome(SKIPPED)
        for item in items:
            here = dict(scope)
            if item is not None:
                here["item"] = item if isinstance(item, str) else json.dumps(item)
            if "when" in task and not self.when(self.substitute(task["when"], here)):
                phases.append(SKIPPED)
                continue
            arguments = {
                p["name"]: self.substitute(str(p["value"]), here)
                for p in task.get("arguments", {}).get("parameters", [])
            }
            last = self.template(task["template"], arguments, depth + 1)
            phases.append(last.phase)
        if all(p == SKIPPED for p in phases):
            return SKIPPED, {}
        if any(p in (FAILED, ERRORED) for p in phases):
            return FAILED, last.outputs
        return SUCCEEDED, last.outputs

    # --- containers -----------------------------------------------------------------------------------------

    def container(self, template: dict[str, Any], inputs: dict[str, str]) -> Outcome:
        container = template["container"]
        scope = {f"inputs.parameters.{k}": v for k, v in inputs.items()}
        argv = [self.substitute(str(a), scope) for a in [*container.get("command", []), *container.get("args", [])]]
        if not container.get("command"):
            raise ManifestError(
                f"template {template['name']!r}: no explicit command (the image's entrypoint is unknown)"
            )
        env = dict(self.env if self.env is not None else os.environ)
        for variable in container.get("env", []):
            if "value" in variable:
                env[variable["name"]] = self.substitute(variable["value"], scope)
            else:
                reference = variable["valueFrom"]["secretKeyRef"]
                key = (reference["name"], reference["key"])
                if key not in self.secrets:
                    raise ManifestError(f"secret {key} is not in the cluster this interpreter stands for")
                env[variable["name"]] = self.secrets[key]
        retry = template.get("retryStrategy") or {}
        limit = int(retry.get("limit", 0))
        declared = template.get("outputs", {}).get("parameters", [])
        for attempt in range(limit + 1):
            with tempfile.TemporaryDirectory(prefix="argo-pod-") as pod:
                paths = {p["valueFrom"]["path"]: str(Path(pod) / f"out-{i}") for i, p in enumerate(declared)}
                folders = {str(Path(path).parent) for path in paths}
                command = [
                    paths.get(a, str(Path(pod) / Path(a).name) if str(Path(a).parent) in folders else a) for a in argv
                ]
                if command[0] == "runnable":
                    command = [sys.executable, "-m", "runnable", *command[1:]]
                elif Path(command[0]).name == "runnable":
                    raise ManifestError(f"command {command[0]!r}: call runnable by name")
                self.calls.append(command)
                done = subprocess.run(command, cwd=self.workdir, env=env, capture_output=True, text=True, check=False)
                if done.returncode == 2:
                    raise ManifestError(f"{' '.join(argv)} exited 2 (bad invocation): {done.stderr[-2000:]}")
                outputs = {}
                for i, parameter in enumerate(declared):
                    written = Path(pod) / f"out-{i}"
                    if written.is_file():
                        outputs[parameter["name"]] = written.read_text().strip()
                    elif "default" in parameter["valueFrom"]:
                        outputs[parameter["name"]] = parameter["valueFrom"]["default"]
                    else:
                        return Outcome(ERRORED)
            if done.returncode == 0:
                return Outcome(SUCCEEDED, outputs)
            if attempt < limit and self._retries(retry, done.returncode):
                continue
            return Outcome(FAILED, outputs)
        raise AssertionError("unreachable")

    @staticmethod
    def _retries(retry: dict[str, Any], status: int) -> bool:
        if retry.get("retryPolicy", "OnFailure") == "OnError":
            return False  # a non-zero exit is a failure, not an error
        expression = retry.get("expression")
        if expression is None:
            return True
        match = re.fullmatch(r"asInt\(lastRetry\.exitCode\)\s*(==|!=)\s*(\d+)", expression.strip())
        if not match:
            raise ManifestError(f"retryStrategy expression {expression!r} is not interpreted")
        return (status == int(match.group(2))) == (match.group(1) == "==")


def run_files(files: dict[str, str], workdir: Path, **options: Any) -> Interpreter:
    """Run the first (main) rendered file's manifest with cwd ``workdir``: the conformance kit's artifact runner."""
    text = next(iter(files.values()))
    interpreter = Interpreter(yaml.safe_load(text), Path(workdir), **options)
    interpreter.phase = interpreter.run()  # type: ignore[attr-defined]
    return interpreter
