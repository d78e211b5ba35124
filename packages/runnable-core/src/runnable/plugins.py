"""The plugin manager: loads the ``runnable`` entry point group and maps ``type:`` names to classes.

Which distribution contributed an implementation is tracked per plugin, so ``runnable plugins`` can say
where every name comes from and an unknown ``type:`` can list what is installed.

Loading is deterministic and loud about mistakes:

- a plugin module that fails to import is an error naming its entry point and distribution (a broken
  install should not look like a missing plugin);
- the same distribution seen twice on ``sys.path`` is loaded once (the first, as Python would import it);
- two distributions using the same entry point name are both loaded (the second under ``dist:name``);
- two plugins offering the same ``type:`` for the same kind are both listed, and choosing that name is an
  error naming both, rather than whichever happened to load last silently winning.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy
from pydantic import ValidationError

from runnable import hookspecs
from runnable.errors import ConfigurationError, RunnableError

if TYPE_CHECKING:
    from runnable.models.config import RunnableConfig

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

CORE = "core"
NOT_INSTALLED = "(not installed)"


@dataclass(frozen=True)
class Implementation:
    """One ``type:`` name a plugin offers for one kind. ``target`` is the class, or the ``"module:Class"``
    path a plugin registered instead (imported when the name is chosen: see :mod:`runnable.hookspecs`)."""

    kind: str
    name: str
    target: type | str
    plugin: str
    distribution: str
    version: str

    def origin(self) -> str:
        return Origin(self.distribution, self.version).describe(self.plugin)

    @functools.cached_property
    def cls(self) -> type:
        if not isinstance(self.target, str):
            return self.target
        module, _, attribute = self.target.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attribute)
        except Exception as error:  # a broken plugin install: say which, as for its entry point
            raise RunnableError(
                f"{self.origin()}: {self.kind} {self.name!r}: cannot load {self.target!r}: "
                f"{type(error).__name__}: {error}",
                hint=f"fix or uninstall {self.distribution} (pip uninstall {self.distribution})",
            ) from error
        declared = _name_of(cls, self.kind, self.plugin, Origin(self.distribution, self.version))
        if declared != self.name:
            raise RunnableError(
                f"{self.origin()}: registered {self.kind} {self.name!r} as {self.target!r}, whose name is {declared!r}",
                hint="register the class under the name it declares",
            )
        return cls


@dataclass(frozen=True)
class Origin:
    distribution: str
    version: str

    def describe(self, plugin: str) -> str:
        return f"plugin {plugin!r} ({' '.join(filter(None, (self.distribution, self.version)))})"


class Registry:
    """Every implementation contributed by every loaded plugin, by kind and name."""

    def __init__(self, pm: pluggy.PluginManager, origins: dict[str, Origin] | None = None) -> None:
        self.pm = pm
        if origins is None:  # a plugin manager loaded by pluggy itself
            origins = {
                pm.get_name(plugin) or "": Origin(dist.project_name, dist.version)
                for plugin, dist in pm.list_plugin_distinfo()
            }
        self._by_kind: dict[str, dict[str, list[Implementation]]] = {}
        for kind, hook_name in KIND_HOOKS.items():
            found: dict[str, list[Implementation]] = {}
            # Call each implementation on its own so every class is attributed to the plugin that contributed
            # it. get_hookimpls() is in registration order (pluggy calls them last-registered first).
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                origin = origins.get(impl.plugin_name, Origin(NOT_INSTALLED, ""))
                for name, target in _registered(impl.function(), kind, impl.plugin_name, origin):
                    entry = Implementation(kind, name, target, impl.plugin_name, origin.distribution, origin.version)
                    same = found.setdefault(entry.name, [])
                    if not any(other.target == target for other in same):
                        same.append(entry)
            self._by_kind[kind] = found

    def names(self, kind: str) -> list[str]:
        return sorted(self._by_kind[kind])

    def all(self) -> list[Implementation]:
        """Every implementation, including several offering the same name (``runnable plugins`` shows all)."""
        return [impl for kind in self._by_kind.values() for impls in kind.values() for impl in impls]

    def implementation(self, kind: str, name: str, *, source: str = "") -> Implementation:
        where = f"{source}: " if source else ""
        found = self._by_kind[kind].get(name, [])
        if not found:
            raise ConfigurationError(
                f"{where}{kind}: unknown type {name!r}; installed: {', '.join(self.names(kind)) or 'none'}",
                hint="install the plugin that provides it (see `runnable plugins`) or fix the spelling",
            )
        if len(found) > 1:
            raise ConfigurationError(
                f"{where}{kind}: type {name!r} is provided by several plugins: "
                + ", ".join(impl.origin() for impl in found),
                hint="uninstall all but one of those distributions",
            )
        return found[0]

    def get(self, kind: str, name: str, *, source: str = "") -> type:
        return self.implementation(kind, name, source=source).cls

    def configured(self, config: RunnableConfig, kind: str) -> Any:
        """The ``kind`` service (``run-log-store``, ``catalog``...) the configuration chooses, created."""
        section = config.sections[kind]
        return self.create(kind, section.type, section.config, source=config.source)

    def create(self, kind: str, name: str, config: dict[str, Any], *, source: str = "") -> Any:
        """Instantiate the implementation, validating its ``config`` block with its own model."""
        cls = self.get(kind, name, source=source)
        try:
            return cls.model_validate(config or {})
        except ValidationError as error:
            raise ConfigurationError(_describe(error, cls, kind, name, source)) from None


def _registered(result: Any, kind: str, plugin: str, origin: Origin) -> list[tuple[str, type | str]]:
    """What one registration hook returned, as (name, class or ``"module:Class"``) pairs."""
    if isinstance(result, dict):
        for name, path in result.items():
            module, colon, attribute = path.partition(":") if isinstance(path, str) else ("", "", "")
            if not (isinstance(name, str) and name and module and colon and attribute):
                raise RunnableError(
                    f"{origin.describe(plugin)}: {KIND_HOOKS[kind]} returned {name!r}: {path!r}",
                    hint='map each type name to the import path of its class: {"my-store": "my_pkg.store:MyStore"}',
                )
        return list(result.items())
    return [(_name_of(cls, kind, plugin, origin), cls) for cls in result or []]


def _name_of(cls: Any, kind: str, plugin: str, origin: Origin) -> str:
    """The ``type:`` name of a registered class, checking it was registered under the right kind."""
    where = origin.describe(plugin)
    attribute = "command_type" if kind == "task-type" else "service_name"
    name = getattr(cls, attribute, None)
    if not isinstance(name, str) or not name:
        raise RunnableError(
            f"{where}: {kind} implementation {getattr(cls, '__qualname__', cls)!r} has no {attribute}",
            hint=f"give the class a `{attribute}: ClassVar[str]`, the name users write as `type:`",
        )
    declared = getattr(cls, "service_kind", kind)
    if kind != "task-type" and declared != kind:
        raise RunnableError(
            f"{where}: {name!r} is a {declared} but was registered through {KIND_HOOKS[kind]}",
            hint=f"return it from {KIND_HOOKS.get(declared, 'the hook of its kind')} instead",
        )
    return name


def _describe(error: ValidationError, cls: Any, kind: str, name: str, source: str) -> str:
    """``<file>: catalog.config.<key>: <problem> for plugin '<name>'``, one clause per problem."""
    where = f"{source}: " if source else ""
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "config"
        if item["type"] == "extra_forbidden":
            known = ", ".join(sorted(getattr(cls, "model_fields", {}))) or "none"
            problem = f"unknown key (known keys: {known})"
        elif item["type"] == "missing":
            problem = "missing required key"
        else:
            problem = f"invalid value ({item['msg']})"
        problems.append(f"{kind}.config.{key}: {problem}")
    return f"{where}{'; '.join(problems)} for plugin {name!r}"


def _load_entry_points(pm: pluggy.PluginManager) -> dict[str, Origin]:
    """Register every plugin of the ``runnable`` entry point group; returns plugin name -> distribution."""
    origins: dict[str, Origin] = {}
    seen_distributions: set[str] = set()
    for dist in importlib.metadata.distributions():
        points = [ep for ep in dist.entry_points if ep.group == hookspecs.PROJECT]
        if not points:
            continue  # most distributions: their METADATA (an email-format parse each) is not read at all
        dist_name = dist.metadata["Name"] or ""
        canonical = re.sub(r"[-_.]+", "-", dist_name).lower()
        if canonical in seen_distributions:
            continue  # an installed copy shadowed by an earlier one on sys.path is not loaded
        seen_distributions.add(canonical)
        for ep in points:
            name = ep.name if pm.get_plugin(ep.name) is None else f"{dist_name}:{ep.name}"
            if pm.is_blocked(name) or pm.get_plugin(name) is not None:
                continue
            try:
                plugin = ep.load()
            # any failure to import a plugin is reported the same way
            except Exception as error:
                raise RunnableError(
                    f"{Origin(dist_name, dist.version).describe(ep.name)}: cannot load {ep.value!r}: "
                    f"{type(error).__name__}: {error}",
                    hint=f"fix or uninstall {dist_name} (pip uninstall {dist_name})",
                ) from error
            if pm.is_registered(plugin):
                continue
            pm.register(plugin, name=name)
            origins[name] = Origin(dist_name, dist.version)
    return origins


def _new_plugin_manager() -> tuple[pluggy.PluginManager, dict[str, Origin]]:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    origins = _load_entry_points(pm)
    # The core's own plugin, loaded the way any entry point is (by name, not imported from here).
    builtin_plugin = importlib.metadata.EntryPoint(CORE, "runnable.builtin_plugin", hookspecs.PROJECT).load()
    if not pm.is_registered(builtin_plugin):
        # Running from a source tree without installed metadata: the defaults must still be there.
        pm.register(
            builtin_plugin,
            name=CORE if pm.get_plugin(CORE) is None else f"runnable-core:{CORE}",
        )
    _check_hook_names(pm, origins)
    return pm, origins


def _check_hook_names(pm: pluggy.PluginManager, origins: dict[str, Origin]) -> None:
    """A plugin function marked ``@hookimpl`` whose name is no runnable hook is a typo: say which."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as error:
        name = pm.get_name(error.plugin) or "?"
        origin = origins.get(name)
        where = origin.describe(name) if origin else f"plugin {name!r}"
        raise RunnableError(
            f"{where}: {error}",
            hint="a @hookimpl function must be named like a hook of runnable.hookspecs",
        ) from None


@functools.cache
def _loaded() -> tuple[pluggy.PluginManager, dict[str, Origin]]:
    return _new_plugin_manager()


def get_plugin_manager() -> pluggy.PluginManager:
    return _loaded()[0]


@functools.cache
def get_registry() -> Registry:
    pm, origins = _loaded()
    return Registry(pm, origins)


def reset() -> None:
    """Forget loaded plugins (tests that install a plugin distribution mid-session call this)."""
    _loaded.cache_clear()
    get_registry.cache_clear()
