"""The HTML page around a picture: one file, inline CSS, no scripts, no fonts or styles fetched from anywhere.

A page must open from a file on a laptop without network access, be attached to a ticket or archived with a
run, and look the same years later; so everything it needs is inside it.
"""

from __future__ import annotations

from html import escape

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; background: #f8f9fa; color: #202124;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", sans-serif; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 12.5px; }
pre { background: #fff; border: 1px solid #dadce0; border-radius: 6px; padding: 12px; overflow: auto; }
.muted { color: #5f6368; margin: 2px 0; }
section, details { margin-top: 16px; }
.picture { background: #fff; border: 1px solid #dadce0; border-radius: 8px; padding: 8px; overflow: auto; }
.picture svg { display: block; margin: 0 auto; max-width: none; }
summary { cursor: pointer; color: #1a73e8; }
table { border-collapse: collapse; background: #fff; border: 1px solid #dadce0; min-width: 50%; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #eceff1; vertical-align: top; }
th { background: #f1f3f4; font-weight: 600; font-size: 13px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.value { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px;
  max-width: 560px; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  color: #fff; background: #80868b; }
.badge.SUCCESS { background: #188038; } .badge.FAIL { background: #c5221f; }
.badge.PROCESSING, .badge.CREATED, .badge.TRIGGERED { background: #e37400; }
.badge.REUSED { background: #1a73e8; } .badge.NOT-RUN { background: #bdc1c6; color: #3c4043; }
tr.not-run td { color: #80868b; }
tr.branches > td { padding-top: 2px; padding-bottom: 6px; background: #fbfbfc; }
tr.branches summary { font-size: 13px; }
tr.branches svg.histogram { display: block; margin: 6px 0 4px; }
table.inner { width: 100%; border: none; margin-top: 4px; }
.count { display: inline-block; margin-right: 6px; padding: 0 6px; border-radius: 8px; background: #e8eaed; }
.count.SUCCESS { background: #ceead6; } .count.FAIL { background: #fad2cf; }
.failure { background: #fce8e6; border: 1px solid #f5b7b1; border-radius: 8px; padding: 10px 14px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; margin: 0 0 12px; }
.chart { background: #fff; border: 1px solid #dadce0; border-radius: 8px; padding: 6px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 12px 0 0; }
dl.facts dt { color: #5f6368; } dl.facts dd { margin: 0; }
"""


def page(title: str, body: str) -> str:
    """A complete HTML document; ``title`` is escaped here, ``body`` must already be safe HTML."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="runnable">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n"
        f"<body>{body}</body></html>\n"
    )
