"""The plugin manager: loads the ``runnable`` entry point group and maps ``type:`` names to classes.

Which distribution contributed an implementation is tracked per hook implementation, so ``runnable
plugins`` can say where every name comes from and an unknown ``type:`` can list what is installed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pluggy
from pydantic import ValidationError

from runnable import hookspecs
from runnable.errors import ConfigurationError

# configuration section -> registration hook
KIND_HOOKS: dict[str, str] = {
    "pipeline-executor": "register_pipeline_executors",
    "job-executor": "register_job_executors",
    "catalog": "register_catalogs",
    "run-log-store": "register_run_log_stores",
    "secrets": "register_secrets_managers",
    "experiment-tracker": "register_experiment_trackers",
    "task-type": "register_task_types",
}


@dataclass(frozen=True)
class Implementation:
    kind: str
    name: str
    cls: type
    plugin: str
    distribution: str
    version: str


class Registry:
    """Every implementation contributed by every loaded plugin, by kind and name."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
        self._by_kind: dict[str, dict[str, Implementation]] = {}
        for kind, hook_name in KIND_HOOKS.items():
            found: dict[str, Implementation] = {}
            # Call each implementation on its own so every class is attributed to its plugin.
            for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
                dist = dists.get(id(impl.plugin))
                for cls in impl.function() or []:
                    name = getattr(cls, "service_name", None) or getattr(cls, "command_type")
                    found[name] = Implementation(
                        kind=kind,
                        name=name,
                        cls=cls,
                        plugin=impl.plugin_name,
                        distribution=dist.project_name if dist else "(not installed)",
                        version=dist.version if dist else "",
                    )
            self._by_kind[kind] = found

    def names(self, kind: str) -> list[str]:
        return sorted(self._by_kind[kind])

    def all(self) -> list[Implementation]:
        return [impl for kind in self._by_kind.values() for impl in kind.values()]

    def get(self, kind: str, name: str, *, source: str = "") -> type:
        try:
            return self._by_kind[kind][name].cls
        except KeyError:
            where = f"{source}: " if source else ""
            raise ConfigurationError(
                f"{where}{kind}: unknown type {name!r}; installed: {', '.join(self.names(kind)) or 'none'}",
                hint="install the plugin that provides it (see `runnable plugins`) or fix the spelling",
            ) from None

    def create(self, kind: str, name: str, config: dict[str, Any], *, source: str = "") -> Any:
        """Instantiate the implementation, validating its ``config`` block with its own model."""
        cls = self.get(kind, name, source=source)
        try:
            return cls.model_validate(config or {})
        except ValidationError as error:
            raise ConfigurationError(_describe(error, kind, name, source)) from None


def _describe(error: ValidationError, kind: str, name: str, source: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "config"
    where = f"{source}: " if source else ""
    if first["type"] == "extra_forbidden":
        problem = "unknown key"
    elif first["type"] == "missing":
        problem = "missing required key"
    else:
        problem = f"invalid value ({first['msg']})"
    return f"{where}{kind}.config.{key}: {problem} for plugin {name!r}"


def _new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    if not pm.has_plugin("core"):
        # Running from a source tree without installed metadata: the defaults must still be there.
        from runnable import builtin_plugin

        pm.register(builtin_plugin, name="core")
    return pm


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    return _new_plugin_manager()


@functools.cache
def get_registry() -> Registry:
    return Registry(get_plugin_manager())


def reset() -> None:
    """Forget loaded plugins (tests that install a plugin distribution mid-session call this)."""
    get_plugin_manager.cache_clear()
    get_registry.cache_clear()
