"""`dataflow report`: the session report of a synthetic session names every exercise and rep, draws
its plots into the page itself, lists where the person was out of position; bad input is one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import dataflow
from dataflow.cli import main
from nodes.athlete.session_plan import session_keypoints
from nodes.recording.push import push_keypoints

pytest.importorskip("matplotlib")

SESSION = "squat*5,rest*3s,push-up*4"


@pytest.fixture(scope="module")
def session_files(tmp_path_factory) -> tuple[Path, Path]:
    """A synthetic session's summary and records, with a stretch where the squatter's knees were
    not seen (written into the records: the athlete never leaves position by itself)."""
    folder = tmp_path_factory.mktemp("report")
    records = folder / "reps.jsonl"
    with dataflow.open("reps", feed="keypoints", out=str(records)) as session:
        for t, kp in session_keypoints(SESSION):
            push_keypoints(session, kp, timestamp=t)
            session.results()
    summary = folder / "summary.json"
    summary.write_text(json.dumps(session.summary))
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    blink = next(r for r in rows if "seq" in r and r["exercise"] == "squat" and r["timestamp"] >= 10.0)
    blink["in_position"], blink["gate"] = False, "wrist not seen"  # one frame: the model's blink
    for row in rows:
        if "seq" in row and row["exercise"] == "squat" and 7.0 <= row["timestamp"] <= 8.0:
            row["in_position"], row["gate"] = False, "knee not seen"
        if "seq" in row and row["exercise"] == "push-up" and row["timestamp"] > 29.0:
            row["not_counted_too_fast"] = 2  # as the counter says it once a cycle was too quick
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return summary, records


def test_the_report_names_every_exercise_and_rep(session_files, tmp_path: Path, capsys) -> None:
    summary_path, records = session_files
    out, png = tmp_path / "report.html", tmp_path / "report.png"
    args = ["report", str(summary_path), "--records", str(records), "-o", str(out), "--png", str(png)]
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == str(out)
    page = out.read_text()
    summary = json.loads(summary_path.read_text())
    assert {k: v["reps"] for k, v in summary["exercises"].items()} == {"squat": 5, "push-up": 4}
    for name, done in summary["exercises"].items():
        assert f"<tr><td>{name}</td><td>{done['reps']}</td>" in page
    reps = re.findall(r"<tr class='rep'><td>([^<]+)</td><td>(\d+)</td>", page)
    assert reps == [("squat", str(n)) for n in range(1, 6)] + [("push-up", str(n)) for n in range(1, 5)]
    # Both plots are in the page itself; nothing is fetched from anywhere.
    assert page.count("src='data:image/png;base64,") == 2
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page) and "<script" not in page
    assert "brief losses (under 0.2 s) are not listed" in page and "wrist not seen" not in page
    assert "<h2>Out of position (" in page and "<td>knee not seen</td><td>7.0</td><td>8.0</td>" in page
    assert "Bout 1, squat: states decided on <b>low</b>: up when low &lt; 0.35, down when low &gt; 0.65" in page
    assert "Bout 2, push-up: states decided on <b>low</b>" in page and "2 cycles too fast to count as reps" in page
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_records_the_report_says_what_they_would_add(session_files, tmp_path: Path) -> None:
    summary_path, _ = session_files
    out = tmp_path / "r.html"
    assert main(["report", str(summary_path), "-o", str(out)]) == 0
    page = out.read_text()
    assert page.count("data:image/png;base64,") == 1 and "--records reps.jsonl" in page
    assert len(re.findall(r"<tr class='rep'>", page)) == 9


def test_bad_input_is_one_line(session_files, tmp_path: Path, capsys) -> None:
    summary_path, records = session_files
    cases = [
        ([str(tmp_path / "nope.json")], "nope.json: no such file"),
        ([str(records)], "not JSON"),
        ([str(tmp_path / "x.json")], "not a session summary"),
        ([str(summary_path), "--records", str(summary_path)], "line 1: not a per-frame record"),
    ]
    (tmp_path / "x.json").write_text('{"frames": 3}')
    for args, message in cases:
        assert main(["report", *args, "-o", str(tmp_path / "o.html")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err


def _rows(page: str, kind: str) -> list[list[str]]:
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(rf"<tr class='{kind}'>(.*?)</tr>", page)]


def test_sets_table_and_notes_on_the_reps_that_stand_out(session_files, tmp_path: Path) -> None:
    summary_path, records = session_files
    summary = json.loads(summary_path.read_text())
    events = summary["rep_events"]
    shallow = next(e for e in events if e["exercise"] == "squat" and e["rep"] == 5)
    shallow["range_of_motion"] *= 0.4
    fast = next(e for e in events if e["exercise"] == "push-up" and e["rep"] == 2)
    fast["duration"] *= 0.3
    edited = tmp_path / "summary.json"
    edited.write_text(json.dumps(summary))
    out = tmp_path / "report.html"
    assert main(["report", str(edited), "--records", str(records), "-o", str(out)]) == 0
    page = out.read_text()

    sets = _rows(page, "set")
    assert [(r[0], r[1], r[2]) for r in sets] == [("1", "squat", "5"), ("2", "push-up", "4")]
    for row, exercise in zip(sets, ("squat", "push-up"), strict=True):
        mine = [e for e in events if e["exercise"] == exercise]
        assert float(row[5]) == pytest.approx(sum(e["range_of_motion"] for e in mine) / len(mine), abs=0.1)
        assert float(row[6]) == pytest.approx(sum(e["duration"] for e in mine) / len(mine), abs=0.01)
        assert float(row[7]) == pytest.approx(sum(e["energy"] for e in mine), rel=0.01)
    # The rest before the push-ups: from the last squat's end to the first push-up's start.
    assert sets[0][4] == "" and float(sets[1][4]) == pytest.approx(events[5]["start"] - events[4]["end"], abs=0.1)

    notes = {(r[0], int(r[1])): r[-1] for r in _rows(page, "rep")}
    assert "too shallow" in notes[("squat", 5)] and "too fast" in notes[("push-up", 2)]
    # The fixture's stretch without the knee (7.0 to 8.0 s) is noted on the reps it cut into; the
    # one-frame blink on no rep.
    overlapping = {
        ("squat", e["rep"]) for e in events if e["exercise"] == "squat" and e["start"] < 8.0 and e["end"] > 7.0
    }
    assert overlapping
    for key, note in notes.items():
        assert ("out of position" in note) == (key in overlapping), (key, note)
        assert "wrist" not in note
        if key in overlapping:
            assert "(knee not seen)" in note
    plain = set(notes) - overlapping - {("squat", 5), ("push-up", 2)}
    assert all(notes[k] == "" for k in plain), notes
    assert int(sets[0][8]) == len(overlapping | {("squat", 5)}) and sets[1][8] == "1"


def test_without_records_a_set_ends_at_a_new_exercise_a_restart_or_a_long_pause() -> None:
    from nodes.sinks.report_sets import SET_GAP_S, sets

    def rep(exercise: str, n: int, start: float) -> dict:
        return {"exercise": exercise, "rep": n, "start": start, "end": start + 2.0, "duration": 2.0,
                "range_of_motion": 90.0, "energy": 1.0}  # fmt: skip

    events = [rep("squat", n, 2.0 * n) for n in range(1, 4)]
    events += [rep("squat", n, 10.0 + 2.0 * n) for n in range(1, 3)]  # the count started again
    late = 16.0 + SET_GAP_S + 1.0
    events += [rep("squat", 3, late), rep("lunge", 1, late + 2.0)]
    found = sets(events)
    assert [(s.exercise, len(s.reps)) for s in found] == [("squat", 3), ("squat", 2), ("squat", 1), ("lunge", 1)]
    assert found[0].energy == 3.0 and found[0].mean_duration == 2.0
    # Nothing stands out among equal reps; a set too small to compare notes nothing.
    assert all(not r.notes for s in found for r in s.reps)


def test_a_long_session_is_reduced_to_bounded_samples_with_its_spans_exact() -> None:
    from nodes.sinks.report import RecordsReducer

    reducer = RecordsReducer(limit=1000)
    plot = {"metric": "low", "thresholds": [{"state": "up", "op": "<", "value": 0.35}]}
    for seq in range(50_000):  # about half an hour at 30 fps
        t = seq / 30
        row = {"seq": seq, "timestamp": t, "exercise": "squat", "bout": 0, "metrics": {"low": seq % 60 / 60}}
        row.update({"plot": plot} if seq == 0 else {})
        row.update({"in_position": False, "gate": "knee not seen"} if 30_000 <= seq < 30_300 else {})
        reducer.add(row)
    records = reducer.result()
    assert 500 <= len(records.times) <= 1000 and len(records.energy) == len(records.times)
    (bout,) = records.bouts
    assert 500 <= len(bout.values) <= 1000 and bout.times == sorted(bout.times)
    assert (bout.start, bout.end) == (0.0, 49_999 / 30)
    (gate,) = records.out_of_position
    assert (gate.start, gate.end, gate.label) == (1000.0, 30_300 / 30, "knee not seen")


def test_the_overview_image_names_the_noted_reps_itself(session_files) -> None:
    # The PNG goes where the page does not (a message, a print): the notes must be in it.
    from nodes.sinks.report import MAX_NOTE_LINES, overview_figure

    summary = json.loads(session_files[0].read_text())
    events = summary["rep_events"]
    notes: list[list[str]] = [[] for _ in events]
    notes[2] = ["too shallow (40 of the set's 110)"]
    fig = overview_figure(summary, notes)
    assert fig.get_supxlabel() == "squat 3: too shallow (40 of the set's 110)"
    red = {t.get_text() for t in fig.axes[1].get_xticklabels() if t.get_color() == "#d62728"}
    assert red == {"squat 3"}
    many = overview_figure(summary, [["too fast"] for _ in events]).get_supxlabel().splitlines()
    assert len(many) == MAX_NOTE_LINES + 1 and many[-1] == f"... and {len(events) - MAX_NOTE_LINES} more reps noted"
    assert overview_figure(summary).get_supxlabel() == ""
