"""Where a secret name points in the KV store: ``[sub/path#]key[@version]``.

A task asks for secrets by name, and the name is also the environment variable the task sees. The plain
form, a name such as ``DB_PASSWORD``, is the key of that name in the secret at the configured ``path``. The
long form reaches elsewhere under the mount and may pin a version:

=============================  ==================================================================
name                           reads
=============================  ==================================================================
``DB_PASSWORD``                key ``DB_PASSWORD`` of the latest version of ``<path>``
``DB_PASSWORD@3``              key ``DB_PASSWORD`` of version 3 of ``<path>``
``billing/stripe#api_key``     key ``api_key`` of the latest version of ``<path>/billing/stripe``
``billing/stripe#api_key@2``   key ``api_key`` of version 2 of ``<path>/billing/stripe``
=============================  ==================================================================

Shell tasks cannot read an environment variable called ``billing/stripe#api_key``, so the configuration's
``aliases`` give a long form a plain name (``STRIPE_KEY: billing/stripe#api_key@2``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runnable.errors import SecretNotFoundError

_VERSION = re.compile(r"^(?P<rest>.+)@(?P<version>[0-9]+)$")


@dataclass(frozen=True)
class SecretRef:
    """One key of one version (``None``: the latest) of the secret at ``path`` inside the mount."""

    path: str
    key: str
    version: int | None

    def where(self, mount: str) -> str:
        """``mount/path`` and the version when pinned, as messages name the place."""
        place = f"{mount}/{self.path}"
        return place if self.version is None else f"{place} (version {self.version})"


def _join(*parts: str) -> str:
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


def parse(name: str, reference: str, base_path: str) -> SecretRef:
    """The place ``reference`` (the name itself, or its alias) points to, below ``base_path``."""
    rest, version = reference, None
    pinned = _VERSION.match(reference)
    if pinned:
        rest, version = pinned["rest"], int(pinned["version"])
    sub_path, hash_sign, key = rest.rpartition("#")
    if not hash_sign:
        sub_path, key = "", rest
    path = _join(base_path, sub_path)
    if not key or not path or version == 0:
        raise SecretNotFoundError(
            f"secret {name!r}: secrets manager 'vault' cannot tell where it is ({reference!r})",
            hint="name a key of the secret at config.path, or write 'sub/path#key' (optionally '@<version>' >= 1)",
        )
    return SecretRef(path=path, key=key, version=version)
