"""The ``argo`` pipeline executor: ``runnable render`` writes the pipeline as an Argo Workflows manifest.

The smallest configuration names the image holding the project (runnable, the pipeline file, the code)::

    pipeline-executor:
      type: argo
      config:
        image: registry.example.com/project:1.0

Rendering only writes text: no cluster, no ``argo`` binary, no network. Parameters stay in the run log
store (the first container records them), secret values in Kubernetes secrets the containers read through
``secretKeyRef``; the manifest holds neither.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import yaml
from pydantic import Field
from runnable.errors import ConfigurationError
from runnable.models.graph import BaseNode, MapNode, ParallelNode, TaskNode
from runnable.services.executor import BaseRenderingExecutor

from runnable_argo.config import (
    PersistentVolume,
    Resources,
    RetryStrategy,
    SecretReference,
    StepOverride,
    Toleration,
    TTLStrategy,
)
from runnable_argo.names import dns_label
from runnable_argo.templates import DONE, EXECUTE, FAN_IN, FAN_OUT, KEYS, PLAN_FOLDER, TemplateBuilder

if TYPE_CHECKING:
    from runnable.engine.context import RunContext

API_VERSION = "argoproj.io/v1alpha1"
PullPolicy = Literal["Always", "IfNotPresent", "Never"]


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no anchors and aliases where the same list is passed twice (readers expect none)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class ArgoExecutor(BaseRenderingExecutor):
    service_name: ClassVar[str] = "argo"

    # The container image: runnable, the pipeline file and the project's code.
    image: str = Field(min_length=1)
    image_pull_policy: PullPolicy | None = None
    image_pull_secrets: list[str] = Field(default_factory=list)
    # Workflow for a run now; WorkflowTemplate to register it and submit runs later. A schedule makes a CronWorkflow.
    kind: Literal["Workflow", "WorkflowTemplate"] = "Workflow"
    # The manifest's name (a Workflow's generateName prefix); default: the pipeline file's name.
    name: str | None = None
    namespace: str | None = None
    service_account: str | None = None
    # Every container of one Argo run shares this run id; an Argo expression.
    run_id: str = "{{workflow.uid}}"
    # The pipeline and runnable configuration files as the containers see them (default: as given to render).
    pipeline_file: str | None = None
    config_file: str | None = None
    working_dir: str | None = None
    resources: Resources = Field(default_factory=Resources)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    retry: RetryStrategy = Field(default_factory=RetryStrategy)
    parallelism: int | None = Field(default=None, ge=1)
    active_deadline_seconds: int | None = Field(default=None, ge=1)
    ttl: TTLStrategy | None = None
    pod_gc: Literal["OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    # Plain environment variables of every container (never secrets: those go in `secrets`).
    env: dict[str, str] = Field(default_factory=dict)
    # A task's `secrets: [NAME]` becomes env var NAME from key NAME of this Kubernetes secret...
    kubernetes_secret: str = "runnable-secrets"
    # ...or from the secret and key given here, by NAME.
    secrets: dict[str, SecretReference] = Field(default_factory=dict)
    # PVCs mounted in every container (a file-system run log store and catalog live on one).
    volumes: list[PersistentVolume] = Field(default_factory=list)
    # Per task step, by step name: image, resources, node selector... that step needs differently.
    overrides: dict[str, StepOverride] = Field(default_factory=dict)
    schedule: str | None = None
    timezone: str | None = None
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = "Forbid"

    def render(self, context: RunContext) -> dict[str, str]:
        manifest = self.manifest(context)
        name = f"{dns_label(Path(context.pipeline_file or 'pipeline').stem)}-argo.yaml"
        return {name: yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, width=120)}

    # --- the manifest ---------------------------------------------------------------------------------------

    def manifest(self, context: RunContext) -> dict[str, Any]:
        """The manifest as a dictionary: a Workflow, a WorkflowTemplate or (with a schedule) a CronWorkflow."""
        graph = context.graph
        steps = graph.all_nodes()
        self._check_overrides(steps, context)
        common = ["--run-id", self.run_id, *self.protocol_options(context, self.config_file)]
        pipeline_file = self.pipeline_file or context.pipeline_file
        if not pipeline_file:
            raise ConfigurationError(
                "pipeline-executor 'argo': every container re-reads the pipeline file, and none was given",
                hint="render a pipeline file: `runnable render pipeline.yaml -c argo.yaml`",
            )
        secret_names = sorted({s for node in steps if isinstance(node, TaskNode) for s in node.secrets})
        secret_env = [self._secret_env(name) for name in secret_names]

        generic = [
            self._container(EXECUTE, EXECUTE, pipeline_file, common, StepOverride(), secret_env),
            self._container(FAN_OUT, FAN_OUT, pipeline_file, common, StepOverride(), []),
            self._container(FAN_IN, FAN_IN, pipeline_file, common, StepOverride(), []),
        ]
        variants: dict[str, dict[str, Any]] = {}
        variant_names = {step: dns_label(f"{EXECUTE}-{step}") for step in self.overrides}  # reserved for them

        def step_template(node: BaseNode) -> str:
            override = self.overrides.get(node.name) if isinstance(node, TaskNode) else None
            if override is None:
                return EXECUTE
            if node.name not in variants:
                variants[node.name] = self._container(
                    variant_names[node.name], EXECUTE, pipeline_file, common, override, secret_env
                )
            return str(variants[node.name]["name"])

        builder = TemplateBuilder(graph, step_template, (EXECUTE, FAN_OUT, FAN_IN, *variant_names.values()))
        dags = builder.build()
        spec = self._spec([*dags, *generic, *variants.values()], self._parallelism(steps, context))
        prefix = dns_label(self.name or Path(pipeline_file).stem, limit=50)
        metadata: dict[str, Any] = {}
        if self.namespace:
            metadata["namespace"] = self.namespace
        if self.labels:
            metadata["labels"] = dict(self.labels)
        if self.annotations:
            metadata["annotations"] = dict(self.annotations)
        if self.schedule:
            if self.kind != "Workflow":
                raise ConfigurationError(
                    "pipeline-executor 'argo': a schedule renders a CronWorkflow; kind must stay 'Workflow'",
                    hint="remove `kind` or `schedule` from the configuration",
                )
            cron: dict[str, Any] = {"schedules": [self.schedule], "concurrencyPolicy": self.concurrency_policy}
            if self.timezone:
                cron["timezone"] = self.timezone
            cron["workflowSpec"] = spec
            return {
                "apiVersion": API_VERSION,
                "kind": "CronWorkflow",
                "metadata": {"name": prefix, **metadata},
                "spec": cron,
            }
        named = {"generateName": f"{prefix}-"} if self.kind == "Workflow" else {"name": prefix}
        return {"apiVersion": API_VERSION, "kind": self.kind, "metadata": {**named, **metadata}, "spec": spec}

    def _spec(self, templates: list[dict[str, Any]], parallelism: int | None) -> dict[str, Any]:
        spec: dict[str, Any] = {"entrypoint": templates[0]["name"]}
        if self.service_account:
            spec["serviceAccountName"] = self.service_account
        if self.image_pull_secrets:
            spec["imagePullSecrets"] = [{"name": name} for name in self.image_pull_secrets]
        if self.node_selector:
            spec["nodeSelector"] = dict(self.node_selector)
        if self.tolerations:
            spec["tolerations"] = [t.render() for t in self.tolerations]
        if parallelism:
            spec["parallelism"] = parallelism
        if self.active_deadline_seconds:
            spec["activeDeadlineSeconds"] = self.active_deadline_seconds
        if self.ttl and self.ttl.render():
            spec["ttlStrategy"] = self.ttl.render()
        if self.pod_gc:
            spec["podGC"] = {"strategy": self.pod_gc}
        if self.labels or self.annotations:
            spec["podMetadata"] = {
                k: dict(v) for k, v in (("labels", self.labels), ("annotations", self.annotations)) if v
            }
        if self.volumes:
            spec["volumes"] = [
                {"name": v.name, "persistentVolumeClaim": {"claimName": v.claim_name, "readOnly": v.read_only}}
                for v in self.volumes
            ]
        spec["templates"] = templates
        return spec

    def _container(
        self,
        name: str,
        verb: str,
        pipeline_file: str,
        common: list[str],
        override: StepOverride,
        secret_env: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """A container template running one protocol call on the address it is given."""
        args = [verb, pipeline_file, "{{inputs.parameters.address}}", *common]
        if verb == FAN_OUT:
            args += ["--plan-file", f"{PLAN_FOLDER}/plan.json", "--keys-file", KEYS, "--done-file", DONE]
        container: dict[str, Any] = {"image": override.image or self.image, "command": ["runnable"], "args": args}
        pull = override.image_pull_policy or self.image_pull_policy
        if pull:
            container["imagePullPolicy"] = pull
        if self.working_dir:
            container["workingDir"] = self.working_dir
        env = [{"name": k, "value": v} for k, v in {**self.env, **(override.env or {})}.items()]
        if env or secret_env:
            container["env"] = [*env, *secret_env]
        resources = (override.resources or self.resources).render()
        if resources:
            container["resources"] = resources
        if self.volumes:
            container["volumeMounts"] = [
                {"name": v.name, "mountPath": v.mount_path, **({"subPath": v.sub_path} if v.sub_path else {})}
                for v in self.volumes
            ]
        template: dict[str, Any] = {"name": name, "inputs": {"parameters": [{"name": "address"}]}}
        if verb == FAN_OUT:
            template["outputs"] = {
                "parameters": [
                    {"name": "keys", "valueFrom": {"path": KEYS, "default": "[]"}},
                    {"name": "done", "valueFrom": {"path": DONE, "default": "true"}},
                ]
            }
        if override.node_selector is not None:
            template["nodeSelector"] = dict(override.node_selector)
        if override.tolerations is not None:
            template["tolerations"] = [t.render() for t in override.tolerations]
        if override.active_deadline_seconds:
            template["activeDeadlineSeconds"] = str(override.active_deadline_seconds)
        retry = (override.retry or self.retry).render()
        if retry:
            template["retryStrategy"] = retry
        template["container"] = container
        return template

    def _secret_env(self, name: str) -> dict[str, Any]:
        """Env var ``name`` read from a Kubernetes secret: the manifest names the secret, never its value."""
        reference = self.secrets.get(name) or SecretReference(secret=self.kubernetes_secret, key=name)
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": reference.secret, "key": reference.key}}}

    def _parallelism(self, steps: list[BaseNode], context: RunContext) -> int | None:
        """Argo runs the branches of parallel and map steps at the same time, their containers writing the run
        log together, which only a store for concurrent writers (chunked-fs) survives. With another store the
        workflow runs one pod at a time (``parallelism: 1``), and asking for more is an error."""
        branching = any(isinstance(node, (ParallelNode, MapNode)) for node in steps)
        if not branching or context.run_log_store.supports_concurrent_writers:
            return self.parallelism
        if self.parallelism not in (None, 1):
            raise ConfigurationError(
                f"pipeline-executor 'argo': parallelism {self.parallelism} runs branches at the same time, and "
                f"run-log-store {context.run_log_store.service_name!r} does not take concurrent writers",
                hint="use run-log-store: {type: chunked-fs} on a shared volume, or leave parallelism out",
            )
        return 1

    def _check_overrides(self, steps: list[BaseNode], context: RunContext) -> None:
        tasks = {node.name for node in steps if isinstance(node, TaskNode)}
        unknown = sorted(set(self.overrides) - tasks)
        if unknown:
            raise ConfigurationError(
                f"pipeline-executor 'argo': overrides: {unknown[0]!r} names no task step of "
                f"{context.pipeline_file or 'the pipeline'}",
                hint=f"override task steps by name: {', '.join(sorted(tasks)) or 'the pipeline has none'}",
            )
