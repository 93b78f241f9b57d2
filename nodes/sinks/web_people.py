"""Live view of a gym floor: the page of ``web`` with every tracked person's skeleton, id,
exercise and count, a count per person, and a rep table that says whose rep each row is.

It takes what the annotated people video takes: the frame, everyone seen in it (``track.people``)
and every person's newest rep state, plus every person's newest rep event (both wired as
``feedback: streams``, as a view of all the people of a frame must be). A rep event is shown once:
the newest event of a stream stays in that input until the next one comes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataflow import EVENT, FRAME, RECORD, In
from nodes.pose.keypoints import Keypoints
from nodes.pose.people import PEOPLE

from .sinks import person_of, rep_row
from .web import REP_ROWS, LiveView, Shared, keypoints_message


class LivePeopleView(LiveView):
    """Serve a live page of a gym floor at http://HOST:PORT/: every person, their count, whose rep."""

    inputs = [
        In("frame", FRAME, optional=True),
        In("people", PEOPLE, "everyone seen in the frame, ids set"),
        In("states", RECORD, "every person's newest rep state (wire as feedback: streams)", optional=True),
        In("reps", EVENT, "every person's newest rep event (wire as feedback: streams)", optional=True),
    ]
    # The session report draws one person's session; several people's is not drawn yet.
    params = [p for p in LiveView.params if p.name != "report"]
    report = False

    def setup(self) -> None:
        super().setup()
        self.shown: dict[str, tuple] = {}  # stream -> the newest rep event already in the table
        self.people_seen: dict[str, dict[str, Any]] = {}  # id -> newest exercise and reps, kept after they leave

    def process(  # type: ignore[override]
        self, frame: np.ndarray | None, people: list[Keypoints] | None, states: dict | None, reps: dict | None
    ) -> None:
        self._tick()
        for stream, state in (states or {}).items():
            self.people_seen[person_of(stream)] = {"exercise": state.get("exercise"), "reps": state.get("reps", 0)}
        for stream, rep in (reps or {}).items():
            self._add_rep(stream, rep)
        state = self._people_state(people or [], states or {})
        self.shared = Shared(self.seq, state, frame if self.viewers else None)
        self._wake()

    def _add_rep(self, stream: str, rep: Any) -> None:
        key = (rep.exercise, rep.rep, rep.end)
        if self.shown.get(stream) == key:
            return
        self.shown[stream] = key
        self.rep_count += 1
        row = {**rep_row(rep, None), "person": person_of(stream), "n": self.rep_count}
        self.reps = [*self.reps[-(REP_ROWS - 1) :], row]

    def _people_state(self, people: list[Keypoints], states: dict[str, dict]) -> dict[str, Any]:
        by_id = {person_of(stream): state for stream, state in states.items()}
        in_view = []
        for kp in people:
            pid = str(kp.track)
            st = by_id.get(pid, {})
            entry: dict[str, Any] = {
                "id": pid,
                "exercise": st.get("exercise"),
                "reps": st.get("reps", 0),
                "state": st.get("state"),
                "in_position": st.get("in_position"),
            }
            if self.viewers:
                entry["keypoints"] = keypoints_message(kp)
            in_view.append(entry)
        return {
            "seq": self.seq,
            "t": round(float(self.timestamp), 3),
            "people": in_view,
            # Everyone seen so far, also those who left: a count never disappears with its person.
            "counts": [{"id": pid, **seen} for pid, seen in sorted(self.people_seen.items(), key=_id_order)],
            "reps": sum(seen["reps"] for seen in self.people_seen.values()),
            "exercise": None,
            "fps": self._fps(),
            "plot": None,
            "rep_list": self.reps,
            "ended": False,
        }

    def _end_summary(self, last: dict[str, Any]) -> dict[str, Any]:
        summary = super()._end_summary(last)
        del summary["exercise"]
        return {"people": last.get("counts", []), **summary}


def _id_order(item: tuple[str, Any]) -> tuple[int, str]:
    pid = item[0]
    return (int(pid), pid) if pid.isdigit() else (1 << 30, pid)
