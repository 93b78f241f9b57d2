"""The peer: MediaPipe 0.10.14 legacy Pose on a clip. Runs inside bench/.peer-venv.

Usage: python peer_mediapipe.py CLIP OUT.json
Writes {"fps": ..., "frames": ..., "landmarks": [[[x, y, visibility] * 33] or null per frame]}.
"""

from __future__ import annotations

import json
import sys
import time

import cv2
import mediapipe as mp


def main() -> None:
    clip, out = sys.argv[1], sys.argv[2]
    cap = cv2.VideoCapture(clip)
    pose = mp.solutions.pose.Pose(model_complexity=1, smooth_landmarks=True, static_image_mode=False)
    frames = []
    t0 = time.perf_counter()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        result = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        if result.pose_landmarks is None:
            frames.append(None)
        else:
            frames.append([[lm.x * w, lm.y * h, lm.visibility] for lm in result.pose_landmarks.landmark])
    wall = time.perf_counter() - t0
    with open(out, "w") as f:
        json.dump({"fps": len(frames) / wall, "frames": len(frames), "landmarks": frames}, f)


if __name__ == "__main__":
    main()
