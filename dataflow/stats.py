"""Per-node run statistics and the end-of-run table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class NodeStats:
    """Counters one worker keeps while it runs (only its own thread writes them)."""

    name: str
    type_name: str
    packets_in: int = 0
    packets_out: int = 0
    errors_skipped: int = 0
    started: float = 0.0
    finished: float = 0.0
    times: list[float] = field(default_factory=list)

    def record(self, seconds: float) -> None:
        self.times.append(seconds)

    def report(self, wall_s: float, queue_high_water: int, drops: int) -> dict[str, Any]:
        times = sorted(self.times)
        life = (self.finished or self.started) - self.started if self.started else 0.0
        return {
            "node": self.name,
            "type": self.type_name,
            "packets_in": self.packets_in,
            "packets_out": self.packets_out,
            "process_ms_p50": round(_quantile(times, 0.5) * 1e3, 4),
            "process_ms_p99": round(_quantile(times, 0.99) * 1e3, 4),
            "busy_fraction": round(sum(self.times) / max(life, wall_s, 1e-9), 4),
            "queue_high_water": queue_high_water,
            "drops": drops,
            "errors_skipped": self.errors_skipped,
        }


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def bottleneck(rows: list[dict[str, Any]]) -> str | None:
    """The node that bounds throughput: the one busiest for the time it ran."""
    busy = [r for r in rows if r["packets_in"] or r["packets_out"]]
    return max(busy, key=lambda r: r["busy_fraction"])["node"] if busy else None


def format_table(rows: list[dict[str, Any]], wall_s: float) -> str:
    """A fixed-width table for stderr."""
    head = ("node", "type", "in", "out", "p50 ms", "p99 ms", "busy", "q max", "drops", "errors")
    keys = (
        "node",
        "type",
        "packets_in",
        "packets_out",
        "process_ms_p50",
        "process_ms_p99",
        "busy_fraction",
        "queue_high_water",
        "drops",
        "errors_skipped",
    )
    cells = [head] + [tuple(_cell(r[k]) for k in keys) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = []
    for row in cells:
        padded = (c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        lines.append("  ".join(padded))
    lines.insert(1, "-" * len(lines[0]))
    slow = bottleneck(rows)
    lines.append(f"wall {wall_s:.2f} s" + (f"; throughput bound by '{slow}'" if slow else ""))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
