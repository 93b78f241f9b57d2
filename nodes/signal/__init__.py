"""Signal processing on keypoint streams: the one-euro and Butterworth filters, the energy meter, and
their numba kernels (``kernels``) beside plain references (``reference``). Uses the engine and
``nodes.pose`` only.
"""
