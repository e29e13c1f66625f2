"""Subject calibration: a recorded protocol with self-reports, per-subject adaptation, and subject profiles.

``python -m calibration run`` records a session (baseline, stimulus blocks, SAM ratings) with the
live pipeline; ``adapt`` turns sessions into a subject profile bundle; ``experiment`` measures
what adaptation brings on a public dataset. See ``python -m calibration --help``.
"""
