"""Server-rendered SVG charts (no JavaScript): geometry computed here, drawn by templates."""

from __future__ import annotations

from typing import Any

from satu.complaints.statistics import Count

BAR_HEIGHT = 22
LABEL_WIDTH = 230
WIDTH = 640


def horizontal_bars(counts: list[Count], limit: int = 12) -> dict[str, Any]:
    """Bars for the largest `limit` counts, with their label, value and width."""
    shown = counts[:limit]
    top = max((c.count for c in shown), default=0) or 1
    span = WIDTH - LABEL_WIDTH - 70
    bars = [
        {
            "label": c.label,
            "count": c.count,
            "y": i * (BAR_HEIGHT + 6),
            "width": max(1, round(c.count / top * span)),
        }
        for i, c in enumerate(shown)
    ]
    return {
        "bars": bars,
        "height": len(bars) * (BAR_HEIGHT + 6) + 4,
        "width": WIDTH,
        "label_width": LABEL_WIDTH,
        "bar_height": BAR_HEIGHT,
    }


def columns(counts: list[Count], height: int = 180) -> dict[str, Any]:
    """Columns over time (months), with their height and x position."""
    top = max((c.count for c in counts), default=0) or 1
    step = (WIDTH - 40) / max(len(counts), 1)
    cols = [
        {
            "label": c.label,
            "short": c.label[2:] if len(c.label) == 7 else c.label,
            "count": c.count,
            "x": round(20 + i * step, 1),
            "width": round(step * 0.7, 1),
            "height": max(1, round(c.count / top * height)),
            "y": height - max(1, round(c.count / top * height)) + 10,
        }
        for i, c in enumerate(counts)
    ]
    return {"columns": cols, "height": height + 40, "width": WIDTH, "base": height + 10}
