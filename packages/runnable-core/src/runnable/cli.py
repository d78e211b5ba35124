"""The ``runnable`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from runnable.errors import RunnableError, TaskFailedError

app = typer.Typer(
    name="runnable",
    help="Run pipelines of python functions, notebooks and shell commands, and inspect their runs.\n\n"
    "Start with: runnable execute pipeline.yaml (or pipeline.py). See each command's --help.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)
runs_app = typer.Typer(help="Look at recorded runs (the run log store of the configuration).", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file choosing executor, catalog, run log store, secrets.",
        envvar="RUNNABLE_CONFIGURATION_FILE",
        show_envvar=True,
    ),
]


def _fail(error: RunnableError) -> typer.Exit:
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False)
    # soft_wrap: the error stays one line whatever the console width (rich wraps at 80 columns in a CI log).
    console.print(f"[bold red]error:[/bold red] {escape(error.message)}", soft_wrap=True)
    if error.hint:
        console.print(f"[dim]hint: {escape(error.hint)}[/dim]", soft_wrap=True)
    return typer.Exit(error.exit_code)


def _run_failed(file: Path, run_log) -> RunnableError:  # type: ignore[no-untyped-def]
    """The one-line error for a run that ended in FAIL: the pipeline file, the first failed step and why."""
    failed = [s for s in run_log.iter_steps() if s.status == "FAIL" and s.step_type not in ("success", "fail")]
    if not failed:
        return TaskFailedError(f"{file}: run {run_log.run_id!r} failed")
    step = failed[0]
    message = ((step.message or "").strip().splitlines() or ["failed"])[0]
    prefix = f"step {step.name!r}: "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    kept = any(entry.name.endswith(".execution.log") for entry in step.data_catalog)
    output = f"its output is kept in the catalog as {step.internal_name}.execution.log; " if kept else ""
    return TaskFailedError(
        f"{file}: step {step.internal_name!r}: {message}",
        hint=f"{output}see `runnable runs show {run_log.run_id}`",
    )


RunIdArgument = Annotated[str | None, typer.Argument(metavar="[RUN_ID]", help="Run id (same as --run-id).")]
ParametersOption = Annotated[
    str | None, typer.Option("--parameters", "--parameters-file", "-p", help="YAML file of initial parameters.")
]
RunIdOption = Annotated[
    str | None, typer.Option("--run-id", help="Name the run (default: generated).", envvar="RUNNABLE_RUN_ID")
]
TagOption = Annotated[str | None, typer.Option("--tag", help="A label stored with the run.")]
LogLevelOption = Annotated[str, typer.Option("--log-level", help="Log level for runnable's own messages.")]


def _run_file(
    file: Path,
    *,
    job: bool,
    config: str | None,
    parameters: str | None,
    run_id: str,
    tag: str | None,
    log_level: str,
) -> None:
    import logging

    from runnable import entrypoints
    from runnable.models.run_log import SUCCESS

    logging.basicConfig(level=log_level.upper())
    try:
        if file.suffix == ".py":
            door = entrypoints.FrontDoor(
                pipeline_file=str(file),
                configuration_file=config or "",
                parameters_file=parameters or "",
                run_id=run_id,
                tag=tag or "",
            )
            entrypoints.call_main(file, door)
            run_log = door.run_log
            if run_log is None:
                raise RunnableError(f"{file}: main() did not run the {'job' if job else 'pipeline'}")
        else:
            graph = entrypoints.load_job_graph(file) if job else entrypoints.load_graph(file)
            run_log = entrypoints.run_graph(
                graph,
                configuration_file=config or "",
                parameters_file=parameters or "",
                run_id=run_id,
                tag=tag or "",
                pipeline_file=str(file),
                job=job,
            )
    except RunnableError as error:
        raise _fail(error) from None
    if run_log.status != SUCCESS:
        raise _fail(_run_failed(file, run_log))
    raise typer.Exit(0)


@app.command()
def execute(
    file: Annotated[
        Path, typer.Argument(help="The pipeline: a YAML file with a 'dag', or a .py file defining main().")
    ],
    run_id_arg: RunIdArgument = None,
    config: ConfigOption = None,
    parameters: ParametersOption = None,
    run_id: RunIdOption = None,
    tag: TagOption = None,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Run a pipeline and show a summary.

    Parameters come from --parameters and RUNNABLE_PRM_<name> environment variables (JSON values).
    Exit status is 0 only when the run succeeds.

    Examples:

      runnable execute examples/quickstart/pipeline.py

      runnable execute pipeline.yaml -c local.yaml -p params.yaml --tag nightly
    """
    _run_file(
        file,
        job=False,
        config=config,
        parameters=parameters,
        run_id=run_id or run_id_arg or "",
        tag=tag,
        log_level=log_level,
    )


@app.command("execute-job")
def execute_job(
    file: Annotated[
        Path,
        typer.Argument(
            help="The job: a .py file whose main() builds a PythonJob/NotebookJob/ShellJob, "
            "or a YAML file with type, command, returns, catalog, secrets."
        ),
    ],
    run_id_arg: RunIdArgument = None,
    config: ConfigOption = None,
    parameters: ParametersOption = None,
    run_id: RunIdOption = None,
    tag: TagOption = None,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Run a single task as a job (no pipeline) with the configured job executor.

    Example:

      runnable execute-job train_job.yaml -p params.yaml
    """
    _run_file(
        file,
        job=True,
        config=config,
        parameters=parameters,
        run_id=run_id or run_id_arg or "",
        tag=tag,
        log_level=log_level,
    )


@app.command()
def render(
    file: Annotated[
        Path, typer.Argument(help="The pipeline: a YAML file with a 'dag', or a .py file defining main().")
    ],
    config: ConfigOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write the main manifest (others go beside it).")
    ] = None,
    parameters: ParametersOption = None,
) -> None:
    """Translate a pipeline for an orchestrator (the configured executor must render, e.g. argo).

    Nothing runs and no cloud is contacted: the manifest is written for you to apply or submit.

    Example:

      runnable render pipeline.yaml -c argo.yaml -o workflow.yaml
    """
    from runnable import entrypoints
    from runnable.engine.prepare import prepare
    from runnable.services.executor import BaseRenderingExecutor

    try:
        graph = entrypoints.load_graph(file)
        context = prepare(
            graph, configuration_file=config or "", parameters_file=parameters or "", pipeline_file=str(file)
        )
        if not isinstance(context.executor, BaseRenderingExecutor):
            raise RunnableError(
                f"pipeline-executor {context.executor.service_name!r} runs pipelines, it does not render them",
                hint="choose an executor that renders (e.g. argo) in the configuration file",
            )
        files = context.executor.render(context)
    except RunnableError as error:
        raise _fail(error) from None
    from runnable.reporting import make_console

    console = make_console()
    for index, (name, text) in enumerate(files.items()):
        target = output if index == 0 and output else (output.parent if output else Path.cwd()) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        console.print(f"wrote [cyan]{target}[/cyan]")


@app.command()
def retry(
    run_id: Annotated[str, typer.Argument(help="The failed run to retry.")],
    config: ConfigOption = None,
    new_run_id: Annotated[str | None, typer.Option("--run-id", help="Id of the new run (default: generated).")] = None,
    tag: TagOption = None,
) -> None:
    """Run a failed run again from its failed step, with its original parameters.

    Steps that succeeded are not run again: their returns, metrics and files are reused. Task code may
    change between the failure and the retry; the pipeline's steps may not.

    Example:

      runnable retry agile-curie-101500-3f2a
    """
    from runnable import entrypoints
    from runnable.models.run_log import SUCCESS

    try:
        run_log = entrypoints.retry_run(run_id, configuration_file=config or "", run_id=new_run_id or "", tag=tag or "")
    except RunnableError as error:
        raise _fail(error) from None
    if run_log.status != SUCCESS:
        raise _fail(_run_failed(Path(run_log.run_config.get("pipeline_file", run_id)), run_log))
    raise typer.Exit(0)


AddressArgument = Annotated[
    str, typer.Argument(help="The step's address: its dotted internal name, e.g. train, fan.3.train.")
]
PipelineArgument = Annotated[Path, typer.Argument(help="The pipeline file (YAML or .py), as given to render.")]
ContainerRunIdOption = Annotated[
    str, typer.Option("--run-id", help="The run this call belongs to.", envvar="RUNNABLE_RUN_ID")
]
IterationOption = Annotated[
    str | None,
    typer.Option(
        "--iter-variable",
        help='Values of the enclosing maps and loops, JSON: {"item": 3}. Checked against the recorded plan.',
    ),
]


def _container_call(call, file: Path, address: str, *, run_id: str, config, parameters, tag, iteration):  # type: ignore[no-untyped-def]
    """Run one protocol call; exit 2 for bad input, 3 when a service cannot be reached (SPEC §10)."""
    import json

    from runnable.errors import InfrastructureError

    try:
        try:
            values = json.loads(iteration) if iteration else None
        except ValueError:
            raise RunnableError(f"--iter-variable: not JSON: {iteration!r}") from None
        if values is not None and not isinstance(values, dict):
            raise RunnableError(f"--iter-variable: a JSON object is expected, got {iteration!r}")
        return call(
            str(file),
            address.replace("%", " "),
            run_id=run_id,
            iteration=values,
            configuration_file=config or "",
            parameters_file=parameters or "",
            tag=tag or "",
        )
    except RunnableError as error:
        raise _fail(error) from None
    except OSError as error:  # a store or catalog that cannot be reached: the orchestrator may retry
        raise _fail(InfrastructureError(f"{type(error).__name__}: {error}")) from None


@app.command("execute-step")
def execute_step(
    file: PipelineArgument,
    step: AddressArgument,
    run_id: ContainerRunIdOption,
    config: ConfigOption = None,
    parameters: ParametersOption = None,
    tag: TagOption = None,
    iter_variable: IterationOption = None,
) -> None:
    """Run one step of a run: what an orchestrator's container runs (Argo, Step Functions, the emulator).

    The first call of a run creates it (with the initial parameters); the others join it through the run
    log store. The pipeline's success or fail step closes the run. Exit status: 0 the step succeeded,
    1 it failed (the run log says why), 2 bad invocation, configuration or address, 3 a service (run log
    store, catalog) could not be reached.

    Example:

      runnable execute-step pipeline.yaml fan.3.train --run-id my-run -c config.yaml
    """
    from runnable import entrypoints
    from runnable.models.graph import FailNode
    from runnable.models.run_log import SUCCESS

    step_log = _container_call(
        entrypoints.execute_step,
        file,
        step,
        run_id=run_id,
        config=config,
        parameters=parameters,
        tag=tag,
        iteration=iter_variable,
    )
    if step_log.status != SUCCESS:
        raise _fail(TaskFailedError(f"{file}: step {step_log.internal_name!r}: {step_log.message}"))
    if step_log.step_type == FailNode.model_fields["type"].default:
        raise _fail(TaskFailedError(f"{file}: {step_log.internal_name!r} reached: the run (or branch) failed"))
    raise typer.Exit(0)


@app.command("fan-out")
def fan_out(
    file: PipelineArgument,
    step: AddressArgument,
    run_id: ContainerRunIdOption,
    plan_file: Annotated[
        Path | None, typer.Option("--plan-file", "-o", help="Write the plan (JSON) here; stdout carries logs.")
    ] = None,
    keys_file: Annotated[
        Path | None,
        typer.Option("--keys-file", help="Also write the planned branch keys alone, a JSON list (Argo's withParam)."),
    ] = None,
    done_file: Annotated[
        Path | None,
        typer.Option("--done-file", help="Also write the plan's done flag alone, true or false (a loop's decision)."),
    ] = None,
    config: ConfigOption = None,
    parameters: ParametersOption = None,
    tag: TagOption = None,
    iter_variable: IterationOption = None,
) -> None:
    """Record a composite step (parallel, map, conditional, loop) and plan its branches.

    The plan lists the branches to run now, each with its internal name, its key and its iteration values
    ({"step", "kind", "status", "branches": [{"name", "key", "iteration"}], "keys", "done"}). A loop plans
    one round at a time: fan it out again after each round until "done" is true, then fan it in.
    Exit status as for execute-step; 1 when the step could not be planned (e.g. its list parameter is
    missing: the run log says why).

    Example:

      runnable fan-out pipeline.yaml fan --run-id my-run --plan-file /tmp/plan.json
    """
    from runnable import entrypoints

    plan = _container_call(
        entrypoints.fan_out,
        file,
        step,
        run_id=run_id,
        config=config,
        parameters=parameters,
        tag=tag,
        iteration=iter_variable,
    )
    import json

    body = json.dumps({**plan.model_dump(mode="json"), "keys": plan.keys})
    if plan_file is None:
        print(body)
    else:
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        plan_file.write_text(body)
    if keys_file is not None:
        keys_file.parent.mkdir(parents=True, exist_ok=True)
        keys_file.write_text(json.dumps(plan.keys))
    if done_file is not None:
        done_file.parent.mkdir(parents=True, exist_ok=True)
        done_file.write_text(json.dumps(plan.done))
    if plan.status == "FAIL":
        raise _fail(TaskFailedError(f"{file}: step {step!r}: {plan.message}"))
    raise typer.Exit(0)


@app.command("fan-in")
def fan_in(
    file: PipelineArgument,
    step: AddressArgument,
    run_id: ContainerRunIdOption,
    config: ConfigOption = None,
    parameters: ParametersOption = None,
    tag: TagOption = None,
    iter_variable: IterationOption = None,
) -> None:
    """End a composite step: merge what its branches returned (reduce a map's returns) and set its status.

    Exit status as for execute-step: 1 when a branch failed.

    Example:

      runnable fan-in pipeline.yaml fan --run-id my-run
    """
    from runnable import entrypoints
    from runnable.models.run_log import SUCCESS

    step_log = _container_call(
        entrypoints.fan_in,
        file,
        step,
        run_id=run_id,
        config=config,
        parameters=parameters,
        tag=tag,
        iteration=iter_variable,
    )
    if step_log.status != SUCCESS:
        raise _fail(TaskFailedError(f"{file}: step {step_log.internal_name!r}: {step_log.message}"))
    raise typer.Exit(0)


def _store(config: str | None):  # type: ignore[no-untyped-def]
    from runnable.config import load_config
    from runnable.plugins import get_registry

    loaded = load_config(config)
    section = loaded.sections["run-log-store"]
    return get_registry().create("run-log-store", section.type, section.config, source=loaded.source)


@runs_app.command("list")
def runs_list(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option("--limit", "-l", help="Show at most this many runs.")] = 20,
) -> None:
    """List runs, newest first: id, status, start time, duration, tag."""
    from rich.table import Table

    from runnable.reporting import _duration, make_console

    try:
        store = _store(config)
        table = Table(show_edge=False)
        for column in ("run id", "status", "started", "duration", "tag", "pipeline"):
            table.add_column(column)
        for run_id in store.list_run_ids()[:limit]:
            log = store.get_run_log(run_id)
            duration = (log.end_time - log.start_time).total_seconds() if log.end_time and log.start_time else None
            started = log.start_time.strftime("%Y-%m-%d %H:%M:%S") if log.start_time else "-"
            table.add_row(log.run_id, log.status, started, _duration(duration), log.tag, log.pipeline_name)
    except RunnableError as error:
        raise _fail(error) from None
    make_console().print(table)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="The run to show.")],
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole run log as JSON.")] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Write a standalone HTML report (timeline, steps, parameters, metrics) here."),
    ] = None,
) -> None:
    """Show one run: its steps, parameters and metrics (or the whole record with --json).

    Example: runnable runs show my-run --html report.html
    """
    from rich.table import Table

    from runnable.reporting import make_console, print_summary

    try:
        store = _store(config)
        log = store.get_run_log(run_id)
    except RunnableError as error:
        raise _fail(error) from None
    if html is not None:
        from runnable.pictures.write import write_run_report

        try:
            written = write_run_report(log, html)
        except RunnableError as error:
            raise _fail(error) from None
        print(f"wrote the report of run {log.run_id} to {written}", file=sys.stderr if as_json else sys.stdout)
        if not as_json:
            return
    if as_json:
        sys.stdout.write(log.model_dump_json(indent=2) + "\n")
        return
    console = make_console()
    print_summary(console, log, store.masked_config())
    if log.parameters:
        table = Table(title="parameters", title_justify="left", show_edge=False)
        table.add_column("name")
        table.add_column("kind")
        table.add_column("value")
        for name, parameter in log.parameters.items():
            table.add_row(name, parameter.kind, str(parameter.description_value))
        console.print(table)


@app.command()
def graph(
    file: Annotated[
        Path, typer.Argument(help="The pipeline: a YAML file with a 'dag', or a .py file defining main().")
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Picture to write: .html (default: <file stem>.html), .svg or .mmd."),
    ] = None,
    mermaid: Annotated[
        bool, typer.Option("--mermaid", help="Print the Mermaid text to stdout (and write a file only with -o).")
    ] = False,
) -> None:
    """Draw a pipeline (nothing runs): a standalone HTML page with an SVG picture, or Mermaid text.

    Examples:

      runnable graph pipeline.yaml                    # writes pipeline.html

      runnable graph pipeline.py --mermaid > pipeline.mmd
    """
    from runnable.pictures.write import draw_pipeline

    try:
        text, written = draw_pipeline(file, output, mermaid=mermaid)
    except RunnableError as error:
        raise _fail(error) from None
    sys.stdout.write(text)
    if written is not None:
        print(f"wrote the picture of {file} to {written}", file=sys.stderr if mermaid else sys.stdout)


@app.command()
def plugins() -> None:
    """List installed plugins: each implementation's kind, name, distribution and version."""
    from rich.table import Table

    from runnable.plugins import get_registry
    from runnable.reporting import make_console

    try:
        implementations = sorted(get_registry().all(), key=lambda i: (i.kind, i.name))
    except RunnableError as error:
        raise _fail(error) from None
    table = Table(show_edge=False)
    for column in ("kind", "name", "distribution", "version", "plugin"):
        table.add_column(column)
    for impl in implementations:
        table.add_row(impl.kind, impl.name, impl.distribution, impl.version, impl.plugin)
    make_console().print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
