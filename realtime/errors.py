"""The error of the live inputs, below every module that raises it.

``realtime.lsl_select`` (choosing a stream) and ``realtime.sources`` (EEG, eye) both raise it and the
sources use the selection, so it lives here rather than in either (no import cycle between them).
"""

from __future__ import annotations


class SourceError(RuntimeError):
    """A source cannot be opened or has failed; the message says what and where."""
