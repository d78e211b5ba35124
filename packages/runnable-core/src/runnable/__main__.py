"""``python -m runnable`` is the ``runnable`` command (handy where console scripts are not on PATH)."""

from runnable.cli import app

app(prog_name="runnable")
