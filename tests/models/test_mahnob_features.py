"""Real MAHNOB-HCI dataset features through the "precomputed" transform into the sequence models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from models import registry
from models.contracts import ModalityWindow
from models.transforms import MissingModality, compute_features

ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mahnob_features"
TRIAL = ROOT / "Features" / "P13-features-resamp4hz-trial-10.mat"
MAHNOB = {"eeg": {"features": "precomputed", "feature_dim": 128},
          "face": {"features": "precomputed", "feature_dim": 38}}

pytestmark = pytest.mark.skipif(not TRIAL.is_file(), reason=f"real MAHNOB features not found at {TRIAL}")


def test_mahnob_features_feed_the_lstm_baseline_and_tcn() -> None:
    mat = scipy.io.loadmat(TRIAL)
    eeg, face = mat["eeg_band_feats_full"], mat["face_feats"][:, :38]
    ts = np.arange(eeg.shape[0]) / 4.0
    windows = {"eeg": ModalityWindow(eeg, ts, 4.0, ()), "face": ModalityWindow(face, ts, 4.0, ())}
    torch.manual_seed(0)
    lstm = registry.build("lstm-fusion", branches=MAHNOB).eval()
    tcn = registry.build("tcn-eeg", branches={"eeg": MAHNOB["eeg"]}).eval()
    feats = {m: compute_features(i, windows[m]) for m, i in lstm.spec().inputs.items()}
    assert feats["eeg"].shape == (96, 128) and feats["face"].shape == (96, 38)
    np.testing.assert_array_equal(feats["eeg"], eeg[-96:].astype(np.float32))  # the last 96 steps, unchanged
    batch = {m: torch.from_numpy(f)[None] for m, f in feats.items()}
    with torch.inference_mode():
        assert lstm(batch)["valence"].shape == (1, 96)
        assert tcn({"eeg": batch["eeg"]})["valence"].shape == (1, 96)
    short = ModalityWindow(eeg[:40], ts[:40], 4.0, ())
    with pytest.raises(MissingModality, match="eeg: 40 feature rows, the model needs 96"):
        compute_features(lstm.spec().inputs["eeg"], short)
