"""Secrets managers: where the values a task asks for by name come from."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from runnable.services.base import Service


class BaseSecretsManager(Service):
    """Looks secrets up by name. Values are handed to a task's environment and to nothing else."""

    service_kind: ClassVar[str] = "secrets"

    @abstractmethod
    def get(self, name: str) -> str:
        """Return the secret's value or raise :class:`runnable.errors.SecretNotFoundError` naming it."""
