"""Parameters: where the initial values come from, how a function's arguments are bound, how returns are kept.

Binding rules (the original runnable's, kept so existing task code runs unchanged):

* an argument is bound by name from the current parameters; an argument with a default may be missing;
* an argument annotated with a pydantic model is built from the stored dict;
* ``**kwargs`` receives every parameter; ``*args`` receives nothing;
* an argument annotated ``argparse.Namespace`` (conventionally ``args``) receives, as attributes, every
  parameter not bound to another argument by name: a function written for ``argparse`` runs unchanged;
* one return name takes the whole returned value; several names take the items of a returned tuple/list.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from runnable.errors import ParameterError
from runnable.models.graph import ReturnSpec
from runnable.models.parameters import JsonParameter, MetricParameter, Parameter

ENV_PREFIX = "RUNNABLE_PRM_"
PARAMETERS_FILE_ENV = "RUNNABLE_PARAMETERS_FILE"
_PRIMITIVES = (str, int, float, bool, type(None))


def parse_env_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def initial_parameters(parameters_file: str = "") -> dict[str, Parameter]:
    """Parameters from the YAML file, then ``RUNNABLE_PRM_<name>`` variables (names lower-cased) over them."""
    values: dict[str, Any] = {}
    parameters_file = os.environ.get(PARAMETERS_FILE_ENV, "") or parameters_file
    if parameters_file:
        from runnable.yaml_io import load_yaml_file  # pyyaml only when a file is read

        loaded = load_yaml_file(parameters_file, ParameterError)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ParameterError(
                f"{parameters_file}: a parameters file is a mapping of name: value, got {type(loaded).__name__}"
            )
        values.update(loaded)
    for key, raw in os.environ.items():
        if key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX):
            values[key[len(ENV_PREFIX) :].lower()] = parse_env_value(raw)
    return {str(name): JsonParameter(value=value) for name, value in values.items()}


def _annotations(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        return getattr(func, "__annotations__", {})


def _inspect(func: Callable[..., Any]) -> tuple[inspect.Signature, dict[str, Any]]:
    """The function's signature and its annotations resolved (only when some are strings, as under
    ``from __future__ import annotations``)."""
    signature = inspect.signature(func)
    if any(isinstance(p.annotation, str) for p in signature.parameters.values()):
        return signature, _annotations(func)
    return signature, {}


# A map item or a chain step calls the same function again and again: inspecting it and evaluating its string
# annotations (which compiles each one) was a third of the engine's cost per python step (issue 22).
_inspect_cached = functools.lru_cache(maxsize=256)(_inspect)


def _signature(func: Callable[..., Any]) -> tuple[inspect.Signature, dict[str, Any]]:
    try:
        return _inspect_cached(func)
    except TypeError:  # an unhashable callable: inspect it every time
        return _inspect(func)


def _coerce(value: Any, annotation: Any, argument: str) -> Any:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        if isinstance(value, annotation):
            return value
        return annotation.model_validate(value if isinstance(value, dict) else {argument: value})
    if annotation in (int, float, str) and not isinstance(value, annotation) and isinstance(value, _PRIMITIVES):
        return annotation(value)
    return value


def bind_arguments(
    func: Callable[..., Any],
    values: dict[str, Any],
    *,
    step: str,
    qualname: str,
) -> dict[str, Any]:
    """Keyword arguments for ``func`` from ``values`` (parameter name -> python value)."""
    signature, hints = _signature(func)
    kwargs: dict[str, Any] = {}
    takes_var_keyword = False
    namespaces: list[str] = []
    for name, argument in signature.parameters.items():
        if argument.kind is inspect.Parameter.VAR_KEYWORD:
            takes_var_keyword = True
            continue
        if argument.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if _is_namespace(name, argument.annotation, hints):
            namespaces.append(name)
            continue
        if name not in values:
            if argument.default is inspect.Parameter.empty:
                known = ", ".join(sorted(values)) or "none"
                raise ParameterError(
                    f"step {step!r}: argument {name!r} of {qualname} has no parameter of that name "
                    f"(parameters: {known})",
                    hint="return it from an earlier step, add it to the parameters file, or give it a default",
                )
            continue
        annotation = argument.annotation
        if annotation is not inspect.Parameter.empty:
            if isinstance(annotation, str):
                annotation = hints.get(name, annotation)
            try:
                kwargs[name] = _coerce(values[name], annotation, name)
            except Exception as error:  # pydantic validation or a failed cast
                first = str(error).splitlines()[0]
                raise ParameterError(
                    f"step {step!r}: parameter {name!r} does not fit {qualname}'s annotation: {first}"
                ) from None
        else:
            kwargs[name] = values[name]
    if namespaces:
        bound = set(kwargs)
        extra = {name: values[name] for name in values if name not in bound and name not in namespaces}
        for name in namespaces:
            kwargs[name] = argparse.Namespace(**extra)
    if takes_var_keyword:
        for name in values:
            if name not in kwargs:
                kwargs[name] = values[name]
    return kwargs


def _is_namespace(name: str, annotation: Any, hints: dict[str, Any]) -> bool:
    """Whether the argument is annotated ``argparse.Namespace`` (also as a string, under postponed annotations)."""
    if annotation is argparse.Namespace:
        return True
    if isinstance(annotation, str) and annotation.rsplit(".", 1)[-1] == "Namespace":
        return hints.get(name) is argparse.Namespace
    return False


def split_returns(returns: list[ReturnSpec], result: Any, *, step: str) -> dict[str, Any]:
    """Bind a task's result to its return names."""
    if not returns:
        return {}
    if len(returns) == 1:
        return {returns[0].name: result}
    if not isinstance(result, (tuple, list)) or len(result) != len(returns):
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else "a single value"
        raise ParameterError(
            f"step {step!r}: returns names {len(returns)} values "
            f"({', '.join(r.name for r in returns)}) but the task returned {got}"
        )
    return {spec.name: value for spec, value in zip(returns, result, strict=True)}


def _check_json(name: str, value: Any, step: str) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, _PRIMITIVES):
        return value
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        raise ParameterError(
            f"step {step!r}: return {name!r} ({type(value).__name__}) is not JSON serialisable",
            hint=f"return it as pickled({name!r}) to keep it in the catalog as an object",
        ) from None


def _check_metric(name: str, value: Any, step: str) -> Any:
    numbers = value if isinstance(value, (list, tuple)) else [value]
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers):
        raise ParameterError(f"step {step!r}: metric {name!r} must be a number or a list of numbers, got {value!r}")
    return list(value) if isinstance(value, tuple) else value


def json_parameter(name: str, value: Any, step: str) -> JsonParameter:
    return JsonParameter(value=_check_json(name, value, step))


def metric_parameter(name: str, value: Any, step: str) -> MetricParameter:
    return MetricParameter(value=_check_metric(name, value, step))
