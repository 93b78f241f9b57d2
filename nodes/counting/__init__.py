"""Counting: the workout language and the rep counter.

A workout is a YAML file (``graphs/workouts/``): metrics over joints (``metrics``, ``expr``), levels
calibrated to the person (``calibration``), a gate and states (``fsm``); ``counter`` steps them frame by
frame and ``reps`` is the node. Uses the engine (``dataflow``) and keypoints and body measures
(``nodes.pose``) only: it knows nothing of recognition, the synthetic athlete or the sinks.
"""
