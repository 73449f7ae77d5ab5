"""Renderers: one Report, many outputs (text, JSON, Markdown, self-contained HTML)."""

from __future__ import annotations

import json
from typing import Callable

from ..api import Report

FORMATS = ("text", "json", "markdown", "html")


def render_json(report: Report) -> str:
    # allow_nan=False would crash on NaN evidence; findings sanitise their numbers, and any
    # stray non-finite float is written as null so strict JSON parsers accept the output.
    return json.dumps(_finite(report.to_dict()), indent=2, ensure_ascii=False) + "\n"


def _finite(obj):  # type: ignore[no-untyped-def]
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _finite(obj.item())
    return obj


def renderer(fmt: str) -> Callable[[Report], str]:
    if fmt == "json":
        return render_json
    if fmt == "text":
        from .text import render_text

        return render_text
    if fmt == "markdown":
        from .markdown import render_markdown

        return render_markdown
    if fmt == "html":
        from .html import render_html

        return render_html
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def render(report: Report, fmt: str) -> str:
    return renderer(fmt)(report)
