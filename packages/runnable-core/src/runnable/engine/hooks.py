"""The observers of one run: a run-scoped relay for the lifecycle hooks of :mod:`runnable.hookspecs`.

Observers that belong to a run (its experiment tracker, the console reporter of the command that started it)
are called through this relay, never registered on the process-wide plugin manager: two runs in two threads
of one process each see only their own events. Installed plugins that implement lifecycle hooks (a
notifier, a lineage exporter) are process-wide by nature and are called through the plugin manager as well.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from runnable import hookspecs
from runnable.errors import ConfigurationError

if TYPE_CHECKING:
    import pluggy

    from runnable.models.run_log import RunLog, StepLog

LIFECYCLE = ("run_started", "step_started", "step_finished", "run_finished")
_MARKER = f"{hookspecs.PROJECT}_impl"  # the attribute @hookimpl sets on the functions it marks
_SPECS = {name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), f"{hookspecs.PROJECT}_spec")}
# The arguments each lifecycle hook offers, as HookRelay passes them.
_OFFERED = {
    "run_started": ("run_log",),
    "step_started": ("run_id", "step_log"),
    "step_finished": ("run_id", "step_log", "parameters", "metrics"),
    "run_finished": ("run_log",),
}


@functools.cache
def _hook_names(cls: type) -> tuple[str, ...]:
    """The names of the ``@hookimpl`` methods of a class; a name that is no hook is an error naming it."""
    names = []
    for name in dir(cls):
        value = inspect.getattr_static(cls, name, None)
        if hasattr(value, _MARKER) or hasattr(getattr(value, "__func__", None), _MARKER):
            if name not in _SPECS:
                raise ConfigurationError(
                    f"{cls.__module__}.{cls.__qualname__}.{name}: @hookimpl names no runnable hook",
                    hint=f"lifecycle hooks are {', '.join(LIFECYCLE)}",
                )
            names.append(name)
    return tuple(names)


def _accepting(method: Callable[..., Any], hook: str) -> Callable[..., Any]:
    """As pluggy does, an implementation may take fewer arguments than its hook offers: pass only those.

    An implementation taking every argument its hook offers (the console reporter, most trackers) is called
    as it is: this runs four times a step, so no wrapper when none is needed.
    """
    parameters = inspect.signature(method).parameters.values()
    accepted = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if set(_OFFERED[hook]) <= set(accepted) or any(p.kind is p.VAR_KEYWORD for p in parameters):
        return method
    return lambda **offered: method(**{name: offered[name] for name in accepted if name in offered})


class HookRelay:
    """Calls each lifecycle hook on the run's own observers, then on the installed plugins that implement it."""

    def __init__(self, pm: pluggy.PluginManager | None, observers: Iterable[Any] = ()) -> None:
        self._pm = pm
        self._calls: dict[str, list[Callable[..., Any]]] = {name: [] for name in LIFECYCLE}
        for observer in observers:
            for name in _hook_names(type(observer)):
                if name in self._calls:
                    self._calls[name].append(_accepting(getattr(observer, name), name))
        if pm is not None:  # installed plugins observing every run, if any: skip the hook call when there are none
            for name in LIFECYCLE:
                if getattr(pm.hook, name).get_hookimpls():
                    self._calls[name].append(getattr(pm.hook, name))

    def observers_of(self, name: str) -> int:
        return len(self._calls[name])

    def run_started(self, run_log: RunLog) -> None:
        for call in self._calls["run_started"]:
            call(run_log=run_log)

    def step_started(self, run_id: str, step_log: StepLog) -> None:
        for call in self._calls["step_started"]:
            call(run_id=run_id, step_log=step_log)

    def step_finished(
        self, run_id: str, step_log: StepLog, parameters: dict[str, Any], metrics: dict[str, Any]
    ) -> None:
        for call in self._calls["step_finished"]:
            call(run_id=run_id, step_log=step_log, parameters=parameters, metrics=metrics)

    def run_finished(self, run_log: RunLog) -> None:
        for call in self._calls["run_finished"]:
            call(run_log=run_log)


SILENT = HookRelay(None)
