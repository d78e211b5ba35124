"""Pictures: Mermaid text, the SVG/HTML graph, the HTML run report, their CLI commands, and a real browser.

The Chromium test opens both pages headless and checks the screenshots are not blank; it is skipped only
where no ``chromium`` is installed (``apt-get install -y chromium`` on Debian/Ubuntu runners).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
from core_helpers import write
from runnable import (
    Catalog,
    Conditional,
    Loop,
    Map,
    NotebookTask,
    Parallel,
    Pipeline,
    PythonTask,
    ShellTask,
    Stub,
    metric,
    pickled,
)
from runnable.cli import app
from runnable.entrypoints import load_graph
from runnable.models.graph import Graph
from runnable.models.run_log import RunLog
from runnable.pictures import to_html, to_mermaid, to_svg
from runnable.pictures.mermaid import escape_label
from runnable.pictures.report import run_report_html
from runnable.pictures.svg import EdgeShape, FrameShape, StepShape, layout
from runnable.sdk import ExecutionFailedError
from typer.testing import CliRunner

SVG = "{http://www.w3.org/2000/svg}"


def start() -> list:
    return [1, 2]


def work(item: int) -> int:
    return item * 10


def tick(i: int) -> bool:
    return i >= 1


def every_kind() -> Graph:
    """Every node kind, a map nested in a parallel branch, and an on_failure path ending in fail."""
    per_item = Map(
        name="per item",
        iterate_on="items",
        iterate_as="item",
        branch=Pipeline(steps=[PythonTask(name="work", function=work, returns=["done"])]),
    )
    fan = Parallel(
        name="fan",
        branches={
            "left": Pipeline(steps=[per_item]),
            "right": Pipeline(steps=[ShellTask(name="say", command='echo "<hi> & bye" # done')]),
        },
    )
    choose = Conditional(
        name="choose",
        parameter="mode",
        branches={
            "a": Pipeline(steps=[Stub(name="stub a")]),
            "b": Pipeline(steps=[NotebookTask(name="nb", notebook="notebooks/analyse.ipynb")]),
        },
    )
    again = Loop(
        name="again",
        max_iterations=3,
        break_on="stop",
        index_as="i",
        branch=Pipeline(steps=[PythonTask(name="tick", function=tick, returns=["stop"])]),
    )
    recover = Pipeline(steps=[Stub(name="recover", terminate_with_failure=True)])
    first = PythonTask(name="start", function=start, returns=["items"], on_failure=recover)
    return Pipeline(name="every kind", steps=[first, fan, choose, again]).return_dag()


def mermaid_structure(text: str) -> tuple[dict[str, tuple[str, ...]], list[str], list[str]]:
    """Parse our Mermaid: each defined id with the subgraphs around it, the ids in order, the edge lines."""
    parents: dict[str, tuple[str, ...]] = {}
    defined: list[str] = []
    edges: list[str] = []
    stack: list[str] = []
    for line in text.splitlines()[1:]:
        line = line.strip()
        if line.startswith("subgraph "):
            sub_id = re.match(r"subgraph (\w+)\[", line).group(1)
            defined.append(sub_id)
            parents[sub_id] = tuple(stack)
            stack.append(sub_id)
        elif line == "end":
            stack.pop()
        elif "-->" in line or ".->" in line:
            edges.append(line)
        elif match := re.match(r"(s_\w+)[\[(]", line):
            defined.append(match.group(1))
            parents[match.group(1)] = tuple(stack)
    assert not stack, "every subgraph is closed"
    return parents, defined, edges


def test_mermaid_draws_every_kind_nested_with_unique_ids():
    text = to_mermaid(every_kind())
    assert text.startswith("flowchart TD\n") and text.endswith("\n")
    assert text == to_mermaid(every_kind()), "deterministic"
    parents, defined, edges = mermaid_structure(text)
    assert len(defined) == len(set(defined)), "ids are unique across nesting"
    # a subgraph per composite step and per branch of parallel/conditional; map/loop hold their branch directly
    assert parents["s_fan"] == ()
    assert parents["s_fan__left"] == parents["s_fan__right"] == ("s_fan",)
    assert parents["s_fan__left__per_item"] == ("s_fan", "s_fan__left")
    assert parents["s_fan__left__per_item__work"] == ("s_fan", "s_fan__left", "s_fan__left__per_item")
    assert parents["s_fan__right__say"] == ("s_fan", "s_fan__right")
    assert parents["s_choose__a__stub_a"] == ("s_choose", "s_choose__a")
    assert parents["s_again__tick"] == ("s_again",)
    assert 'subgraph s_fan__left__per_item["per item · map: for item in items"]' in text
    assert 'subgraph s_again["again · loop: until stop (max 3, index i)"]' in text
    assert 'subgraph s_choose__b["branch mode == b"]' in text
    # shapes: task rectangle, stub rounded, success circle, fail double circle
    assert 's_start["start<br/><small>python: test_pictures.start</small>"]' in text
    assert 's_choose__a__stub_a("stub a<br/><small>stub</small>")' in text
    assert 's_success(("success"))' in text and 's_fail((("fail")))' in text
    assert 's_fan__left__per_item__success(("success"))' in text
    # solid next edges, the on_failure edge dashed and labelled; every edge joins defined ids
    assert "s_start --> s_fan" in edges and "s_again --> s_success" in edges
    assert "s_start -. on failure .-> s_recover" in edges and "s_recover --> s_fail" in edges
    for edge in edges:
        source, target = re.match(r"(\w+) (?:-->|-\. on failure \.->) (\w+)$", edge).groups()
        assert source in parents and target in parents
    # user text cannot break the syntax: quotes, angle brackets and # become entity codes
    assert "shell: echo #quot;#lt;hi#gt; #amp; bye#quot; #35; done" in text
    assert "class s_start,s_fan__left__per_item__work,s_again__tick python" in text


def test_mermaid_escaping_and_id_sanitising():
    assert escape_label('a "b" <c> & #1 `d`') == "a #quot;b#quot; #lt;c#gt; #amp; #35;1 #96;d#96;"
    graph = Pipeline(steps=[Stub(name="x y"), Stub(name="x-y"), Stub(name="end")]).return_dag()
    parents, defined, _ = mermaid_structure(to_mermaid(graph))
    assert defined[:3] == ["s_x_y", "s_x_y_2", "s_end"]  # sanitised, made unique, never a bare keyword


def test_yaml_and_sdk_draw_the_same_picture(scratch):
    write(scratch / "tasks_pic.py", "def start():\n    return [1]\n")
    write(
        scratch / "pipeline.yaml",
        """
        dag:
          start_at: start
          steps:
            start: {type: task, command: tasks_pic.start, returns: [items], next: success}
        """,
    )
    import tasks_pic

    sdk = Pipeline(steps=[PythonTask(name="start", function=tasks_pic.start, returns=["items"])]).return_dag()
    yaml = load_graph(scratch / "pipeline.yaml")
    assert yaml.name == "pipeline"  # named after its file; the SDK's pipeline has no name here
    sdk.name = yaml.name
    assert to_mermaid(yaml) == to_mermaid(sdk)
    assert to_svg(yaml) == to_svg(sdk)


def test_svg_is_well_formed_and_names_every_step():
    graph = every_kind()
    root = ET.fromstring(to_svg(graph))
    assert root.tag == f"{SVG}svg"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for name in ("start", "fan", "per item", "work", "say", "choose", "stub a", "nb", "again", "tick", "recover"):
        assert name in texts, name
    assert "mode == a" in texts and "map · for item in items" in texts
    assert 'shell: echo "<hi> & bye" # done' in texts  # escaped in the file, the same text once parsed
    assert "on failure" in texts and "every kind" in texts
    steps = [g for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("step ")]
    legend_samples = 6
    # start, work, say, stub a, nb, tick, recover + success (top, 4 branches, map, loop) + fail + legend
    assert len(steps) == 7 + 7 + 1 + legend_samples


def test_layout_edges_point_down_and_steps_do_not_overlap():
    block = layout(every_kind())
    steps = [s for s in block.shapes if isinstance(s, StepShape)]
    for index, a in enumerate(steps):
        for b in steps[index + 1 :]:
            apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
            assert apart, (a.name, b.name)
    for shape in block.shapes:
        if not isinstance(shape, EdgeShape):
            assert 0 <= shape.x and shape.x + shape.w <= block.w + 0.01 and shape.y + shape.h <= block.h + 0.01
        elif shape.kind != "loop":
            ys = [y for _, y in shape.points]
            assert ys == sorted(ys), "edges run downwards"
    frames = {s.title: s for s in block.shapes if isinstance(s, FrameShape)}
    fan, left, per_item = frames["fan"], frames["left"], frames["per item"]
    # nested frames sit inside each other
    for outer, inner in ((fan, left), (left, per_item)):
        assert outer.x <= inner.x and inner.x + inner.w <= outer.x + outer.w
        assert outer.y <= inner.y and inner.y + inner.h <= outer.y + outer.h
    assert block.w > 0 and block.h > 0


def test_html_page_is_standalone():
    html = to_html(every_kind(), title="Every <kind>")
    assert html.startswith("<!DOCTYPE html>")
    assert "<title>Every &lt;kind&gt; · runnable graph</title>" in html
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert re.findall(r"https?://[^\"' ]+", html) == ["http://www.w3.org/2000/svg"]  # the SVG namespace only
    assert "<details><summary>Mermaid text" in html
    assert "s_start -. on failure .-&gt; s_recover" in html  # the Mermaid text, escaped as page text


# --- run report -------------------------------------------------------------------------------------------


def model(item: int) -> dict:
    return {"weights": [item]}


def score(item: int) -> float:
    return item / 10


def note() -> str:
    return "<script>alert(1)</script>"


def report_pipeline() -> Pipeline:
    fit = Map(
        name="fit",
        iterate_on="items",
        iterate_as="item",
        branch=Pipeline(
            steps=[
                PythonTask(name="train", function=model, returns=[pickled("model")]),
                PythonTask(name="score", function=score, returns=[metric("accuracy")]),
            ]
        ),
    )
    checks = Parallel(
        name="checks",
        branches={
            "shell": Pipeline(steps=[ShellTask(name="say", command="echo hi; export said=yes", returns=["said"])]),
            "python": Pipeline(steps=[PythonTask(name="note", function=note, returns=["note"])]),
        },
    )
    return Pipeline(name="report", steps=[fit, checks])


def test_run_report_shows_steps_parameters_metrics_and_a_bar_per_attempt(scratch):
    write(scratch / "params.yaml", 'items: [1, 2]\nowner: "<b>me</b>"\n')
    run_log = report_pipeline().execute(parameters_file="params.yaml", run_id="rep", tag="nightly")
    assert run_log.status == "SUCCESS"
    html = run_report_html(run_log)
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;me&lt;/b&gt;" in html
    assert "Run rep <span class='badge SUCCESS'>SUCCESS</span>" in html and "nightly" in html
    assert run_log.dag_hash in html
    shown = [s for s in run_log.iter_steps() if s.step_type not in ("success", "fail")]
    for step in shown:
        label = step.name if step.internal_name == step.name else f"{step.internal_name.split('.')[-2]} › {step.name}"
        assert f">{label}<" in html, label
    for name in ("items", "owner", "model", "accuracy", "said", "note"):
        assert f"<code>{name}</code>" in html, name
    assert "object in catalog: <code>model</code>" in html
    metrics = html[html.index("<h2>Metrics</h2>") :]
    assert metrics.count("<td><code>accuracy</code></td>") == 2  # one per map iteration: fit.1.score, fit.2.score
    assert ">fit.1.score<" in metrics and ">0.1<" in metrics
    timeline = re.search(r"<svg[^>]*class=\"timeline\".*?</svg>", html, re.S).group(0)
    svg = ET.fromstring(timeline)
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert len(bars) == sum(len(s.attempts) for s in shown) == len(shown)
    titles = [b.find(f"{SVG}title").text for b in bars]
    assert titles[0].startswith("fit · attempt 1 · SUCCESS")


def test_run_report_of_a_failed_run_and_of_a_run_that_never_started(scratch):
    def boom():
        raise RuntimeError("it broke <here>")

    with pytest.raises(ExecutionFailedError):
        Pipeline(steps=[PythonTask(name="boom", function=boom)]).execute(run_id="bad")
    log = RunLog.model_validate_json((scratch / ".run_log_store" / "bad.json").read_text())
    html = run_report_html(log)
    assert "<span class='badge FAIL'>FAIL</span>" in html and "it broke &lt;here&gt;" in html
    empty = run_report_html(RunLog(run_id="empty"))
    assert "No step recorded a start time." in empty and "No parameters." in empty


# --- command line -----------------------------------------------------------------------------------------

PIPELINE_YAML = """
dag:
  start_at: prepare
  steps:
    prepare: {type: task, command: tasks_pic_cli.prepare, returns: [xs], next: each}
    each:
      type: map
      iterate_on: xs
      iterate_as: x
      next: success
      branch:
        start_at: square
        steps:
          square: {type: task, command: tasks_pic_cli.square, returns: [{name: sq, kind: metric}], next: success}
"""
TASKS = "def prepare():\n    return [1, 2, 3]\n\n\ndef square(x):\n    return x * x\n"


def test_cli_graph_writes_html_svg_and_prints_mermaid(scratch):
    write(scratch / "pipeline.yaml", PIPELINE_YAML)
    write(scratch / "tasks_pic_cli.py", TASKS)
    runner = CliRunner()
    done = runner.invoke(app, ["graph", "pipeline.yaml"])
    assert done.exit_code == 0, done.output
    assert "pipeline.html" in done.stdout and (scratch / "pipeline.html").read_text().startswith("<!DOCTYPE html>")
    done = runner.invoke(app, ["graph", "pipeline.yaml", "--mermaid"])
    assert done.exit_code == 0 and done.stdout.startswith("flowchart TD\n") and "s_each__square" in done.stdout
    done = runner.invoke(app, ["graph", "pipeline.yaml", "--mermaid", "-o", "pics/p.svg"])
    assert done.stdout.startswith("flowchart TD") and "pics/p.svg" in done.stderr
    ET.fromstring((scratch / "pics" / "p.svg").read_text())
    done = runner.invoke(app, ["graph", "pipeline.yaml", "-o", "p.png"])
    assert done.exit_code == 2 and done.stderr.startswith("error: p.png: unknown picture format '.png'")
    done = runner.invoke(app, ["graph", "missing.yaml"])
    assert done.exit_code != 0 and done.stderr.count("\n") <= 2 and "missing.yaml" in done.stderr


def test_cli_runs_show_html_writes_the_report(scratch):
    write(scratch / "pipeline.yaml", PIPELINE_YAML)
    write(scratch / "tasks_pic_cli.py", TASKS)
    runner = CliRunner()
    assert runner.invoke(app, ["execute", "pipeline.yaml", "--run-id", "r1"]).exit_code == 0
    done = runner.invoke(app, ["runs", "show", "r1", "--html", "out/report.html"])
    assert done.exit_code == 0, done.output
    assert "out/report.html" in done.stdout
    html = (scratch / "out" / "report.html").read_text()
    assert "Run r1" in html and "1 › square" in html and "<td><code>sq</code></td>" in html
    done = runner.invoke(app, ["runs", "show", "nope", "--html", "x.html"])
    assert done.exit_code != 0 and "nope" in done.stderr and not (scratch / "x.html").exists()


# --- a real browser ---------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(page: Path, png: Path, profile: Path, size: str = "1400,1000") -> None:
    """Render ``page`` in headless Chromium, offline-minded flags, a throwaway profile."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    command += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    command += ["--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={size}"]
    subprocess.run([*command, page.resolve().as_uri()], capture_output=True, timeout=120, check=True)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into rows of RGB(A) bytes; no imaging library."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, compressed = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            compressed += body
        position += 12 + length
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(compressed), width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride) if kind else ():
            left = line[i - channels] if i >= channels else 0
            up_left = previous[i - channels] if i >= channels else 0
            up = previous[i]
            if kind == 1:
                predicted = left
            elif kind == 2:
                predicted = up
            elif kind == 3:
                predicted = (left + up) >> 1
            else:  # Paeth
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predicted = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
            line[i] = (line[i] + predicted) & 255
        rows.append(bytes(line))
        previous = line
    return width, channels, rows


def assert_not_blank(png: Path) -> None:
    width, channels, rows = png_pixels(png.read_bytes())
    colours: dict[bytes, int] = {}
    for row in rows[::2]:
        for x in range(0, width * channels, 2 * channels):
            pixel = row[x : x + 3]
            colours[pixel] = colours.get(pixel, 0) + 1
    total = sum(colours.values())
    background = max(colours.values())
    assert len(colours) > 50, f"{png}: only {len(colours)} colours"
    assert total - background > total * 0.03, f"{png}: almost all one colour"
    # colour, not just grey: the status/kind colours were drawn
    assert any(abs(p[0] - p[1]) > 60 or abs(p[1] - p[2]) > 60 for p in colours), f"{png}: no colour at all"


def test_pages_render_in_headless_chromium(scratch):
    assert CHROMIUM is not None, "needs headless chromium: apt-get install -y chromium (Debian/Ubuntu; .ci/run does)"
    graph_page = scratch / "graph.html"
    graph_page.write_text(to_html(every_kind()))
    write(scratch / "params.yaml", "items: [1, 2, 3]\nowner: me\n")
    run_log = report_pipeline().execute(parameters_file="params.yaml", run_id="shot")
    report_page = scratch / "report.html"
    report_page.write_text(run_report_html(run_log))
    big_log, big_graph = _thousand_item_run()
    big_page = scratch / "big.html"
    big_page.write_text(run_report_html(big_log, graph=big_graph))
    for page in (graph_page, report_page, big_page):
        png = page.with_suffix(".png")
        screenshot(page, png, scratch / f"profile-{page.stem}")
        assert png.stat().st_size > 10_000
        assert_not_blank(png)


# --- reports that scale, statuses on the graph, retries -----------------------------------------------------


def prepare_items() -> list:
    Path("data.csv").write_text("x\n1\n2\n")
    return list(range(1000))


def fit_item(item: int) -> float:
    if item in (17, 512):
        raise ValueError(f"item {item} diverged")
    return 1 / (1 + item / 100)


def never() -> None:
    raise AssertionError("runs only after a successful map")


def thousand_item_pipeline() -> Pipeline:
    train = Map(
        name="train",
        iterate_on="items",
        iterate_as="item",
        branch=Pipeline(steps=[PythonTask(name="fit", function=fit_item, returns=[metric("loss")])]),
    )
    return Pipeline(
        name="big",
        steps=[
            PythonTask(name="prepare", function=prepare_items, returns=["items"], catalog=Catalog(put=["data.csv"])),
            train,
            PythonTask(name="summarise", function=never),
        ],
    )


def _thousand_item_run() -> tuple[RunLog, Graph]:
    pipeline = thousand_item_pipeline()
    with pytest.raises(ExecutionFailedError):
        pipeline.execute(run_id="big")
    log = RunLog.model_validate_json(Path(".run_log_store/big.json").read_text())
    return log, pipeline.return_dag()


def test_report_of_a_thousand_item_map_stays_readable(scratch):
    import hashlib

    log, graph = _thousand_item_run()
    html = run_report_html(log, graph=graph)
    assert len(html) < 600_000  # not a row per item in every section
    steps = html[html.index("<h2>Steps</h2>") : html.index("<h2>Parameters</h2>")]
    assert steps.count("<tr") < 120  # ITEM_ROWS item rows at most, plus the composite's own rows
    assert "<details><summary>1000 items: " in steps  # folded (closed) by default
    assert "fail 2" in steps and "success 998" in steps and "median " in steps
    assert 'class="histogram"' in steps
    assert ">17 › fit<" in steps and ">512 › fit<" in steps  # failed items are always listed
    assert "… 900 more" in steps
    assert "NOT RUN" in steps and ">summarise<" in steps  # never ran after the failure
    timeline = re.search(r"<svg[^>]*class=\"timeline\".*?</svg>", html, re.S).group(0)
    assert timeline.count('font-size="12.5"') == 3  # rows: prepare, train, fit ×1000
    assert "fit ×1000" in timeline
    assert 'class="metric-chart"' in html and "over 998 points" in html
    digest = hashlib.sha256(b"x\n1\n2\n").hexdigest()
    catalog = html[html.index("<h2>Catalog</h2>") :]
    assert "<code>data.csv</code>" in catalog and f"title='{digest}'" in catalog
    assert "1000 captured step outputs" not in catalog  # only the two failures printed anything
    picture = html[html.index("<h2>Pipeline</h2>") : html.index("<h2>Timeline</h2>")]
    assert "✓ 998 ✗ 2" in picture and 'class="status not-run"' in picture
    assert "train[17].fit" in html[: html.index("<h2>Pipeline</h2>")]  # the failure box names the item


def test_graph_drawn_with_a_runs_statuses(scratch):
    write(scratch / "pipeline.yaml", PIPELINE_YAML)
    write(scratch / "tasks_pic_cli.py", TASKS)
    runner = CliRunner()
    assert runner.invoke(app, ["execute", "pipeline.yaml", "--run-id", "r1"]).exit_code == 0
    done = runner.invoke(app, ["graph", "pipeline.yaml", "--run", "r1", "-o", "r1.svg"])
    assert done.exit_code == 0, done.output
    svg = ET.fromstring((scratch / "r1.svg").read_text())
    marks = [g for g in svg.iter(f"{SVG}g") if (g.get("class") or "").startswith("status")]
    assert {g.get("class") for g in marks} == {"status SUCCESS"}
    assert any("✓ 3" in "".join(t.itertext()) for g in marks for t in g.iter(f"{SVG}text"))  # three map items
    page = runner.invoke(app, ["graph", "pipeline.yaml", "--run", "r1"])
    assert page.exit_code == 0 and "statuses of run <code>r1</code>" in (scratch / "pipeline.html").read_text()
    changed = PIPELINE_YAML.replace("square: {type: task", "square: {type: task, max_attempts: 2")
    write(scratch / "pipeline.yaml", changed)
    refused = runner.invoke(app, ["graph", "pipeline.yaml", "--run", "r1", "-o", "again.svg"])
    assert refused.exit_code == 2 and "its steps changed since run 'r1'" in refused.stderr
    missing = runner.invoke(app, ["graph", "pipeline.yaml", "--run", "nope"])
    assert missing.exit_code != 0 and "nope" in missing.stderr


def test_report_of_a_retry_marks_reused_steps_and_draws_only_its_own_work(scratch, monkeypatch):
    write(
        scratch / "tasks_retry_pic.py",
        "import os\n\ndef first():\n    return 1\n\n"
        "def second(x: int):\n    if os.environ.get('BREAK'):\n        raise RuntimeError('broken')\n",
    )
    write(
        scratch / "pipeline.yaml",
        """
        dag:
          start_at: first
          steps:
            first: {type: task, command: tasks_retry_pic.first, returns: [x], next: second}
            second: {type: task, command: tasks_retry_pic.second, next: success}
        """,
    )
    runner = CliRunner()
    monkeypatch.setenv("BREAK", "1")
    assert runner.invoke(app, ["execute", "pipeline.yaml", "--run-id", "orig"]).exit_code == 1
    monkeypatch.delenv("BREAK")
    assert runner.invoke(app, ["retry", "orig", "--run-id", "again"]).exit_code == 0
    assert runner.invoke(app, ["runs", "show", "again", "--html", "again.html"]).exit_code == 0
    html = (scratch / "again.html").read_text()
    assert "<dt>retry of</dt><dd>run <code>orig</code></dd>" in html
    assert "<span class='badge REUSED'>REUSED</span>" in html and "reused from orig" in html
    timeline = re.search(r"<svg[^>]*class=\"timeline\".*?</svg>", html, re.S).group(0)
    labels = [t.text for t in ET.fromstring(timeline).iter(f"{SVG}text") if t.get("font-size") == "12.5"]
    assert labels == ["second"]  # first was reused: its work was done in run orig
