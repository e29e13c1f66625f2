"""The protocol file (TOML) and the text self-reports: what is accepted, and the messages for what is not."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from skimage import data

from calibration.profiles import ProfileError, check_subject, profile_dir
from calibration.protocol import DEFAULT_CONFIG, ProtocolError, load_protocol
from calibration.ratings import RatingError, TextRater, parse_rating
from offline.datasets.sessions import to_unit


def test_the_default_protocol_is_baseline_then_recall_prompts():
    p = load_protocol()
    assert p.path == str(DEFAULT_CONFIG.resolve())
    assert [b.media for b in p.blocks] == ["fixation", "eyes-closed"] + ["prompt"] * 4
    assert [b.rated for b in p.blocks] == [False, False] + [True] * 4
    assert p.seconds == 3 + 6 * 60 + 4 * 10


def test_researcher_files_become_image_and_video_blocks(tmp_path):
    cv2.imwrite(str(tmp_path / "photo.png"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(25):
        writer.write(np.full((48, 64, 3), 10 * i, np.uint8))
    writer.release()
    (tmp_path / "p.toml").write_text('[baseline]\neyes_open_seconds = 2\n[stimuli]\nseconds = 0\n'
                                     'files = ["clip.avi"]\n')
    p = load_protocol(tmp_path / "p.toml")
    assert [(b.media, b.seconds) for b in p.blocks] == [("fixation", 2.0), ("video", 2.5)]  # 25 frames at 10 fps
    (tmp_path / "q.toml").write_text('[stimuli]\nseconds = 3\nfiles = ["photo.png", "clip.avi"]\n')
    blocks = load_protocol(tmp_path / "q.toml").blocks
    assert [(b.media, b.seconds, b.stimulus) for b in blocks] == [
        ("image", 3.0, str(tmp_path / "photo.png")), ("video", 3.0, str(tmp_path / "clip.avi"))]


@pytest.mark.parametrize(("text", "words"), [
    ("[stimuli]\nprompts = ['a']\nsecond = 3\n", "unknown key(s) second in [stimuli]"),
    ("[baseline]\neyes_open_seconds = -1\n[stimuli]\nprompts = ['a']\n", "'eyes_open_seconds' must be > 0"),
    ("[stimuli]\nfiles = ['missing.mp4']\n", "missing.mp4 does not exist"),
    ("[stimuli]\nfiles = ['p.toml']\n", "neither an image"),
    ("[stimuli]\nprompts = []\n", "no stimulus block"),
    ("[stimuli\n", "not valid TOML"),
    ("rest_seconds = 'long'\n[stimuli]\nprompts = ['a']\n", "'rest_seconds' must be a number"),
])
def test_bad_protocols_are_refused_with_what_is_wrong(tmp_path, text, words):
    (tmp_path / "p.toml").write_text(text)
    with pytest.raises(ProtocolError) as info:
        load_protocol(tmp_path / "p.toml")
    assert words in str(info.value)
    with pytest.raises(ProtocolError, match="does not exist"):
        load_protocol(tmp_path / "none.toml")


NON_FINITE_FIELDS = {
    "eyes_open_seconds": "[baseline]\neyes_open_seconds = {v}\n[stimuli]\nprompts = ['a']\n",
    "eyes_closed_seconds": "[baseline]\neyes_closed_seconds = {v}\n[stimuli]\nprompts = ['a']\n",
    "seconds": "[stimuli]\nseconds = {v}\nprompts = ['a']\n",
    "settle_seconds": "settle_seconds = {v}\n[stimuli]\nprompts = ['a']\n",
    "rest_seconds": "rest_seconds = {v}\n[stimuli]\nprompts = ['a']\n",
}


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+nan"])
@pytest.mark.parametrize("field", sorted(NON_FINITE_FIELDS))
def test_non_finite_durations_are_refused_naming_the_field(tmp_path, field, value):
    (tmp_path / "p.toml").write_text(NON_FINITE_FIELDS[field].format(v=value))
    with pytest.raises(ProtocolError, match=rf"'{field}' must be a finite number of seconds"):
        load_protocol(tmp_path / "p.toml")


@pytest.mark.parametrize("subject", ["S01\n", "..", ".", "a/b", "", "-S01", "S01 ", "x" * 65, "S\u00e9"])
def test_malformed_subject_ids_are_refused_by_the_shared_full_match_rule(subject):
    with pytest.raises(ProfileError, match="must be 1-64 letters"):
        check_subject(subject)
    with pytest.raises(ProfileError):
        profile_dir(subject)


def test_well_formed_subject_ids_are_accepted():
    for subject in ("S01", "p.2", "a_b-c", "x" * 64):
        assert check_subject(subject) == subject


def test_sam_ratings_from_text():
    assert parse_rating("7 3") == (7, 3) and parse_rating(" 9,1\n") == (9, 1)
    assert parse_rating("valence=2 arousal=8") == (2, 8)
    for bad, words in (("10 3", "valence 10 is outside"), ("3 0", "arousal 0 is outside"), ("happy", "cannot read")):
        with pytest.raises(RatingError, match=words):
            parse_rating(bad)
    assert (to_unit(1), to_unit(5), to_unit(9)) == (-1.0, 0.0, 1.0)


def test_text_rater_reasks_when_interactive_and_fails_clearly_when_scripted():
    block = load_protocol().blocks[2]
    prompts = io.StringIO()
    rating = TextRater(io.StringIO("seven\n7 4\n"), prompts, interactive=True).rate(block)
    assert (rating.valence, rating.arousal) == (7, 4) and "cannot read" in prompts.getvalue()
    with pytest.raises(RatingError, match="rating for stimulus-01: cannot read"):
        TextRater(io.StringIO("seven\n"), io.StringIO(), interactive=False).rate(block)
    with pytest.raises(RatingError, match="no rating for stimulus-01: the ratings input ended"):
        TextRater(io.StringIO(""), io.StringIO()).rate(block)
