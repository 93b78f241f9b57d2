"""The reps graph from your own code: push frames (or keypoints), print each rep as it is counted.

    python graphs/examples/embed.py clip.mp4      # frames read with OpenCV, pushed one by one
    python graphs/examples/embed.py               # keypoints of a synthetic session, no model

The graph runs on its own threads, pipelined; `push` waits while it is behind (a bounded queue),
`results()` returns what is ready without waiting. Leaving the `with` block flushes and stops it.
"""

from __future__ import annotations

import sys

import dataflow


def show(results: list[dataflow.Result]) -> None:
    for result in results:
        rep = result["rep"]  # None on frames that end no rep
        if rep is not None:
            print(f"rep {rep.rep}: {rep.exercise}, {rep.end - rep.start:.1f} s, range {rep.range_of_motion:.0f}")


def from_video(path: str) -> dict:
    import cv2

    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        sys.exit(f"embed.py: cannot read {path}")
    with dataflow.open("reps", exercise="auto", out="out/embed.jsonl") as session:
        while True:
            ok, frame = capture.read()  # a BGR numpy image
            if not ok:
                break
            session.push(frame, timestamp=capture.get(cv2.CAP_PROP_POS_MSEC) / 1e3)
            show(session.results())
    show(session.results())  # the last frames' results, once the graph has flushed
    return session.summary


def from_keypoints() -> dict:
    from nodes.athlete.session_plan import session_keypoints
    from nodes.recording.push import push_keypoints

    # feed="keypoints": the app's keypoints replace the pose pipeline's (no frames, no model).
    with dataflow.open("reps", feed="keypoints", out="out/embed.jsonl") as session:
        for t, kp in session_keypoints("squat*5,rest*3s,push-up*4"):
            push_keypoints(session, kp, timestamp=t)
            show(session.results())
    show(session.results())
    return session.summary


def main() -> None:
    summary = from_video(sys.argv[1]) if len(sys.argv) > 1 else from_keypoints()
    print(", ".join(f"{name}: {done['reps']} reps" for name, done in summary["exercises"].items()))


if __name__ == "__main__":
    main()
