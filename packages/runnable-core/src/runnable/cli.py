"""The ``runnable`` command line."""

from __future__ import annotations

import shlex
import sys
from dataclasses import asdict, dataclass
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

LOG_LEVEL_HELP = (
    "How much runnable logs about what it does, on stderr: debug (every step the engine starts and ends), "
    "info, warning (default), error or critical; any case."
)


def log_level_name(value: str) -> str:
    """A --log-level value as a logging level name, or typer's error for a bad one."""
    from runnable.log_levels import log_level_name as name

    try:
        return name(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def versions() -> list[tuple[str, str]]:
    """(distribution, version) of runnable-core and of every installed distribution contributing plugins."""
    from importlib.metadata import PackageNotFoundError, version

    import runnable

    try:
        core = version("runnable-core")
    except PackageNotFoundError:
        core = runnable.__version__
    found = {"runnable-core": core}
    try:
        from runnable.plugins import get_registry

        for impl in get_registry().all():
            if impl.distribution and impl.distribution not in found:
                found[impl.distribution] = impl.version or "?"
    except RunnableError as error:  # a broken plugin must not hide the versions of the rest
        found["(plugins)"] = f"error: {error.message}"
    return list(found.items())


def _print_version(value: bool) -> None:
    if value:
        for distribution, number in versions():
            print(f"{distribution} {number}")
        raise typer.Exit(0)


@app.callback()
def main(
    version_: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the versions of runnable-core and of every installed plugin distribution, then exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help=LOG_LEVEL_HELP, envvar="RUNNABLE_LOG_LEVEL", show_envvar=True)
    ] = None,
) -> None:
    """Run pipelines of python functions, notebooks and shell commands, and inspect their runs.

    Start with: runnable execute pipeline.yaml (or pipeline.py). See each command's --help.
    """
    from runnable.reporting import guard_stdout

    guard_stdout()  # `runnable runs list | head` ends quietly
    if log_level:
        from runnable.log_levels import configure_logging

        configure_logging(log_level_name(log_level))


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
    """The one-line error for a run that ended in FAIL: the innermost failed step, why, and how to go on."""
    from runnable.records import explain_failure

    failure = explain_failure(run_log)
    if failure is None:
        return TaskFailedError(f"{file}: run {run_log.run_id!r} failed")
    hints = [f"its output is in the catalog at {failure.output}" if failure.output else "", failure.retry]
    return TaskFailedError(f"{file}: step {failure.step!r}: {failure.message}", hint="; ".join(h for h in hints if h))


RunIdArgument = Annotated[str | None, typer.Argument(metavar="RUN_ID", help="Run id (same as --run-id).")]
ParametersOption = Annotated[
    str | None, typer.Option("--parameters", "--parameters-file", "-p", help="YAML file of initial parameters.")
]
RunIdOption = Annotated[
    str | None, typer.Option("--run-id", help="Name the run (default: generated).", envvar="RUNNABLE_RUN_ID")
]
TagOption = Annotated[str | None, typer.Option("--tag", help="A label stored with the run.")]
LogLevelOption = Annotated[str, typer.Option("--log-level", help=LOG_LEVEL_HELP, callback=log_level_name)]


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
    from runnable.models.run_log import PROCESSING, SUCCESS

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
            graph = entrypoints.load_job_graph(file) if job else entrypoints.load_graph(file, check_imports=True)
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
    if run_log.status not in (SUCCESS, PROCESSING):  # PROCESSING: submitted to a service that runs it (aws-batch)
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


def _for_orchestrator(file: Path, config: str | None, parameters: str | None, verb: str, run_id: str = ""):  # type: ignore[no-untyped-def]
    """The run context of ``render`` and ``deploy``, whose executor must be one for an orchestrator."""
    from runnable import entrypoints
    from runnable.engine.prepare import prepare
    from runnable.services.executor import BaseRenderingExecutor

    context = prepare(
        entrypoints.load_graph(file),
        configuration_file=config or "",
        parameters_file=parameters or "",
        pipeline_file=str(file),
        run_id=run_id,
    )
    if not isinstance(context.executor, BaseRenderingExecutor):
        raise RunnableError(
            f"pipeline-executor {context.executor.service_name!r} runs pipelines here, it does not {verb} them",
            hint="choose an executor for an orchestrator (e.g. argo, step-functions) in the configuration file",
        )
    return context


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
    try:
        context = _for_orchestrator(file, config, parameters, "render")
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
def deploy(
    file: Annotated[
        Path, typer.Argument(help="The pipeline: a YAML file with a 'dag', or a .py file defining main().")
    ],
    config: ConfigOption = None,
    parameters: ParametersOption = None,
    start: Annotated[bool, typer.Option("--start", help="Also start a run of the deployed pipeline.")] = False,
    run_id: RunIdOption = None,
) -> None:
    """Create or update a pipeline on its orchestrator (the configured executor must deploy, e.g. step-functions).

    What is deployed is exactly what `runnable render` writes.

    Deploying again changes nothing unless the pipeline or its configuration changed.

    With --start a run begins, named by --run-id (default: generated).

    Example:

      runnable deploy pipeline.yaml -c sfn.yaml --start
    """
    try:
        context = _for_orchestrator(file, config, parameters, "deploy", run_id=run_id or "")
        lines = context.executor.deploy(context, start=start)
    except RunnableError as error:
        raise _fail(error) from None
    from runnable.reporting import make_console

    console = make_console()
    for line in lines:
        console.print(line, markup=False, highlight=False)


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


def _protocol_command(name: str) -> None:
    """``execute-step``, ``fan-out``, ``fan-in``: listed here, parsed and run by :mod:`runnable.protocol_cli`
    (which ``runnable`` calls directly, without building this app: an orchestrator starts one per step)."""
    from runnable.protocol_cli import COMMANDS

    @app.command(
        name,
        help=COMMANDS[name].summary,
        add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def command(ctx: typer.Context) -> None:
        from runnable.protocol_cli import main

        raise typer.Exit(main([name, *ctx.args]))


for _name in ("execute-step", "fan-out", "fan-in"):
    _protocol_command(_name)


def _store(config: str | None):  # type: ignore[no-untyped-def]
    from runnable.config import load_config
    from runnable.plugins import get_registry

    return get_registry().configured(load_config(config), "run-log-store")


def _config_words(config: str | None) -> str:
    from runnable.config import resolve_config_path

    path = resolve_config_path(config)
    return f"the configuration {path}" if path else "the default configuration (no -c)"


def _store_words(store) -> str:  # type: ignore[no-untyped-def]
    masked = store.masked_config()
    settings = masked.get("config", {})
    location = settings.get("log_folder") or settings.get("location") or ""
    return f"{masked.get('type')}: {location}" if location else str(masked.get("type"))


@dataclass
class _Listed:
    run_id: str
    status: str
    started: str = ""
    duration: float | None = None
    tag: str = ""
    pipeline: str = ""
    retry_of: str = ""
    error: str = ""

    def as_json(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None) or k in ("run_id", "status")}


def _listed(store, run_id: str) -> _Listed:  # type: ignore[no-untyped-def]
    """One row of `runs list`; a run log that cannot be read is a row saying so, not the end of the list."""
    try:
        log = store.get_run_log(run_id)
    except Exception as error:  # corrupt JSON, a half-written file, a schema from elsewhere
        details = getattr(error, "errors", None)
        if callable(details):  # pydantic: the first problem, not the "1 validation error" headline
            problem = details()[0]
            where = ".".join(str(p) for p in problem.get("loc", ()))
            first = f"{where + ': ' if where else ''}{problem.get('msg', '')}"
        else:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return _Listed(run_id=run_id, status="UNREADABLE", error=first[:200])
    duration = (log.end_time - log.start_time).total_seconds() if log.end_time and log.start_time else None
    return _Listed(
        run_id=log.run_id,
        status=log.status,
        started=log.start_time.strftime("%Y-%m-%d %H:%M:%S") if log.start_time else "",
        duration=duration,
        tag=log.tag,
        pipeline=log.pipeline_name,
        retry_of=log.original_run_id,
    )


@runs_app.command("list")
def runs_list(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option("--limit", "-l", min=1, help="Show at most this many runs.")] = 20,
    status: Annotated[
        str | None,
        typer.Option("--status", "-s", help="Only runs with this status: success, fail, processing, unreadable."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list of runs (for scripts).")] = False,
) -> None:
    """List runs, newest first: id, status, start time, duration, tag, pipeline.

    Runs are read from the run log store of the configuration: give the same -c as the runs were made with.
    Run ids are printed whole, at any terminal width and in a pipe.

    Examples:

      runnable runs list --status fail --limit 5

      runnable runs list -c argo.yaml --json | jq -r '.[].run_id'
    """
    import json

    wanted = status.strip().upper() if status else ""
    known = ("SUCCESS", "FAIL", "PROCESSING", "CREATED", "TRIGGERED", "UNREADABLE")
    if wanted and wanted not in known:
        raise _fail(RunnableError(f"--status {status!r}: use one of {', '.join(k.lower() for k in known)}"))
    try:
        store = _store(config)
        run_ids = store.list_run_ids()
    except RunnableError as error:
        raise _fail(error) from None
    rows: list[_Listed] = []
    for run_id in run_ids:
        row = _listed(store, run_id)
        if wanted and row.status != wanted:
            continue
        rows.append(row)
        if len(rows) >= limit:
            break
    if as_json:
        sys.stdout.write(json.dumps([r.as_json() for r in rows], indent=2) + "\n")
        return
    if not rows:
        which = f" with status {wanted}" if wanted else ""
        print(
            f"no runs{which} in {_store_words(store)}, the run log store of {_config_words(config)}; "
            "runs made with another configuration are listed with the same -c",
            file=sys.stderr,
        )
        return
    _print_runs(rows)


def _print_runs(rows: list[_Listed]) -> None:
    from rich.table import Table
    from rich.text import Text

    from runnable.reporting import _STYLE, _duration, make_console

    console = make_console()
    table = Table(show_edge=False)
    # no_wrap + a fixed minimum width: the run id is what people copy, it is never cut or folded.
    table.add_column("run id", no_wrap=True, min_width=max(len(r.run_id) for r in rows))
    for column in ("status", "started", "duration", "tag", "pipeline", "notes"):
        table.add_column(column, overflow="fold")
    for row in rows:
        notes = f"retry of {row.retry_of}" if row.retry_of else row.error
        table.add_row(
            Text(row.run_id),
            Text(row.status, style=_STYLE.get(row.status, "yellow" if row.status == "UNREADABLE" else "")),
            row.started or "-",
            _duration(row.duration),
            Text(row.tag),
            Text(row.pipeline),
            Text(notes, style="dim"),
        )
    if not console.is_terminal:  # a pipe or a file: one line per run, whatever COLUMNS says (grep, awk)
        console.width = 1000
    console.print(table)


TAIL_LINES = 15


def _open_run(config: str | None, run_id: str):  # type: ignore[no-untyped-def]
    from runnable.history import Run, open_services

    store, catalog = open_services(config)
    return Run(store.get_run_log(run_id), store, catalog)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run to show.")],
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole run log as JSON.")] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Write a standalone HTML report (graph, timeline, steps, metrics, files) here."),
    ] = None,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, help="Output lines shown for a failed step.")
    ] = TAIL_LINES,
) -> None:
    """Show one run: its steps, parameters and metrics, and for a failed step its error and last output lines.

    Examples:

      runnable runs show my-run

      runnable runs show my-run --html report.html
    """
    from runnable.records import had_failure

    try:
        run = _open_run(config, run_id)
    except RunnableError as error:
        raise _fail(error) from None
    log = run.record
    if html is not None:  # the report draws the pipeline with its statuses: worth loading the graph
        from runnable.pictures.write import write_run_report

        try:
            written = write_run_report(log, html, graph=run.graph)
        except RunnableError as error:
            raise _fail(error) from None
        print(f"wrote the report of run {log.run_id} to {written}", file=sys.stderr if as_json else sys.stdout)
        if not as_json:
            return
    if as_json:
        sys.stdout.write(log.model_dump_json(indent=2) + "\n")
        return
    _show_run(run, run.graph if had_failure(log) else None, lines)


def _show_run(run, graph, lines: int) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table
    from rich.text import Text

    from runnable.records import display_name, execution_logs, first_line, read_output, task_steps
    from runnable.reporting import make_console, print_summary

    log = run.record
    console = make_console()
    print_summary(console, log, run._store.masked_config(), graph=graph)
    for step in task_steps(log):
        if step.status != "FAIL" or step.branches:
            continue
        name = display_name(log, step.internal_name)
        console.print(Text(f"\n{name}: {first_line(step.message, step)}", style="bold red"), soft_wrap=True)
        if not execution_logs(step) or lines == 0:
            continue
        try:
            outputs = read_output(run._catalog, log, step)
        except RunnableError as error:
            console.print(Text(f"  (its output is not readable: {error.message})", style="dim"), soft_wrap=True)
            continue
        number, text = outputs[-1]
        tail = text.rstrip("\n").splitlines()[-lines:]
        which = f"attempt {number}, " if len(outputs) > 1 else ""
        command = f"runnable logs {log.run_id} {shlex.quote(name)}"
        console.print(Text(f"  last {len(tail)} lines of its output ({which}all of it: {command}):", "dim"))
        for line in tail:
            console.print(Text(f"  │ {line}"), soft_wrap=True)
    if log.parameters:
        table = Table(title="parameters", title_justify="left", show_edge=False)
        table.add_column("name")
        table.add_column("kind")
        table.add_column("value")
        for name, parameter in log.parameters.items():
            table.add_row(Text(name), parameter.kind, Text(str(parameter.description_value)))
        console.print(table)


@app.command()
def logs(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run.")],
    step: Annotated[
        str,
        typer.Argument(metavar="STEP", help="The step: train, or inside maps train[3].fit (same as train.3.fit)."),
    ],
    config: ConfigOption = None,
    attempt: Annotated[
        int | None, typer.Option("--attempt", "-a", min=1, help="Only this attempt (default: all, in order).")
    ] = None,
) -> None:
    """Print what a step printed (stdout and stderr, its traceback), as kept in the run's catalog.

    Examples:

      runnable logs my-run train

      runnable logs my-run 'train[3].fit' --attempt 2
    """
    from runnable.records import attempt_of, display_name, execution_logs, find_step, read_output

    try:
        run = _open_run(config, run_id)
        record = find_step(run.record, step)
        outputs = read_output(run._catalog, run.record, record, attempt)
    except RunnableError as error:
        raise _fail(error) from None
    name = display_name(run.record, record.internal_name)
    if not outputs:
        kept = [str(attempt_of(e)) for e in execution_logs(record)]
        if attempt and kept:
            why = f"no output of attempt {attempt} (kept: attempt {', '.join(kept)})"
        else:
            why = "no output was kept (it printed nothing and did not fail)"
        raise _fail(RunnableError(f"run {run_id!r}, step {name!r}: {why}"))
    for number, text in outputs:
        if len(outputs) > 1 or attempt:
            print(f"--- {name}, attempt {number} ---", file=sys.stderr)
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")


@app.command()
def graph(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="The pipeline: a YAML file with a 'dag', or a .py file defining main()."),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Picture to write: .html (default: <file stem>.html), .svg or .mmd."),
    ] = None,
    mermaid: Annotated[
        bool, typer.Option("--mermaid", help="Print the Mermaid text to stdout (and write a file only with -o).")
    ] = False,
    run: Annotated[
        str | None, typer.Option("--run", help="Draw each step's status in this run (the run of this pipeline).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Draw a pipeline (nothing runs): a standalone HTML page with an SVG picture, or Mermaid text.

    With --run, the picture shows how each step went in that run: outlined green or red, map steps with
    their item counts, steps that never ran washed out.

    Examples:

      runnable graph pipeline.yaml                    # writes pipeline.html

      runnable graph pipeline.yaml --run my-run -o my-run.svg

      runnable graph pipeline.py --mermaid > pipeline.mmd
    """
    from runnable.pictures.write import draw_pipeline

    try:
        run_log = _store(config).get_run_log(run) if run else None
        text, written = draw_pipeline(file, output, mermaid=mermaid, run_log=run_log)
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
        for impl in implementations:
            impl.cls  # noqa: B018 - imported here, not at registration: a broken plugin install shows up now
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
