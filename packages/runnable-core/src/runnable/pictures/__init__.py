"""Pictures of pipelines and runs: Mermaid text, an SVG/HTML graph and an HTML run report.

Everything here is a pure function from the graph or run log models to text; the CLI's ``runnable graph``
and ``runnable runs show --html`` only choose where the text goes. Nothing is fetched at view time: the
HTML pages are standalone and work offline.
"""

from __future__ import annotations

from runnable.pictures.mermaid import to_mermaid
from runnable.pictures.svg import to_html, to_svg

__all__ = ["to_mermaid", "to_svg", "to_html"]
