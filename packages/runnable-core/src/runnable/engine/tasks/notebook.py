"""Notebook tasks: a Jupyter notebook executed in a real kernel through nbclient.

Why nbclient: it is the Jupyter project's own, maintained execution library (papermill and nbconvert build
on it), and it runs the notebook in a separate ipykernel process, exactly as the notebook runs for its author
in Jupyter: the same kernel, the same magics, a crash in a cell cannot take the pipeline process down.
ploomber-engine, which the original runnable used, runs cells inside the calling process and has not been
released since 2024. ``optional_ploomber_args`` is accepted for compatibility and ignored.

Parameters (json and metric values) are injected as a code cell tagged ``injected-parameters`` right after
the cell tagged ``parameters`` (papermill's convention) or at the top. After the last cell a hidden cell
pickles the names listed in ``returns`` out of the kernel; it is removed before the executed notebook is
stored in the catalog, with the values of the step's secrets masked in every output.

A ``timeout`` bounds the whole notebook (each cell gets what is left); a kernel that dies (killed, segfault)
fails the step with its exit status or signal.
"""

from __future__ import annotations

import math
import pickle
import re
import shutil
import sys
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runnable.engine.capture import Redactor
from runnable.engine.tasks import BaseTaskType, TaskResult
from runnable.engine.tasks.limits import deadline_after, describe_exit, seconds_left, timed_out
from runnable.engine.tasks.masking import mask_returns
from runnable.errors import ImportPathError, ParameterError, TaskFailedError

if TYPE_CHECKING:
    from runnable.engine.objects import ParameterValues
    from runnable.models.graph import TaskNode

INJECTED_TAG = "injected-parameters"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _literal(value: Any) -> str:
    """A python expression for a JSON value (``repr`` is one, except for non-finite floats)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def executed_name(node: TaskNode) -> str:
    stem = Path(node.command).stem
    return f"{stem}-{re.sub(r'[^A-Za-z0-9_-]+', '_', node.internal_name)}_out.ipynb"


class NotebookTaskType(BaseTaskType):
    command_type: ClassVar[str] = "notebook"

    def run(
        self,
        node: TaskNode,
        values: ParameterValues,
        env: dict[str, str],
        result: TaskResult,
    ) -> None:
        try:
            import nbformat
            from nbclient import NotebookClient
            from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
        except ImportError:
            raise TaskFailedError(
                f"step {node.name!r}: notebook tasks need nbclient, nbformat and ipykernel",
                hint="pip install nbclient nbformat ipykernel (runnable-core depends on them)",
            ) from None
        path = Path(node.command)
        if path.suffix != ".ipynb":
            raise ImportPathError(f"step {node.name!r}: notebook {node.command!r} must be a .ipynb file")
        if not path.is_file():
            raise ImportPathError(f"step {node.name!r}: notebook {node.command!r} not found")
        notebook = nbformat.read(path, as_version=4)
        parameters = {k: v for k, v in values.serialisable().items() if _IDENTIFIER.match(k)}
        result.used = list(parameters)
        _inject_parameters(notebook, parameters, nbformat)

        # A private (0700) folder, removed as soon as the engine has kept the executed notebook (when it lets go
        # of ``result``), or at exit. It never holds a secret: the stored notebook is masked and the returns
        # file is deleted as soon as it is read.
        scratch = Path(tempfile.mkdtemp(prefix="runnable-nb-"))
        weakref.finalize(result, shutil.rmtree, str(scratch), True)
        returns_file = scratch / "returns.pickle"
        names = [spec.name for spec in node.returns]
        collector = nbformat.v4.new_code_cell(
            "import pickle as _runnable_pickle\n"
            f"with open({str(returns_file)!r}, 'wb') as _runnable_f:\n"
            f"    _runnable_pickle.dump({{_n: globals()[_n] for _n in {names!r} if _n in globals()}}, _runnable_f)\n"
        )
        notebook.cells.append(collector)
        deadline = deadline_after(node.timeout)
        kernel: dict[str, Any] = {}
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=None,
            # Each cell may run for what is left of the task's timeout (None: no limit).
            timeout_func=(lambda cell: max(seconds_left(deadline) or 0.0, 0.01)) if deadline else None,
            # A kernel stopped by a timeout or failure is killed at once, not asked to finish its cell.
            shutdown_kernel="immediate",
            # The kernel's own start-up chatter (transport warnings) is not the notebook's output.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            resources={"metadata": {"path": str(Path.cwd())}},
            on_notebook_start=lambda notebook: kernel.update(process=_kernel_process(client)),
        )
        executed = scratch / executed_name(node)
        redact = Redactor(env)
        try:
            client.execute()
        except CellExecutionError as error:
            raise TaskFailedError(
                f"step {node.name!r}: notebook {node.command} failed: {error.ename}: {error.evalue}"
            ) from None
        except CellTimeoutError:
            raise timed_out(node.name, node.timeout or 0) from None
        except DeadKernelError:
            code = _exit_code(kernel.get("process"))
            how = describe_exit(code) if code is not None else "ended"
            raise TaskFailedError(f"step {node.name!r}: notebook {node.command}: the kernel died: it {how}") from None
        finally:
            if collector in notebook.cells:
                notebook.cells.remove(collector)
            if redact.secrets:
                _mask_notebook(notebook, redact)
            _echo_outputs(notebook)
            nbformat.write(notebook, executed)
            result.files.append((executed.name, executed))
        try:
            with open(returns_file, "rb") as handle:
                found = pickle.load(handle)
        finally:
            returns_file.unlink(missing_ok=True)
        missing = [name for name in names if name not in found]
        if missing:
            raise ParameterError(
                f"step {node.name!r}: notebook {node.command} did not define return {missing[0]!r}",
                hint=f"assign {missing[0]} in a cell of the notebook",
            )
        result.returned = mask_returns(found, env)


def _kernel_process(client: Any) -> Any:
    """The kernel's ``Popen`` (local kernels), kept to read its exit status if it dies."""
    provisioner = getattr(getattr(client, "km", None), "provisioner", None)
    return getattr(provisioner, "process", None)


def _exit_code(process: Any) -> int | None:
    if process is None:
        return None
    try:
        return process.wait(timeout=5)
    except Exception:  # noqa: BLE001 - best effort: the message then says "ended"
        return process.poll()


def _mask_notebook(node: Any, redact: Redactor) -> None:
    """Mask secret values in every string of the notebook (outputs, sources, metadata), in place."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        if isinstance(value, str):
            masked = redact(value)
            if masked is not value:
                node[key] = masked
        elif isinstance(value, (dict, list)):
            _mask_notebook(value, redact)


def _inject_parameters(notebook: Any, parameters: dict[str, Any], nbformat: Any) -> None:
    lines = ["# Parameters injected by runnable"] + [f"{k} = {_literal(v)}" for k, v in parameters.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = [INJECTED_TAG]
    position = 0
    for index, existing in enumerate(notebook.cells):
        if "parameters" in existing.get("metadata", {}).get("tags", []):
            position = index + 1
            break
    notebook.cells.insert(position, cell)


def _echo_outputs(notebook: Any) -> None:
    """Print the notebook's stream outputs and errors so they reach the console and the execution log."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                sys.stdout.write(output.get("text", ""))
            elif output.get("output_type") == "error":
                sys.stdout.write(_ANSI.sub("", "\n".join(output.get("traceback", []))) + "\n")
