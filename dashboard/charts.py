"""Server-drawn SVG bar charts for the dashboard: the geometry here, the markup in the template.

No script and no library: the page draws with nothing fetched from anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dashboard.stats import Point
from requestlog.pricing import usd

# The viewBox is about the size a chart is drawn at on a wide screen, so its 12-unit text reads
# near 12 px there; the SVG scales with its box (width 100%) on narrower screens.
WIDTH = 480
HEIGHT = 170
LEFT = 62  # room for the y-axis labels
BOTTOM = 20  # room for the x-axis labels
PLOT_WIDTH = WIDTH - LEFT - 4
PLOT_HEIGHT = HEIGHT - BOTTOM - 6
X_LABELS = 6


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    legend: list[tuple[str, str]]  # (css class, name)
    bars: list[Bar]
    y_labels: list[Label]
    x_labels: list[Label]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: float = HEIGHT - BOTTOM


@dataclass(frozen=True)
class Layer:
    """One stacked series: its CSS class, legend name and value per point."""

    css: str
    name: str
    value: Callable[[Point], float]


def stacked(
    chart_id: str,
    title: str,
    points: Sequence[Point],
    layers: Sequence[Layer],
    fmt: Callable[[float], str],
    bucket: str,
) -> Chart:
    """Bars per point, the layers stacked bottom-up, scaled to the tallest stack."""
    totals = [sum(layer.value(p) for layer in layers) for p in points]
    top = max(totals, default=0) or 1
    slot = PLOT_WIDTH / max(len(points), 1)
    baseline = HEIGHT - BOTTOM
    bars = []
    for index, point in enumerate(points):
        x = LEFT + index * slot + slot * 0.1
        height_so_far = 0.0
        when = _when(point, bucket)
        for layer in layers:
            value = layer.value(point)
            height = PLOT_HEIGHT * value / top
            if value > 0:
                y = baseline - height_so_far - height
                tooltip = f"{when}: {fmt(value)} {layer.name}"
                bars.append(
                    Bar(
                        round(x, 2),
                        round(y, 2),
                        round(slot * 0.8, 2),
                        round(height, 2),
                        layer.css,
                        tooltip,
                    )
                )
            height_so_far += height
    return Chart(
        id=chart_id,
        title=title,
        legend=[(layer.css, layer.name) for layer in layers],
        bars=bars,
        y_labels=[
            Label(LEFT - 6, baseline - PLOT_HEIGHT + 4, fmt(top)),
            Label(LEFT - 6, baseline, fmt(0)),
        ],
        x_labels=_x_labels(points, slot, bucket),
    )


def _when(point: Point, bucket: str) -> str:
    return point.start.strftime("%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d")


def _x_labels(points: Sequence[Point], slot: float, bucket: str) -> list[Label]:
    if not points:
        return []
    every = max(1, -(-len(points) // X_LABELS))
    fmt = "%H:00" if bucket == "hour" else "%m-%d"
    return [
        Label(round(LEFT + (index + 0.5) * slot, 2), HEIGHT - 5, point.start.strftime(fmt))
        for index, point in enumerate(points)
        if index % every == 0
    ]


def dashboard_charts(points: Sequence[Point], bucket: str) -> list[Chart]:
    def whole(value: float) -> str:
        return f"{value:,.0f}"

    return [
        stacked(
            "chart-requests",
            "Requests",
            points,
            [
                Layer("ok", "ok", lambda p: p.measures.requests - p.measures.errors),
                Layer("err", "errors", lambda p: p.measures.errors),
            ],
            whole,
            bucket,
        ),
        stacked(
            "chart-tokens",
            "Input tokens: billed and saved",
            points,
            [
                Layer("billed", "billed input tokens", lambda p: p.figures.input_tokens),
                Layer("saved", "tokens saved", lambda p: p.measures.tokens_saved),
            ],
            whole,
            bucket,
        ),
        stacked(
            "chart-spend",
            "Spend (USD)",
            points,
            [
                Layer("spend", "priced", lambda p: float(p.measures.cost_priced)),
                Layer("est", "estimated", lambda p: float(p.measures.cost_estimated)),
            ],
            usd,
            bucket,
        ),
    ]
