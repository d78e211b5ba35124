"""The errors a user can cause, each rendered as one line that names the place at fault.

Every error raised because of bad input derives from :class:`RunnableError`. The CLI prints
``str(error)`` (plus the optional ``hint`` on how to fix it) and exits non-zero; no traceback is shown
for these because the traceback points into runnable, not at the user's mistake.
"""

from __future__ import annotations


class RunnableError(Exception):
    """Base class: a one-line message that names the file, step or key at fault."""

    exit_code = 2
    # What a file read for this kind of error is called in messages ("pipeline file not found").
    subject = "file"

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class PipelineDefinitionError(RunnableError):
    """The pipeline (YAML or Python) is malformed: bad YAML, unknown step type, dangling ``next``, cycles."""

    subject = "pipeline file"


class ConfigurationError(RunnableError):
    """The configuration file names an unknown plugin, an unknown key or a value of the wrong type."""

    subject = "configuration file"


class ImportPathError(RunnableError):
    """A ``module.function`` path or a pipeline file that cannot be imported."""


class ParameterError(RunnableError):
    """A parameter is missing, malformed or cannot be bound to a function argument."""

    subject = "parameters file"


class CatalogError(RunnableError):
    """A catalog operation failed: a ``put`` glob matched nothing, an item is missing from the catalog."""


class SecretNotFoundError(RunnableError):
    """A task asked for a secret the secrets manager does not have."""


class RunLogNotFoundError(RunnableError):
    """No run log exists for the requested run id."""


class TaskFailedError(RunnableError):
    """A task ran and failed; the message names the step and says where its output was kept."""

    exit_code = 1


class AddressError(RunnableError):
    """A step address (dotted internal name and iteration values) that is not in the graph or not in the plan
    its composite step's fan-out recorded."""


class InfrastructureError(RunnableError):
    """A service the run depends on (run log store, catalog) could not be reached: not the task's fault."""

    exit_code = 3
