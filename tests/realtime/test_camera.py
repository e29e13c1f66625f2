"""Camera capture through OpenCV: bad sources, pacing of video files, looping, the newest-frame slot."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.camera import Camera, CameraError, CameraSource, LatestFrame, parse_camera_spec


def write_numbered_video(path: Path, n_frames: int, fps: float, size: tuple[int, int] = (160, 120)) -> Path:
    """A small MJPG video whose frame k is uniformly grey at level 20 + 7k (so a read frame tells its number)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for k in range(n_frames):
        writer.write(np.full((size[1], size[0], 3), 20 + 7 * k, np.uint8))
    writer.release()
    return path


def frame_number(image: np.ndarray) -> int:
    return round((float(image.mean()) - 20) / 7)


def collect(camera: Camera, seconds: float) -> list:
    frames, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        f = camera.frames.take(timeout=0.5)
        if f is not None:
            frames.append(f)
    return frames


def test_missing_device_index_is_a_clear_error() -> None:
    camera = Camera(parse_camera_spec("97"))
    with pytest.raises(CameraError, match="cannot open camera device 97"):
        camera.start()
    assert camera.state == "idle"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_video.mp4"
    with pytest.raises(CameraError, match=f"video file not found: {missing}"):
        parse_camera_spec(str(missing))
    with pytest.raises(CameraError, match="cannot open video file"):
        Camera(CameraSource(str(missing), paced=True, loop=False, label=f"video file {missing}")).open()


def test_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(CameraError, match=r"damaged\.mp4"):
        Camera(parse_camera_spec(str(damaged))).open()


def test_spec_kinds(tmp_path: Path) -> None:
    assert parse_camera_spec("none") is None
    dev = parse_camera_spec("0")
    assert dev.target == 0 and not dev.paced
    video = write_numbered_video(tmp_path / "v.avi", 3, 10.0)
    src = parse_camera_spec(str(video), loop=True)
    assert src.target == str(video) and src.paced and src.loop


def test_video_file_is_paced_at_its_frame_rate(tmp_path: Path) -> None:
    video = write_numbered_video(tmp_path / "numbered.avi", 30, 20.0)
    with Camera(parse_camera_spec(str(video))) as camera:
        assert camera.fps == pytest.approx(20.0)
        frames = collect(camera, 1.0)
    spacing = np.diff([f.timestamp for f in frames])
    assert len(frames) >= 15  # ~20 in 1 s, not all 30 at once
    assert np.median(spacing) == pytest.approx(1 / 20.0, abs=0.005)
    numbers = [frame_number(f.image) for f in frames]
    assert numbers == [f.index for f in frames]  # in file order, numbered by the capture counter
    # every captured frame was either taken or counted as dropped (the last one may still wait in the slot)
    assert camera.frames.captured - len(frames) - camera.frames.dropped in (0, 1)


def test_video_file_loops_or_ends(tmp_path: Path) -> None:
    video = write_numbered_video(tmp_path / "short.avi", 8, 40.0)
    with Camera(parse_camera_spec(str(video), loop=True)) as camera:
        frames = collect(camera, 0.6)
    assert camera.loops >= 1
    numbers = [frame_number(f.image) for f in frames]
    assert len(frames) > 8 and max(numbers) <= 7
    expected = [f.index % 8 for f in frames]  # capture k shows file frame k mod 8, whatever the reader missed
    assert numbers == expected

    camera = Camera(parse_camera_spec(str(video)))
    camera.start()
    frames = collect(camera, 0.5)
    camera.stop()
    assert camera.state == "ended" and "reached its end" in camera.error
    assert len(frames) == 8


def test_latest_frame_keeps_the_newest_and_counts_the_stale() -> None:
    slot = LatestFrame()
    assert slot.take(timeout=0.01) is None
    for k in range(5):
        slot.put(np.full((2, 2, 3), k, np.uint8), float(k))
    frame = slot.take(timeout=0)
    assert (frame.index, frame.timestamp) == (4, 4.0)
    assert (slot.captured, slot.dropped) == (5, 4)
    assert slot.take(timeout=0.01) is None  # taken already: nothing new
    assert slot.peek() is frame


def test_a_lost_source_is_retried_then_reported(tmp_path: Path) -> None:
    """An unpaced source (as a device) that stops delivering is reopened; when reopening fails it is 'lost'."""
    video = write_numbered_video(tmp_path / "device_like.avi", 8, 40.0)
    camera = Camera(CameraSource(str(video), paced=False, loop=False, label=f"test device {video.name}"),
                    reconnect_attempts=2, reconnect_delay=0.05)
    camera.start()
    end = time.monotonic() + 5
    while camera.reconnects < 1 and time.monotonic() < end:
        time.sleep(0.01)
    assert camera.reconnects >= 1  # the end of the stream was taken as a loss and the source reopened
    video.unlink()  # now the "device" is gone for good
    assert camera.join(5)
    assert camera.state == "lost"
    assert "device_like.avi lost; 2 reconnection attempts failed" in camera.error
