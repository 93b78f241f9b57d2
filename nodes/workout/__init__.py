"""Workout nodes: keypoint filters, the rep counter (workouts in YAML), energy, sinks."""
