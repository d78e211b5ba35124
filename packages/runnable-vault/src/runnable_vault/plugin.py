"""The module the ``runnable`` entry point names: registers the ``vault`` secrets manager.

By import path: the manager module (and hvac) is imported only when a configuration chooses ``vault``.
"""

from __future__ import annotations

from runnable.hookspecs import hookimpl


@hookimpl
def register_secrets_managers() -> dict[str, str]:
    return {"vault": "runnable_vault.manager:VaultSecrets"}
