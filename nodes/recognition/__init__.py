"""Exercise recognition: which workout a person is doing, and since when.

``pose_classifier`` scores each frame's pose against every workout's two extreme poses (weights in
``recognizer.json``, fitted by ``fit_recognizer`` from real poses and the synthetic athlete's);
``recognition`` weighs that with every candidate workout's own counter over a bout; ``recognize`` is the
node. May use counting (each candidate's counter); the fitting script may use the synthetic athlete.
"""
