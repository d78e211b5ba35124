"""Running one node and recording it: the per-step hot path.

Everything here runs once per step, so it does only what the record needs: no re-reading of the run log, no
git calls (the code identity is read once per run), and the execution log is stored only when there is
something in it or the step failed.
"""

from __future__ import annotations

import json
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runnable.engine.capture import CapturedOutput, Redactor, capture_output, environment
from runnable.engine.context import RunContext, Scope
from runnable.engine.objects import ParameterValues, store_object
from runnable.engine.parameters import json_parameter, metric_parameter
from runnable.engine.tasks import TaskResult
from runnable.errors import RunnableError
from runnable.models.graph import BaseNode, TaskNode
from runnable.models.parameters import JsonParameter, Parameter
from runnable.models.run_log import FAIL, PROCESSING, SUCCESS, StepAttempt, StepLog


def now() -> datetime:
    """Run logs hold timezone-aware UTC times: steps recorded by containers in other zones compare correctly."""
    return datetime.now(timezone.utc)


def execution_log_name(internal_name: str, attempt: int = 1) -> str:
    """What the task printed (and its traceback) in the catalog; later attempts get their own file."""
    suffix = f".attempt-{attempt}" if attempt > 1 else ""
    return f"{internal_name}{suffix}.execution.log"


def begin(
    node: BaseNode,
    context: RunContext,
    scope: Scope,
    step_type: str,
    record: StepLog | None = None,
    *,
    store: bool = True,
) -> StepLog:
    """Record that a step started (in memory and, unless ``store`` is false, in the store) and tell the observers.

    ``record`` is what this address already holds (a composite step fanned out again, a task an orchestrator
    runs again after a failed attempt): its attempts and branches are kept. A step that runs nothing (a
    terminal or stub step, a mocked or reused task) ends at once: only its end is written to the store.
    """
    step_log = StepLog(
        name=node.name,
        internal_name=scope.internal_name(node.name),
        status=PROCESSING,
        step_type=step_type,
        code_identities=[context.code_identity],
    )
    if record is not None:
        step_log.attempts = list(record.attempts)
        step_log.branches = dict(record.branches)
        step_log.data_catalog = list(record.data_catalog)
    if not context.job:  # a job's single record is written when the run finishes
        assert context.run_log is not None
        context.run_log.put_step(step_log)
        if store:
            context.run_log_store.put_step_log(context.run_id, step_log)
    context.relay.step_started(run_id=context.run_id, step_log=step_log)
    return step_log


def end(
    context: RunContext, scope: Scope, step_log: StepLog, new_parameters: dict[str, Parameter], metrics: dict[str, Any]
) -> StepLog:
    """Record how a step ended, make its returns visible to the steps after it, tell the observers.

    Only a step that succeeded returns anything to its scope: the same rule a process that reads the run log
    back applies (:mod:`runnable.engine.scopes`), so in-process and container runs see the same parameters.
    """
    assert context.run_log is not None
    if new_parameters and step_log.status == SUCCESS:
        scope.parameters.update(new_parameters)
        scope.returned.update(new_parameters)
        if scope.is_top:  # branch parameters reach the run when their composite step merges them
            context.parameters.update(new_parameters)
            context.run_log_store.put_parameters(context.run_id, new_parameters)
    if context.job:
        context.run_log.job = step_log
    else:
        context.run_log.put_step(step_log)
        context.run_log_store.put_step_log(context.run_id, step_log)
    json_values = {n: p.value for n, p in new_parameters.items() if p.kind == "json"}
    context.relay.step_finished(run_id=context.run_id, step_log=step_log, parameters=json_values, metrics=metrics)
    return step_log


def run_task(
    node: TaskNode, context: RunContext, scope: Scope, step_type: str = "task", record: StepLog | None = None
) -> StepLog:
    """Run a task node until an attempt succeeds or ``max_attempts`` attempts (counting recorded ones) ran."""
    step_log = begin(node, context, scope, step_type, record)
    new_parameters: dict[str, Parameter] = {}
    metrics: dict[str, Any] = {}
    attempt = None
    for number in range(len(step_log.attempts) + 1, node.max_attempts + 1):
        attempt, new_parameters, metrics = _attempt(node, context, scope, step_log, number)
        if attempt.status == SUCCESS:
            break
    if attempt is None:  # an orchestrator ran it again although every attempt was used: say so, run nothing
        attempt = StepAttempt(attempt_number=len(step_log.attempts) + 1, start_time=now(), end_time=now())
        attempt.message = f"step {node.name!r}: all {node.max_attempts} attempts were used"
        step_log.attempts.append(attempt)
    step_log.status = attempt.status
    step_log.message = attempt.message
    return end(context, scope, step_log, new_parameters, metrics)


def record_without_running(
    node: BaseNode, context: RunContext, scope: Scope, step_type: str, attempt: StepAttempt, **fields: Any
) -> StepLog:
    """Record a step that succeeded without running anything (stub, terminal step, mocked or reused task).

    One record in the store, not two: nothing happens between its start and its end that a reader could see
    (each map item's success step wrote two of a branch's four records)."""
    step_log = begin(node, context, scope, step_type, store=False)
    step_log.attempts.append(attempt)
    for name, value in fields.items():
        setattr(step_log, name, value)
    step_log.status = SUCCESS
    return end(context, scope, step_log, dict(attempt.output_parameters), dict(attempt.user_defined_metrics))


def patched_task(node: TaskNode, patch: dict[str, Any]) -> TaskNode:
    """``node`` with some of its fields replaced (the mocked executor's patches)."""
    fields = node.model_dump(by_alias=True)
    fields.update(patch)
    return TaskNode.model_validate(fields)  # no SDK function: the patched command is what runs


def _attempt(
    node: TaskNode, context: RunContext, scope: Scope, step_log: StepLog, number: int
) -> tuple[StepAttempt, dict[str, Parameter], dict[str, Any]]:
    """One attempt: catalog get, the command with its secrets set, returns kept, catalog put."""
    attempt = StepAttempt(attempt_number=number, start_time=now(), status=PROCESSING)
    step_log.attempts.append(attempt)
    catalog = context.catalog
    values = ParameterValues(scope.parameters, catalog, context.run_id, scope.iteration)
    result = TaskResult()
    new_parameters: dict[str, Parameter] = {}
    metrics: dict[str, Any] = {}
    redact = _NO_SECRETS
    captured: CapturedOutput | None = None
    try:
        if node.catalog:
            folder = _data_folder(node, catalog)
            for pattern in node.catalog.get:
                step_log.data_catalog.extend(catalog.get(context.run_id, pattern, folder))
        secrets = {name: context.secrets.get(name) for name in node.secrets}
        if secrets:
            redact = Redactor(secrets)
        task_type = context.task_types[node.command_type]
        with capture_output(redact) as captured:
            try:
                with environment({**_iteration_environment(scope), **secrets}):
                    task_type.run(node, values, secrets, result)
            except RunnableError:
                raise
            except BaseException as error:
                _print_user_traceback(error)  # into the captured output: the execution log keeps it
                raise
        new_parameters, metrics = _keep_returns(node, context, scope, result)
        if node.catalog:
            folder = _data_folder(node, catalog)
            for pattern in node.catalog.put:
                step_log.data_catalog.extend(
                    catalog.put(context.run_id, pattern, folder, store_copy=node.catalog.store_copy)
                )
        attempt.status = SUCCESS
    except Exception as error:
        attempt.status = FAIL
        attempt.message = redact(one_line_message(node, error))
    finally:
        captured = captured if captured is not None else CapturedOutput()
        try:
            for name, path in result.files:
                step_log.data_catalog.append(catalog.put_file(context.run_id, name, path))
            if captured or attempt.status == FAIL:
                if attempt.status == FAIL and attempt.message not in captured.tail():
                    captured.write(f"\n{attempt.message}\n")
                name = execution_log_name(step_log.internal_name, number)
                step_log.data_catalog.append(captured.save(catalog, context.run_id, name))
        except OSError as error:  # the catalog cannot be written (disk full, name too long): the step fails
            if attempt.status != FAIL:
                attempt.status = FAIL
                attempt.message = redact(one_line_message(node, error))
        finally:
            captured.close()
    attempt.end_time = now()
    attempt.input_parameters = _inputs(result.used, scope)
    attempt.output_parameters = new_parameters
    attempt.user_defined_metrics = metrics
    return attempt, new_parameters, metrics


_ENGINE = str(Path(__file__).resolve().parents[1])
_NO_SECRETS = Redactor([])  # masks nothing: what most steps use, made once


def _data_folder(node: TaskNode, catalog: Any) -> Path:
    """Where the step's catalog patterns are matched; only built for steps that move files (a Path per map
    item that moves none was a measurable part of its cost)."""
    return Path((node.catalog and node.catalog.compute_data_folder) or catalog.compute_data_folder)


def _iteration_environment(scope: Scope) -> dict[str, str]:
    """The values of the enclosing loops and maps as environment variables too (``index_as``, ``iterate_as``):
    the original runnable gives a loop's index to every task that way, python tasks included."""
    if not scope.iteration:
        return {}
    return {name: _as_environment(v) for name, v in scope.iteration.items()}


def _as_environment(value: Any) -> str:
    """A string as it is, anything else as JSON (an int's JSON is its ``str``: the common map item, without
    the encoder)."""
    if isinstance(value, str):
        return value
    if type(value) is int:
        return str(value)
    return json.dumps(value)


def _print_user_traceback(error: BaseException) -> None:
    """The traceback from the user's code down, without runnable's own frames on top of it."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_ENGINE):
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb or error.__traceback__)


def _inputs(used: list[str], scope: Scope) -> dict[str, Parameter]:
    inputs: dict[str, Parameter] = {}
    for name in used:
        if name in scope.iteration:
            inputs[name] = JsonParameter(value=scope.iteration[name])
        elif name in scope.parameters:
            inputs[name] = scope.parameters[name]
    return inputs


def one_line_message(node: BaseNode, error: Exception) -> str:
    """The step's ``message``: one line naming the step; the whole story is in the execution log."""
    if isinstance(error, RunnableError):
        text = str(error)
        prefix = f"step {node.name!r}"
        if not text.startswith(prefix):
            text = f"{prefix}: {text}"
    else:
        text = f"{type(error).__name__}: {error}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] + (" (more in the execution log)" if len(lines) > 1 else "")


def _keep_returns(
    node: TaskNode, context: RunContext, scope: Scope, result: TaskResult
) -> tuple[dict[str, Parameter], dict[str, Any]]:
    parameters: dict[str, Parameter] = {}
    metrics: dict[str, Any] = {}
    for spec in node.returns:
        value = result.returned[spec.name]
        if spec.kind == "object":
            # Objects returned inside branches are stored under the branch's prefix so iterations don't collide.
            stored_as = scope.internal_name(spec.name)
            parameters[spec.name] = store_object(context.catalog, context.run_id, stored_as, value, step=node.name)
        elif spec.kind == "metric":
            parameters[spec.name] = metric_parameter(spec.name, value, node.name)
            metrics[spec.name] = parameters[spec.name].value
        else:
            parameters[spec.name] = json_parameter(spec.name, value, node.name)
    return parameters, metrics
