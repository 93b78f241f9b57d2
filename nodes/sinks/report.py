"""`dataflow report SUMMARY.json [--records reps.jsonl] -o report.html [--png report.png]`.

A session report a coach reads at a glance, from what a run leaves behind: the summary
(``--summary-json``) and, if given, the per-frame records (the ``records`` sink's JSON lines). One
static HTML page, its plots embedded as PNG (matplotlib, drawn off-screen), nothing loaded from
outside: reps per exercise; each rep's range of motion, duration and energy over the set; and from
the records, the metric each exercise's states were decided on with their thresholds, the reps on
it, where the person was out of position (and why), and the energy over the session.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from dataflow import UserError

from .report_sets import FAST, MIN_REPS_TO_COMPARE, SHALLOW
from .report_sets import sets as group_sets
from .sinks import MAX_EVENTS

# One colour per exercise, in the order they first appear (matplotlib's default cycle).
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
OUT_OF_POSITION = "#d62728"
MAX_POINTS = 20_000  # per plotted line; a long session is thinned, not its spans
MAX_BOUT_PANELS = 12
BRIEF_S = 0.2  # out of position for less than this: listed as a count, not a row
MAX_NOTE_LINES = 8  # noted reps written under the overview plot (the page's table lists all)


# -- reading ------------------------------------------------------------------------------------


def load_summary(path: str | Path) -> dict[str, Any]:
    """A session summary (``dataflow run ... --summary-json``); UserError naming what is wrong."""
    doc = _load_json(path)
    if not isinstance(doc, dict) or "rep_events" not in doc or "exercises" not in doc:
        raise UserError(f"{path}: not a session summary (no exercises, rep_events): write one with --summary-json")
    if not isinstance(doc["rep_events"], list) or not isinstance(doc["exercises"], dict):
        raise UserError(f"{path}: not a session summary (exercises must be a mapping, rep_events a list)")
    return doc


def _load_json(path: str | Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None


@dataclass
class Span:
    """A stretch of the session: [start, end] seconds, with what it was."""

    start: float
    end: float
    label: str

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Bout:
    """One bout of one exercise as the records show it: the metric its states were decided on."""

    number: int
    exercise: str
    start: float = 0.0  # the bout's first and last frame: before it was named too (its reps were
    end: float = 0.0  # counted back from when the posture was taken up)
    metric: str | None = None
    thresholds: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    too_fast: int = 0  # cycles through the states too quick to be reps (the workout's min_rep_time)


@dataclass
class Records:
    """What the per-frame records say, reduced to what the report draws."""

    times: list[float] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)
    bouts: list[Bout] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)  # each bout's time, labelled with its last exercise
    out_of_position: list[Span] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def load_records(path: str | Path) -> Records:
    """The records sink's JSON lines; UserError naming the line that is not a record."""
    if str(path).endswith(".csv"):
        raise UserError(f"{path}: the report reads the records as JSON lines (out=...jsonl), not CSV")
    try:
        f = Path(path).open(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    with f:
        rows = []
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise UserError(f"{path} line {n}: not JSON") from None
            if not isinstance(row, dict) or ("seq" not in row and row.get("event") is None):
                raise UserError(f"{path} line {n}: not a per-frame record nor an event (the records sink writes them)")
            rows.append(row)
    return reduce_records(rows)


def reduce_records(rows: Iterable[dict[str, Any]]) -> Records:
    """Per frame: time, energy, exercise; per bout: its decided-on metric; spans out of position."""
    reducer = RecordsReducer()
    for row in rows:
        reducer.add(row)
    return reducer.result()


def _append(times: list[float], values: list[float], t: float, value: float, limit: int) -> None:
    """Append a sample; past ``limit`` samples keep every other one (a camera left running: the
    plot is thinned to MAX_POINTS anyway, and the memory stays bounded)."""
    times.append(t)
    values.append(value)
    if len(times) > limit:
        times[:] = times[::2]
        values[:] = values[::2]


class RecordsReducer:
    """``reduce_records`` a row at a time, holding only what the report draws: the live view feeds
    it each frame's record so that its report is ready when the session ends."""

    def __init__(self, limit: int = 4 * MAX_POINTS) -> None:
        self.out = Records()
        self.limit = limit
        self._bouts: dict[tuple[int, str], Bout] = {}
        self._spans: dict[int, list[Any]] = {}  # bout id -> [start, end, the last exercise named in it]
        self._plot: dict[str, Any] | None = None
        self._gate_since: float | None = None
        self._reasons: Counter[str] = Counter()
        self._last_t = 0.0

    def add(self, row: dict[str, Any]) -> None:
        """One line of the records: a per-frame record (``seq``) or a rep event."""
        out = self.out
        if row.get("event") == "rep":
            out.events.append(row)
            if len(out.events) > 2 * MAX_EVENTS:
                del out.events[:-MAX_EVENTS]  # the newest, as the summary keeps them
            return
        if "seq" not in row:
            return
        t = float(row.get("timestamp", self._last_t))
        self._last_t = t
        exercise = row.get("exercise")
        if "plot" in row:
            self._plot = row["plot"]  # said when the exercise changes; holds until the next change
        _append(out.times, out.energy, t, float((row.get("energy") or {}).get("score", math.nan)), self.limit)
        # Out of position: an exercise is under way, but its gate (or a lost person) stops counting.
        if exercise is not None and not row.get("in_position", True):
            self._gate_since = t if self._gate_since is None else self._gate_since
            self._reasons[str(row.get("gate") or "out of position")] += 1
        elif self._gate_since is not None:
            out.out_of_position.append(Span(self._gate_since, t, self._reasons.most_common(1)[0][0]))
            self._gate_since, self._reasons = None, Counter()
        number = int(row.get("bout", 0))
        span = self._spans.setdefault(number, [t, t, None])
        span[1] = t
        if exercise is None:
            return
        span[2] = exercise
        key = (number, exercise)
        bout = self._bouts.get(key)
        if bout is None:
            bout = self._bouts[key] = Bout(number + 1, exercise)
        if self._plot and bout.metric is None:
            bout.metric, bout.thresholds = self._plot.get("metric"), list(self._plot.get("thresholds") or [])
        bout.too_fast = max(bout.too_fast, int(row.get("not_counted_too_fast") or 0))
        value = (row.get("metrics") or {}).get(bout.metric) if bout.metric else None
        if isinstance(value, (int, float)):
            _append(bout.times, bout.values, t, float(value), self.limit)

    def result(self) -> Records:
        """What the rows so far say (the reducer can go on taking rows)."""
        out = Records(list(self.out.times), list(self.out.energy), events=list(self.out.events))
        out.out_of_position = list(self.out.out_of_position)
        if self._gate_since is not None:
            out.out_of_position.append(Span(self._gate_since, self._last_t, self._reasons.most_common(1)[0][0]))
        for (number, _), bout in self._bouts.items():
            bout.start, bout.end = self._spans[number][0], self._spans[number][1]
        out.bouts = list(self._bouts.values())
        out.spans = [Span(a, b, str(exercise)) for a, b, exercise in self._spans.values() if exercise is not None]
        return out


# -- drawing ------------------------------------------------------------------------------------


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _colours(summary: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, str]:
    names = list(summary["exercises"]) + [e.get("exercise") or "?" for e in events]
    return {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(dict.fromkeys(names))}


def overview_figure(summary: dict[str, Any], notes: list[list[str]] | None = None) -> Any:
    """Reps per exercise; each rep's range of motion (the metric's extent), duration and energy.
    ``notes``: per rep event, what stands out (report_sets); noted reps are named in red and their
    notes written under the plots, so that the PNG alone carries them."""
    events = summary["rep_events"]
    notes = notes if notes is not None else [[] for _ in events]
    noted = [bool(n) for n in notes]
    colours = _colours(summary, events)
    fig = _figure(11, 6.6)
    grid = fig.add_gridspec(2, 2, width_ratios=(1, 2))
    bars = fig.add_subplot(grid[0, 0])
    names = list(summary["exercises"])
    counts = [summary["exercises"][n]["reps"] for n in names]
    bars.bar(names, counts, color=[colours[n] for n in names])
    for i, c in enumerate(counts):
        bars.text(i, c, str(c), ha="center", va="bottom", fontsize=12, fontweight="bold")
    bars.set_title("Reps per exercise")
    bars.set_ylim(0, max(counts, default=1) * 1.25 + 0.5)
    bars.tick_params(axis="x", labelrotation=20)

    x = list(range(1, len(events) + 1))
    labels = [f"{e.get('exercise', '?')} {e.get('rep', '')}" for e in events]
    cs = [colours[e.get("exercise") or "?"] for e in events]

    rom = fig.add_subplot(grid[0, 1])
    lows = [_num(e.get("min")) for e in events]
    highs = [_num(e.get("max")) for e in events]
    if events and all(not math.isnan(v) for v in lows + highs):
        # Each rep from its lowest to its highest value of the range metric: depth at a glance.
        rom.bar(x, [h - lo for lo, h in zip(lows, highs, strict=True)], bottom=lows, color=cs, width=0.6)
        rom.set_ylabel("range metric (min to max)")
    else:
        rom.bar(x, [_num(e.get("range_of_motion")) for e in events], color=cs, width=0.6)
        rom.set_ylabel("range of motion")
    for xi, e in zip(x, events, strict=True):
        value = _num(e.get("range_of_motion"))
        top = highs[xi - 1] if not math.isnan(highs[xi - 1]) else value
        if not math.isnan(value):
            rom.text(xi, top, f"{value:.0f}", ha="center", va="bottom", fontsize=8)
    rom.set_title("Range of motion per rep")

    for col, (key, title, unit) in enumerate((("duration", "Duration per rep", "s"), ("energy", "Energy per rep", ""))):
        ax = fig.add_subplot(grid[1, col])
        values = [_num(e.get(key)) for e in events]
        ax.bar(x, values, color=cs, width=0.6)
        ax.set_title(title)
        if unit:
            ax.set_ylabel(unit)
        _rep_ticks(ax, x, labels, noted)
    _rep_ticks(rom, x, labels, noted)
    handles = [_patch(colours[n], n) for n in names]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    lines = [f"{label}: {'; '.join(n)}" for label, n in zip(labels, notes, strict=True) if n]
    if lines:
        shown = lines[:MAX_NOTE_LINES] + (
            [f"... and {len(lines) - MAX_NOTE_LINES} more reps noted"] if len(lines) > MAX_NOTE_LINES else []
        )
        fig.supxlabel("\n".join(shown), fontsize=9, color=OUT_OF_POSITION, ha="left", x=0.01)
    return fig


def _rep_ticks(ax: Any, x: list[int], labels: list[str], noted: list[bool]) -> None:
    ax.set_xticks(x)
    ax.set_xticklabels(labels if len(labels) <= 30 else [""] * len(labels), rotation=60, fontsize=7, ha="right")
    for tick, flag in zip(ax.get_xticklabels(), noted, strict=False):
        if flag:
            tick.set_color(OUT_OF_POSITION)
            tick.set_fontweight("bold")
    ax.set_xlim(0.3, max(x, default=1) + 0.7)


def _patch(colour: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def timeline_figure(summary: dict[str, Any], records: Records) -> Any:
    """The session over time (what was done, energy, out of position), then per bout the metric its
    states were decided on, the thresholds and the reps."""
    events = records.events or summary["rep_events"]
    colours = _colours(summary, events)
    bouts = [b for b in records.bouts if b.values][:MAX_BOUT_PANELS]
    fig = _figure(11, 2.6 + 2.3 * len(bouts))
    axes = fig.subplots(1 + len(bouts), 1, squeeze=False)[:, 0]
    top = axes[0]
    step = max(1, len(records.times) // MAX_POINTS)
    top.plot(records.times[::step], records.energy[::step], color="black", linewidth=1, label="energy")
    top.set_ylabel("energy score")
    top.set_title("Session: exercise under way (bands), out of position (red), energy")
    for span in records.spans:
        top.axvspan(span.start, span.end, color=colours.get(span.label, "#999999"), alpha=0.18, linewidth=0)
    for span in records.out_of_position:
        top.axvspan(span.start, max(span.end, span.start + 0.05), color=OUT_OF_POSITION, alpha=0.35, linewidth=0)
    for e in events:
        top.axvline(_num(e.get("end")), color=colours.get(e.get("exercise") or "?", "#999999"), linewidth=0.8)
    if records.times and records.times[-1] > records.times[0]:  # a run stopped at once has one instant
        top.set_xlim(records.times[0], records.times[-1])
    for ax, bout in zip(axes[1:], bouts, strict=False):
        _bout_panel(ax, bout, events, records.out_of_position, colours.get(bout.exercise, "black"))
    axes[-1].set_xlabel("seconds")
    return fig


def _bout_panel(ax: Any, bout: Bout, events: list[dict[str, Any]], gates: list[Span], colour: str) -> None:
    step = max(1, len(bout.times) // MAX_POINTS)
    ax.plot(bout.times[::step], bout.values[::step], color=colour, linewidth=1.2)
    t0, t1 = bout.start, bout.end
    named = bout.times[0]
    if named > t0 + 0.5:
        # Until the exercise was named there is no metric; its reps there were counted back.
        ax.axvspan(t0, named, color="#eeeeee", linewidth=0)
        ax.text(named, 0.5, "named here ", transform=ax.get_xaxis_transform(), ha="right", fontsize=8, color="#666")
    for th in bout.thresholds:
        value = _num(th.get("value"))
        if math.isnan(value):
            continue
        ax.axhline(value, color="#555555", linestyle="--", linewidth=0.9)
        ax.text(t1, value, f" {th.get('state')}: {bout.metric} {th.get('op', '')} {value:g}", va="center", fontsize=8)
    for span in gates:
        if span.end >= t0 and span.start <= t1:
            ax.axvspan(span.start, max(span.end, span.start + 0.05), color=OUT_OF_POSITION, alpha=0.25, linewidth=0)
    for e in events:
        end = _num(e.get("end"))
        if e.get("exercise") == bout.exercise and t0 <= end <= t1:
            ax.axvline(end, color=colour, alpha=0.5, linewidth=0.8)
            ax.text(end, 1.0, str(e.get("rep")), transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                    fontsize=9, fontweight="bold", color=colour)  # fmt: skip
    ax.set_xlim(t0, t1 + 0.12 * (t1 - t0 or 1.0))  # room for the thresholds' labels
    ax.set_ylabel(bout.metric or "metric")
    ax.set_title(f"Bout {bout.number}: {bout.exercise}, states decided on '{bout.metric}'", loc="left", fontsize=10)


# -- the page -------------------------------------------------------------------------------------

STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1120px; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.totals { display: flex; gap: 2em; flex-wrap: wrap; margin: 1em 0; }
.totals div { font-size: 0.9em; color: #555; } .totals b { display: block; font-size: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 0.25em 0.8em; text-align: right; }
th { border-bottom: 1px solid #999; } td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #f4f4f4; } img { max-width: 100%; } .note { color: #666; }
td.notes { text-align: left; color: #a33; }
"""


def render(summary: dict[str, Any], records: Records | None, title: str) -> tuple[str, list[bytes]]:
    """The report page and its images (PNG bytes, in page order)."""
    bouts = gates = None
    if records is not None and records.times:
        bouts = [(s.start, s.end) for s in records.spans]
        gates = [(s.start, s.end, s.label) for s in records.out_of_position]
    found = group_sets(summary["rep_events"], bouts, gates, BRIEF_S)
    notes = {id(r.event): r.notes for found_set in found for r in found_set.reps}
    images = [_png(overview_figure(summary, [notes.get(id(ev), []) for ev in summary["rep_events"]]))]
    if records is not None and records.times:
        images.append(_png(timeline_figure(summary, records)))
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>{STYLE}</style>"]
    parts.append(f"</head><body><h1>{e(title)}</h1>")
    done = ", ".join(f"{e(n)}: {v['reps']} reps" for n, v in summary["exercises"].items()) or "no exercise counted"
    parts.append(f"<p>{done}</p><div class='totals'>")
    for label, value in (
        ("reps", sum(v["reps"] for v in summary["exercises"].values())),
        ("seconds", f"{_num(summary.get('duration')):.0f}"),
        ("mean energy", summary.get("mean_energy")),
        ("peak energy", summary.get("peak_energy")),
        *((("seconds held", f"{_num(summary['hold_seconds']):.1f}"),) if "hold_seconds" in summary else ()),
    ):
        parts.append(f"<div><b>{e(str(value if value is not None else '-'))}</b>{label}</div>")
    parts.append("</div><h2>Exercises</h2><table><tr><th>exercise</th><th>reps</th><th>bouts</th><th>seconds</th></tr>")
    for name, v in summary["exercises"].items():
        parts.append(
            f"<tr><td>{e(name)}</td><td>{v.get('reps')}</td><td>{v.get('bouts', '')}</td>"
            f"<td>{_num(v.get('seconds')):.1f}</td></tr>"
        )
    parts.append("</table>")
    parts.append(_sets_table(found))
    parts.append(f"<h2>Reps</h2><img alt='reps per exercise and per rep' src='{_data(images[0])}'>")
    parts.append(
        "<table><tr><th>exercise</th><th>rep</th><th>start s</th><th>duration s</th><th>range of motion</th>"
        "<th>min</th><th>max</th><th>energy</th><th>notes</th></tr>"
    )
    for ev in summary["rep_events"]:
        cells = [_fmt(ev.get(k)) for k in ("start", "duration", "range_of_motion", "min", "max", "energy")]
        parts.append(
            f"<tr class='rep'><td>{e(str(ev.get('exercise')))}</td><td>{e(str(ev.get('rep')))}</td>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + f"<td class='notes'>{e('; '.join(notes.get(id(ev), [])))}</td></tr>"
        )
    parts.append("</table>")
    if summary.get("rep_events_dropped"):
        parts.append(f"<p class='note'>The first {summary['rep_events_dropped']} reps are not listed.</p>")
    if records is None or not records.times:
        parts.append("<p class='note'>Give the per-frame records (--records reps.jsonl) for the metric the states "
                     "were decided on and where the person was out of position.</p>")  # fmt: skip
    else:
        parts.append(f"<h2>Over the session</h2><img alt='metric and thresholds per bout' src='{_data(images[1])}'>")
        parts.append("<ul>" + "".join(f"<li>{_decided(b)}</li>" for b in records.bouts) + "</ul>")
        parts.append(_gates_table(records.out_of_position))
    parts.append("</body></html>\n")
    return "".join(parts), images


def _sets_table(found: list[Any]) -> str:
    """Per set (a bout of one exercise): reps, the rest before it (from the last rep before), mean
    range of motion, mean duration, energy, and how many of its reps have a note."""
    if not found:
        return ""
    e = html.escape
    rests = [math.nan] + [b.start - a.end for a, b in pairwise(found)]
    rows = "".join(
        f"<tr class='set'><td>{s.number}</td><td>{e(s.exercise)}</td><td>{len(s.reps)}</td><td>{_fmt(s.start)}</td>"
        f"<td>{_fmt(rest)}</td><td>{_fmt(s.mean_range)}</td><td>{_fmt(s.mean_duration)}</td><td>{_fmt(s.energy)}</td>"
        f"<td>{sum(1 for r in s.reps if r.notes)}</td></tr>"
        for s, rest in zip(found, rests, strict=True)
    )
    return (
        "<h2>Sets</h2><table><tr><th>set</th><th>exercise</th><th>reps</th><th>from s</th><th>rest before s</th>"
        "<th>mean range of motion</th><th>mean duration s</th><th>energy</th><th>reps noted</th></tr>"
        f"{rows}</table><p class='note'>A rep is noted too shallow under {SHALLOW:.0%} of its set's median "
        f"range of motion, too fast under {FAST:.0%} of its median duration (sets of {MIN_REPS_TO_COMPARE} reps "
        "or more), out of position when nothing counted for part of it.</p>"
    )


def _decided(bout: Bout) -> str:
    e = html.escape
    rules = ", ".join(
        f"{e(str(th.get('state')))} when {e(str(bout.metric))} {e(str(th.get('op', '')))} {_num(th.get('value')):g}"
        for th in bout.thresholds
    )
    fast = f"; {bout.too_fast} cycles too fast to count as reps" if bout.too_fast else ""
    return (
        f"Bout {bout.number}, {e(bout.exercise)}: states decided on <b>{e(str(bout.metric))}</b>"
        + (f": {rules}" if rules else "")
        + fast
    )


def _gates_table(spans: list[Span]) -> str:
    # A joint lost for a frame or two is the pose model's blink, not the athlete's: counted, not listed.
    brief = [s for s in spans if s.seconds < BRIEF_S]
    spans = [s for s in spans if s.seconds >= BRIEF_S]
    blinks = f"<p class='note'>{len(brief)} brief losses (under {BRIEF_S} s) are not listed.</p>" if brief else ""
    if not spans:
        return "<p>Once each exercise was named, the person was in position throughout.</p>" + blinks
    total = sum(s.seconds for s in spans)
    rows = "".join(
        f"<tr><td>{html.escape(s.label)}</td><td>{s.start:.1f}</td><td>{s.end:.1f}</td><td>{s.seconds:.1f}</td></tr>"
        for s in spans
    )
    return (
        f"<h2>Out of position ({len(spans)} times, {total:.1f} s)</h2>"
        f"<table><tr><th>why nothing counted</th><th>from s</th><th>to s</th><th>seconds</th></tr>{rows}</table>"
        + blinks
    )


def _fmt(value: Any) -> str:
    v = _num(value)
    return "" if math.isnan(v) else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def _data(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def stack_png(images: list[bytes]) -> bytes:
    """The report's images one under the other, as one PNG."""
    import numpy as np
    from matplotlib.image import imread, imsave

    arrays = [imread(io.BytesIO(png), format="png") for png in images]
    width = max(a.shape[1] for a in arrays)
    padded = [np.pad(a, ((0, 0), (0, width - a.shape[1]), (0, 0)), constant_values=1.0) for a in arrays]
    buf = io.BytesIO()
    imsave(buf, np.concatenate(padded, axis=0), format="png")
    return buf.getvalue()


def write_report(
    summary_path: str | Path,
    out: str | Path,
    records_path: str | Path | None = None,
    png: str | Path | None = None,
    title: str | None = None,
) -> None:
    """Read a summary (and records), write the HTML report (and the PNG)."""
    summary = load_summary(summary_path)
    records = load_records(records_path) if records_path else None
    page, images = render(summary, records, title or f"Session report: {Path(summary_path).name}")
    _write(out, page.encode("utf-8"))
    if png:
        _write(png, stack_png(images))


def _write(path: str | Path, data: bytes) -> None:
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None


# -- the command ----------------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction) -> Callable[[argparse.Namespace], int]:
    p = sub.add_parser("report", help="a session report (HTML, PNG) from a summary and its records")
    p.add_argument("summary", help="the session summary: dataflow run ... --summary-json SUMMARY.json")
    p.add_argument("--records", metavar="JSONL", help="the per-frame records (the records sink's out=...jsonl)")
    p.add_argument("-o", "--out", metavar="HTML", help="the page to write (default: SUMMARY.html)")
    p.add_argument("--png", metavar="PNG", help="also write the plots as one PNG image")
    p.add_argument("--title", help="the page's title")
    return run


def run(args: argparse.Namespace) -> int:
    try:
        import matplotlib  # noqa: F401 - a dependency; a broken install should say so in one line
    except ImportError:
        raise UserError("the report needs matplotlib: pip install matplotlib") from None
    out = args.out or str(Path(args.summary).with_suffix(".html"))
    write_report(args.summary, out, args.records, args.png, args.title)
    print(out)
    return 0
