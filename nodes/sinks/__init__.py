"""Outputs a person reads: per-frame records and the session summary (``sinks``), the annotated video
and window (``video_sinks``), the live browser view (``web`` + ``web_static/``). Sinks take records and
keypoints from their ports, never counting or recognition internals.
"""
