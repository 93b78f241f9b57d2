"""bench/clips.py: counting from a clip's cached recording gives what the main job gives on the
file itself (squat-3 only, to keep it cheap), the cache is reused and keeps depth, and bad input
is one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT, SHARED

sys.path.insert(0, str(ROOT / "bench"))
import clips

SQUAT = SHARED / "videos" / "squat-3.mp4"
needs_squat = pytest.mark.skipif(not SQUAT.is_file(), reason="../shared/videos/squat-3.mp4 is absent")


@needs_squat
def test_counting_from_the_recording_equals_the_main_job_on_the_file(tmp_path: Path) -> None:
    clip = next(c for c in clips.labelled_clips(["top"]) if c.name == "squat-3.mp4")
    rec = clips.record(clip.path, tmp_path / "cache")
    assert not rec["cached"] and rec["frames"] == 322
    # auto runs the recognizer and the counter: the recorded keypoints must be the live ones exactly.
    verified = clips.verify(clip, rec["recording"], tmp_path, modes=("auto",))
    assert verified["auto"] == {"same": True, "file": 3, "recording": 3}
    assert clips.count(rec["recording"], "squat")["reps"] == 3

    again = clips.record(clip.path, tmp_path / "cache")
    assert again["cached"] and again["recording"] == rec["recording"]
    poses, times = clips.clip_poses(clip.path, tmp_path / "cache")
    assert poses.shape == (322, 33, 3) and times.shape == (322,)
    assert (poses[..., 2] != 0).any()  # the model's depth is kept for turned training views


def test_a_changed_setting_is_another_cache_entry(tmp_path: Path) -> None:
    key = clips.settings(tmp_path)
    other = clips.settings(tmp_path, ["in_flight=1"])
    readme = ROOT / "README.md"
    assert clips.cache_files(readme, tmp_path, key) != clips.cache_files(readme, tmp_path, other)
    assert clips.cache_files(readme, tmp_path, key) == clips.cache_files(readme, tmp_path, clips.settings(tmp_path))


def test_every_label_names_a_workout() -> None:
    if not (SHARED / "videos").is_dir():
        pytest.skip("../shared/videos is absent")
    found = clips.labelled_clips()
    assert {c.folder for c in found} == {"top", "clips", "workouttracker", "fitcenter"}
    assert all(c.true is None for c in found if c.folder == "fitcenter")


def test_bad_folder_is_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        clips.main(["--folder", "nope"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--folder nope: no such folder" in err
