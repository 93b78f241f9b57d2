"""The gym floor's live view (graphs/gym_live.yaml): every person's count on the page, whose rep
each row of the rep table is, and the end summary per person; a page in a real browser is in
test_web_browser.py."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from gym_helpers import athlete, side_by_side, write_video
from web_helpers import api_state, running, wait_until

from nodes.sinks.web_people import LivePeopleView

PLANS = (("squat", 2), ("push-up", 3))


@pytest.fixture(scope="module")
def two_people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two rendered athletes side by side: squats on the left, push-ups on the right."""
    video = tmp_path_factory.mktemp("gym-live") / "two.mp4"
    write_video(video, side_by_side(*(athlete(f"{name}*{n}", seed=k) for k, (name, n) in enumerate(PLANS))))
    return video


def gym_live(video: Path, tmp_path: Path) -> list[str]:
    return [f"input={video}", "people=2", "web.port=0", f"out={tmp_path / 'reps.jsonl'}", "session.print=false"]


def test_state_counts_every_person_and_says_whose_rep(two_people: Path, tmp_path: Path) -> None:
    with running(Path("graphs/gym_live.yaml"), gym_live(two_people, tmp_path)) as (_, view, _):
        assert isinstance(view, LivePeopleView)
        wait_until(lambda: api_state(view).get("ended"), seconds=300)
        state = api_state(view)
    counts = {p["id"]: (p["exercise"], p["reps"]) for p in state["counts"]}
    assert sorted(counts.values()) == sorted(PLANS)
    assert state["reps"] == sum(n for _, n in PLANS)
    # Every rep row names its person, and each person has as many rows as reps.
    rows = Counter((r["person"], r["exercise"]) for r in state["rep_list"])
    assert rows == Counter({(pid, ex): n for pid, (ex, n) in counts.items()})
    assert state["summary"]["people"] == state["counts"]
