"""Keypoint recordings: the msgpack sink and replay source (``recording``), and pose sequences stored
as arrays, as the public pose datasets are (``pose_arrays``). Uses the engine and ``nodes.pose`` only.
"""
