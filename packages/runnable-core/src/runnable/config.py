"""Reading the configuration file: which file, ``${VAR}`` expansion and section checks.

Precedence for which file: the CLI's ``--config``, then ``configuration_file=`` given to ``execute()``,
then the ``RUNNABLE_CONFIGURATION_FILE`` environment variable; with none of them, the embedded defaults.
"""

from __future__ import annotations

import os
import re
from typing import Any

from runnable.errors import ConfigurationError
from runnable.models.config import DEFAULT_TYPES, SECTIONS, RunnableConfig, ServiceConfig

CONFIG_ENV = "RUNNABLE_CONFIGURATION_FILE"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Sections the original runnable knew under other names.
_ALIASES = {"executor": "pipeline-executor", "secrets-manager": "secrets", "run_log_store": "run-log-store"}


def resolve_config_path(configuration_file: str | None) -> str:
    return configuration_file or os.environ.get(CONFIG_ENV, "")


def expand_env(value: Any, source: str, key: str = "") -> Any:
    """Replace ``${VAR}`` in every string of ``value`` from the environment; a missing variable is an error."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigurationError(
                    f"{source}: {key}: environment variable ${{{name}}} is not set",
                    hint=f"export {name}=... before running, or write the value in the file",
                )
            return os.environ[name]

        return _VAR.sub(substitute, value)
    if isinstance(value, dict):
        return {k: expand_env(v, source, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, source, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def load_config(configuration_file: str | None = None) -> RunnableConfig:
    path = resolve_config_path(configuration_file)
    sections = {name: ServiceConfig(type=default) for name, default in DEFAULT_TYPES.items()}
    if not path:
        return RunnableConfig(sections=sections)
    from runnable.yaml_io import load_yaml_file  # pyyaml only when a file is read

    raw = load_yaml_file(path, ConfigurationError) or {}
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path}: a configuration file is a mapping of sections, got {type(raw).__name__}")
    for name, body in raw.items():
        section = _ALIASES.get(name, name)
        if section not in SECTIONS:
            raise ConfigurationError(
                f"{path}: unknown section {name!r}; known sections: {', '.join(SECTIONS)}",
            )
        if not isinstance(body, dict) or "type" not in body:
            raise ConfigurationError(f"{path}: {name}: a section needs a 'type' (e.g. type: {DEFAULT_TYPES[section]})")
        extra = set(body) - {"type", "config"}
        if extra:
            raise ConfigurationError(
                f"{path}: {name}: unknown key {sorted(extra)[0]!r}; a section has 'type' and 'config'"
            )
        config = body.get("config") or {}
        if not isinstance(config, dict):
            raise ConfigurationError(f"{path}: {name}.config: must be a mapping of settings")
        kind = expand_env(body["type"], path, f"{name}.type")
        if not isinstance(kind, str) or not kind:
            raise ConfigurationError(f"{path}: {name}.type: must be the name of a plugin, got {kind!r}")
        sections[section] = ServiceConfig(type=kind, config=expand_env(config, path, f"{name}.config"))
    return RunnableConfig(source=path, sections=sections)
