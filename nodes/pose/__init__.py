"""Pose nodes: video sources, tracking ROI and crop, the model node, decoders, the model zoo."""
