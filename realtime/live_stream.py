"""A live stream as the workers see it: its modality, ring buffer, channel names and nominal rate."""

from __future__ import annotations

from dataclasses import dataclass

from realtime.ring_buffer import RingBuffer


@dataclass(frozen=True)
class LiveStream:
    """``rate`` is 0 for irregular streams (camera frames); ``stale_after``: seconds after which its newest
    sample is too old to count as present."""

    modality: str
    buffer: RingBuffer
    channels: tuple[str, ...]
    rate: float
    stale_after: float = 0.5
