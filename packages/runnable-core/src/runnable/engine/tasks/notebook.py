"""Notebook tasks: a Jupyter notebook executed in a real kernel through nbclient.

Why nbclient: it is the Jupyter project's own, maintained execution library (papermill and nbconvert build
on it), and it runs the notebook in a separate ipykernel process, exactly as the notebook runs for its author
in Jupyter: the same kernel, the same magics, a crash in a cell cannot take the pipeline process down.
ploomber-engine, which the original runnable used, runs cells inside the calling process and has not been
released since 2024. ``optional_ploomber_args`` is accepted for compatibility and ignored.

Parameters (json and metric values) are injected as a code cell tagged ``injected-parameters`` right after
the cell tagged ``parameters`` (papermill's convention) or at the top. After the last cell a hidden cell
pickles the names listed in ``returns`` out of the kernel; it is removed before the executed notebook is
stored in the catalog.
"""

from __future__ import annotations

import math
import pickle
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runnable.engine.tasks import BaseTaskType, TaskResult
from runnable.errors import ImportPathError, ParameterError, TaskFailedError

if TYPE_CHECKING:
    from runnable.engine.context import RunContext
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
        context: RunContext,
        values: ParameterValues,
        env: dict[str, str],
        result: TaskResult,
    ) -> None:
        try:
            import nbformat
            from nbclient import NotebookClient
            from nbclient.exceptions import CellExecutionError
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

        scratch = Path(tempfile.mkdtemp(prefix="runnable-nb-"))
        returns_file = scratch / "returns.pickle"
        names = [spec.name for spec in node.returns]
        collector = nbformat.v4.new_code_cell(
            "import pickle as _runnable_pickle\n"
            f"with open({str(returns_file)!r}, 'wb') as _runnable_f:\n"
            f"    _runnable_pickle.dump({{_n: globals()[_n] for _n in {names!r} if _n in globals()}}, _runnable_f)\n"
        )
        notebook.cells.append(collector)
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=None,
            # The kernel's own start-up chatter (transport warnings) is not the notebook's output.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            resources={"metadata": {"path": str(Path.cwd())}},
        )
        executed = scratch / executed_name(node)
        try:
            client.execute()
        except CellExecutionError as error:
            raise TaskFailedError(
                f"step {node.name!r}: notebook {node.command} failed: {error.ename}: {error.evalue}"
            ) from None
        finally:
            notebook.cells.remove(collector)
            _echo_outputs(notebook)
            nbformat.write(notebook, executed)
            result.files.append((executed.name, executed))
        with open(returns_file, "rb") as handle:
            found = pickle.load(handle)
        missing = [name for name in names if name not in found]
        if missing:
            raise ParameterError(
                f"step {node.name!r}: notebook {node.command} did not define return {missing[0]!r}",
                hint=f"assign {missing[0]} in a cell of the notebook",
            )
        result.returned = found


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
