"""The subject's Qt window and the SAM dialog, offscreen: real widgets, real image and video files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PyQt6.QtWidgets import QDialogButtonBox
from skimage import data

from calibration.protocol import Block
from calibration.qt_presenter import QtPresenter
from calibration.rating_dialog import SamDialog
from calibration.ratings import RatingError


def test_sam_dialog_needs_both_scales_before_ok(qtbot):
    dialog = SamDialog("stimulus-01")
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled() and dialog.values() is None
    dialog.choose("valence", 8)
    assert not ok.isEnabled()
    dialog.choose("arousal", 2)
    assert ok.isEnabled() and dialog.values() == (8, 2)
    dialog.reject()  # closing without answering does nothing
    assert dialog.values() == (8, 2)


def test_sam_dialog_gives_the_rating_and_its_response_time(qtbot):
    dialog = SamDialog("stimulus-01")
    qtbot.addWidget(dialog)
    with pytest.raises(RatingError, match="stimulus-01"):
        dialog.rating()
    qtbot.wait(150)
    dialog.choose("valence", 3)
    dialog.choose("arousal", 9)
    rating = dialog.rating()
    assert (rating.valence, rating.arousal) == (3, 9) and rating.response_seconds > 0.1


def test_presenter_shows_prompts_images_and_plays_videos(qtbot, tmp_path):
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (64, 48))
    for i in range(20):
        writer.write(np.full((48, 64, 3), 10 * i, np.uint8))
    writer.release()
    presenter = QtPresenter()
    qtbot.addWidget(presenter)
    presenter.present(Block("s", "stimulus", 1.0, "prompt", "", "Recall a calm moment."), 1, 3)
    assert presenter.label.text() == "Recall a calm moment." and presenter.windowTitle().endswith("1/3")
    presenter.present(Block("s", "stimulus", 1.0, "image", "", str(image)), 2, 3)
    assert not presenter.label.pixmap().isNull() and presenter.frames_shown == 1
    presenter.present(Block("s", "stimulus", 1.0, "video", "", str(video)), 3, 3)
    qtbot.wait(600)
    assert presenter.frames_shown >= 1 + 8  # the video plays while the block runs (20 fps)
    presenter.clear()
    assert presenter.label.pixmap().isNull()
