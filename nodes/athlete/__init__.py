"""The synthetic athlete: a rendered figure performing sessions of exercises, with its true joints.

``motion`` defines each exercise's movement, ``session_plan`` parses sessions (``squat*5,rest*3s``) and
lays them out in time, ``synthetic`` streams keypoints and ``athlete`` renders frames. For demos, tests
and fitting; uses ``nodes.pose`` (schemas, keypoints) only.
"""
