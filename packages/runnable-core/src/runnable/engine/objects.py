"""Object parameters: values returned as ``pickled(name)`` live in the run's catalog as ``<name>.pickle``.

Each step that asks for an object unpickles its own copy, exactly as it would in a container on another
machine, so a pipeline behaves the same on the local executor and on an orchestrator.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Mapping
from typing import Any

from runnable.errors import ParameterError
from runnable.models.parameters import ObjectParameter, Parameter
from runnable.services.catalog import BaseCatalog


def catalog_name(name: str) -> str:
    return f"{name}.pickle"


def store_object(catalog: BaseCatalog, run_id: str, name: str, value: Any, *, step: str) -> ObjectParameter:
    try:
        with catalog.open_write(run_id, catalog_name(name)) as target:
            pickle.dump(value, target, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise ParameterError(f"step {step!r}: return {name!r} cannot be pickled: {error}") from None
    return ObjectParameter(value=name)


def load_object(catalog: BaseCatalog, run_id: str, name: str) -> Any:
    with catalog.open_read(run_id, catalog_name(name)) as source:
        return pickle.load(source)


class ParameterValues(Mapping[str, Any]):
    """The python values of a run's parameters; objects are unpickled only when a task asks for them."""

    def __init__(
        self,
        parameters: Mapping[str, Parameter],
        catalog: BaseCatalog,
        run_id: str,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.parameters = parameters
        self.catalog = catalog
        self.run_id = run_id
        self.extra = dict(extra or {})  # iteration values of map/loop branches

    def __getitem__(self, name: str) -> Any:
        if name in self.extra:
            return self.extra[name]
        parameter = self.parameters[name]
        if parameter.kind == "object":
            return load_object(self.catalog, self.run_id, parameter.value)
        return parameter.value

    def __iter__(self) -> Iterator[str]:
        yield from self.extra
        yield from (name for name in self.parameters if name not in self.extra)

    def __len__(self) -> int:
        return len(set(self.parameters) | set(self.extra))

    def __contains__(self, name: object) -> bool:
        return name in self.extra or name in self.parameters

    def serialisable(self) -> dict[str, Any]:
        """json and metric values only: what notebooks and shell commands receive."""
        values = {n: p.value for n, p in self.parameters.items() if p.kind != "object"}
        values.update(self.extra)
        return values
