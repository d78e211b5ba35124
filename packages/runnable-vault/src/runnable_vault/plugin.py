"""The module the ``runnable`` entry point names: registers the ``vault`` secrets manager.

The implementation module is imported inside the hook, so listing plugins never imports hvac.
"""

from __future__ import annotations

from runnable.hookspecs import hookimpl


@hookimpl
def register_secrets_managers() -> list[type]:
    from runnable_vault.manager import VaultSecrets

    return [VaultSecrets]
