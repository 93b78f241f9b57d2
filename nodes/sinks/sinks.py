"""Workout sinks: per-frame records (JSONL or CSV) and the session summary."""

from __future__ import annotations

import csv
import math
import sys
import time
from pathlib import Path
from typing import IO, Any

import numpy as np

from dataflow import EVENT, KEYPOINTS, RECORD, In, Node, Param, UserError
from nodes.jsonutil import dumps
from nodes.pose.keypoints import Keypoints

MAX_EVENTS = 1000  # rep events a session summary lists (the newest)


def person_of(stream: str) -> str:
    """The person's id in a per-person stream's name (``<stream>/<id>``, as the tracker names them)."""
    return stream.rsplit("/", 1)[-1]


def rep_row(rep: Any, energy: dict | None) -> dict[str, Any]:
    """A rep event as a plain dict, with the energy the meter gave it on the same frame."""
    row = rep.to_dict()
    if energy is not None and "rep_energy" in energy:
        row["energy"] = energy["rep_energy"]
    return row


def open_output(node: str, path: str, newline: str | None = None) -> IO[str]:
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.open("w", encoding="utf-8", newline=newline)
    except OSError as exc:
        raise UserError(f"node '{node}': cannot write {path}: {exc.strerror}") from None


def _add_bout(totals: dict[str, dict[str, Any]], bout: tuple[int, str | None, int, float, float]) -> None:
    """Add one bout (id, exercise, reps, first, last time) to per-exercise totals; no exercise, nothing."""
    _, exercise, reps, first, last = bout
    if exercise is not None:
        done = totals.setdefault(exercise, {"reps": 0, "bouts": 0, "seconds": 0.0})
        done["reps"] += reps
        done["bouts"] += 1
        done["seconds"] += last - first


class WorkoutRecords(Node):
    """Per frame: seq, timestamp, keypoints, state, reps, energy (and rep events), as JSONL or CSV."""

    inputs = [
        In("keypoints", KEYPOINTS, optional=True),
        In("state", RECORD, optional=True),
        In("energy", RECORD, optional=True),
        In("rep", EVENT, optional=True),
    ]
    params = [
        Param("path", str, "out/reps.jsonl", "output file: .jsonl or .csv"),
        Param("keypoints_in_csv", bool, True, "CSV: add x, y, confidence columns per joint"),
    ]

    def setup(self) -> None:
        self.csv = self.path.endswith(".csv")
        self.file = open_output(self.name, self.path, newline="" if self.csv else None)
        self.writer: csv.writer | None = csv.writer(self.file) if self.csv else None  # type: ignore[valid-type]
        self.header: list[str] | None = None

    def process(self, keypoints: Keypoints | None, state: dict | None, energy: dict | None, rep: Any) -> None:
        if keypoints is None and state is None and energy is None and rep is None:
            return  # nothing of this packet's stream (a frame's own stream where each person has theirs)
        if self.writer is None:
            row: dict[str, Any] = {"seq": self.seq, "timestamp": round(float(self.timestamp), 4)}
            person = keypoints.track if keypoints is not None else None
            if person is not None:
                row["person"] = person  # several people tracked: whose record this is
            if state is not None:
                row.update(state)
            if energy is not None:
                row["energy"] = energy
            if keypoints is not None:
                row["keypoints"] = keypoints
            self.file.write(dumps(row) + "\n")
            if rep is not None:
                self.file.write(dumps(rep if person is None else {**rep.to_dict(), "person": person}) + "\n")
            return
        self._csv_row(keypoints, state, energy)

    def _csv_row(self, kp: Keypoints | None, state: dict | None, energy: dict | None) -> None:
        metrics = (state or {}).get("metrics", {})
        if self.header is None:
            self.header = ["seq", "timestamp", "state", "reps", "energy", *metrics]
            if kp is not None and self.keypoints_in_csv:
                self.header += [f"{n}_{c}" for n in kp.names for c in ("x", "y", "c")]
            assert self.writer is not None
            self.writer.writerow(self.header)
        row = [self.seq, round(float(self.timestamp), 4), (state or {}).get("state"), (state or {}).get("reps"),
               (energy or {}).get("score"), *metrics.values()]  # fmt: skip
        if kp is not None and self.keypoints_in_csv:
            row += np.round(np.column_stack([kp.xy, kp.confidence]), 3).ravel().tolist()
        assert self.writer is not None
        self.writer.writerow(row)

    def close(self) -> None:
        self.file.close()


class Tally:
    """A session's running figures: reps per exercise (the last word on each bout), duration,
    energy, the newest rep events. Kept by the summary sink and by the live view for its report."""

    def __init__(self) -> None:
        self.hold: float | None = None
        self.first: float | None = None
        self.last: float | None = None
        self.score_count = 0
        self.score_sum = 0.0
        self.score_peak = -math.inf
        self.events: list[dict] = []
        self.events_dropped = 0
        self.total_energy = 0.0
        self.frames = 0
        self.bouts: dict[str, dict[str, float]] = {}  # exercise -> reps, bouts, seconds of the bouts that ended
        self.bout: tuple[int, str | None, int, float, float] | None = None  # id, exercise, reps, first, last

    def add(self, t: float, state: dict, energy: dict | None, rep: Any) -> None:
        """One frame's state (the reps node's record), energy and rep event, at ``t`` seconds."""
        self.frames += 1
        self.first = t if self.first is None else self.first
        self.last = t
        self._bout(state, t)
        self.hold = state.get("hold_seconds", self.hold)
        if energy is not None:
            self.score_count += 1
            self.score_sum += energy["score"]
            self.score_peak = max(self.score_peak, energy["score"])
            self.total_energy = energy["total"]
        if rep is not None:
            self.events.append(rep_row(rep, energy))
            if len(self.events) > 2 * MAX_EVENTS:
                # A camera that runs for days: keep the newest events, count the rest.
                self.events_dropped += len(self.events) - MAX_EVENTS
                del self.events[:-MAX_EVENTS]

    def _bout(self, state: dict, t: float) -> None:
        """Reps per exercise: the last word on each bout (a recognition may be revised within one)."""
        # .get: the live view keeps a tally of whatever record it is wired to.
        bout, exercise = state.get("bout", 0), state.get("exercise")
        reps = state.get("bout_reps", state.get("reps", 0))
        if self.bout is not None and self.bout[0] != bout:
            _add_bout(self.bouts, self.bout)
            self.bout = None
        first = self.bout[3] if self.bout is not None else t
        self.bout = (bout, exercise, reps, first, t)

    def exercises(self) -> dict[str, dict[str, Any]]:
        """{exercise: {reps, bouts, seconds}} over the session so far."""
        out = {k: dict(v) for k, v in self.bouts.items()}
        if self.bout is not None:
            _add_bout(out, self.bout)
        return {k: {**v, "seconds": round(v["seconds"], 3)} for k, v in out.items()}

    def summary(self) -> dict[str, Any]:
        """The session summary (what ``--summary-json`` writes) so far."""
        exercises = self.exercises()
        main = max(exercises, key=lambda k: exercises[k]["reps"], default=None)
        out: dict[str, Any] = {
            "exercise": main,
            "reps": exercises[main]["reps"] if main else 0,
            "exercises": exercises,
            "duration": round((self.last or 0.0) - (self.first or 0.0), 3),
            "mean_energy": round(self.score_sum / self.score_count, 2) if self.score_count else None,
            "peak_energy": round(self.score_peak, 2) if self.score_count else None,
            "total_energy": round(self.total_energy, 3),
            "rep_events": self.events[-MAX_EVENTS:],
        }
        dropped = self.events_dropped + max(0, len(self.events) - MAX_EVENTS)
        if dropped:
            out["rep_events_dropped"] = dropped  # the oldest; the summary lists the newest MAX_EVENTS
        if self.hold is not None:
            out["hold_seconds"] = self.hold
        return out


class SessionSummary(Node):
    """Collects reps, duration and energy; prints a summary at the end and reports it to --summary-json.

    One per stream: where several people are tracked (keypoints carry their id) the summary lists
    every person (``people``: id, exercises with reps and bouts, first and last seen, rep events)."""

    inputs = [
        In("state", RECORD),
        In("energy", RECORD, optional=True),
        In("rep", EVENT, optional=True),
        In("keypoints", KEYPOINTS, "whose session it is, where several people are tracked", optional=True),
    ]
    params = [Param("print", bool, True, "print the summary on stderr at the end")]
    stateful = True

    def setup(self) -> None:
        self.tally = Tally()
        self.wall_start: float | None = None
        self.person: int | None = None

    def process(self, state: dict, energy: dict | None, rep: Any, keypoints: Keypoints | None = None) -> None:
        if self.wall_start is None:
            self.wall_start = time.perf_counter()
        if keypoints is not None and keypoints.track is not None:
            self.person = keypoints.track
        self.tally.add(float(self.timestamp), state, energy, rep)
        if rep is not None and self.person is not None:
            self.tally.events[-1]["person"] = self.person  # the rep just added: whose it was

    def exercises(self) -> dict[str, dict[str, Any]]:
        """{exercise: {reps, bouts, seconds}} over the session so far."""
        return self.tally.exercises()

    def summary(self) -> dict[str, Any]:
        out = self.tally.summary()
        if self.person is not None:
            out["id"] = self.person
            out["first_seen"] = round(self.tally.first or 0.0, 3)
            out["last_seen"] = round(self.tally.last or 0.0, 3)
        return out

    @classmethod
    def combine_summaries(cls, parts: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        """One person: their summary, as always. Several: ``people`` (each person's, by id, with
        their rep events), the exercises of everyone together, every rep event in time order."""
        people = [part for _, part in parts if "id" in part]
        if not people:
            return super().combine_summaries(parts)
        people.sort(key=lambda p: p["id"])
        exercises: dict[str, dict[str, Any]] = {}
        for person in people:
            for name, done in person["exercises"].items():
                total = exercises.setdefault(name, {"reps": 0, "bouts": 0, "seconds": 0.0})
                for key in total:
                    total[key] += done[key]
        main = max(exercises, key=lambda k: exercises[k]["reps"], default=None)
        events = sorted((e for p in people for e in p["rep_events"]), key=lambda e: e.get("end", 0.0))
        return {
            "people": people,
            "exercise": main,
            "reps": exercises[main]["reps"] if main else 0,
            "exercises": {k: {**v, "seconds": round(v["seconds"], 3)} for k, v in exercises.items()},
            "duration": round(max(p["last_seen"] for p in people) - min(p["first_seen"] for p in people), 3),
            "rep_events": events[-MAX_EVENTS:],
        }

    def close(self) -> None:
        s = self.summary()
        frames = self.tally.frames
        if self.print and frames:
            hold = f", held {s['hold_seconds']:.1f} s" if "hold_seconds" in s else ""
            energy = f", energy mean {s['mean_energy']} peak {s['peak_energy']}" if self.tally.score_count else ""
            wall = time.perf_counter() - (self.wall_start or time.perf_counter())
            rate = f" at {frames / wall:.1f} fps" if wall > 0 else ""
            done = ", ".join(f"{k}: {v['reps']} reps" for k, v in s["exercises"].items()) or "no exercise"
            who = f"person {self.person}: " if self.person is not None else ""
            print(f"{who}{done}{hold} in {s['duration']:.1f} s{energy}; {frames} frames{rate}", file=sys.stderr)
