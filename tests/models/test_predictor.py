"""The live predictor: real BrainFlow synthetic EEG, channel adoption/interpolation, and bad input named clearly."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams

from models import registry
from models.bundle import save_bundle
from models.channels import MissingChannels
from models.contracts import EEG, FACE, IncompatibleStreams, ModalityWindow
from models.predictor import NetworkPredictor, load_predictor, resolve_device
from models.transforms import MissingModality, compute_features
from tests.support.windows import MakeWindow

BOARD = BoardIds.SYNTHETIC_BOARD.value


@pytest.fixture(scope="module")
def synthetic_eeg() -> ModalityWindow:
    """2.5 s from BrainFlow's synthetic board, its EEG rows named by the board descriptor."""
    board = BoardShim(BOARD, BrainFlowInputParams())
    board.prepare_session()
    try:
        board.start_stream()
        time.sleep(2.5)
        data = board.get_board_data()
        board.stop_stream()
    finally:
        board.release_session()
    rows, names = BoardShim.get_eeg_channels(BOARD), BoardShim.get_eeg_names(BOARD)
    ts = data[BoardShim.get_timestamp_channel(BOARD)]
    return ModalityWindow(data[rows].T.copy(), ts, float(BoardShim.get_sampling_rate(BOARD)), tuple(names))


def _face(t_end: float, seconds: float = 1.5, fps: float = 30.0, dim: int = 128) -> ModalityWindow:
    ts = t_end - np.arange(int(seconds * fps))[::-1] / fps
    return ModalityWindow(np.random.default_rng(0).standard_normal((ts.size, dim)), ts, fps, ())


def test_untrained_stalignnet_runs_on_the_synthetic_board(synthetic_eeg: ModalityWindow) -> None:
    predictor = load_predictor("stalignnet", device="auto")
    assert predictor.model_id == "stalignnet@untrained" and predictor.trained is False
    assert predictor.device == ("cuda" if torch.cuda.is_available() else "cpu")
    predictor.check_streams({EEG: (synthetic_eeg.channels, synthetic_eeg.rate), FACE: ((), 30.0)})
    assert predictor.spec.inputs[EEG].channels == synthetic_eeg.channels  # adopted: nothing trained to keep
    assert "rebuilt for the stream's 16 EEG channels" in predictor.notes[0]
    out = predictor.predict({EEG: synthetic_eeg, FACE: _face(synthetic_eeg.timestamps[-1])})
    assert -1 <= out.valence <= 1 and -1 <= out.arousal <= 1 and 0.5 <= out.confidence <= 1
    assert set(out.probabilities) == {"valence", "arousal"} and out.saliency.shape == (128,)
    assert out.saliency.sum() == pytest.approx(1.0, abs=1e-5)


def test_a_trained_model_never_adopts_channels(tmp_path: Path, synthetic_eeg: ModalityWindow) -> None:
    path = save_bundle(registry.build("stalignnet-valence"), tmp_path, "st", trained=True)
    predictor = load_predictor(str(path), device="cpu")
    with pytest.raises(MissingChannels, match=r"model stalignnet-valence@\w{8}: the stream lacks channels the "
                                              r"model needs: Fp1, AF3, FC5"):
        predictor.check_streams({EEG: (synthetic_eeg.channels, synthetic_eeg.rate), FACE: ((), 30.0)})


def test_missing_channels_can_be_interpolated_when_asked(tmp_path: Path, synthetic_eeg: ModalityWindow) -> None:
    wanted = ["F3", "Fz", "F4", "C3", "Cz", "C4", "FC1", "FC2"]  # FC1, FC2 are not on the board: neighbours are
    path = save_bundle(registry.build("stalignnet", eeg_channels=wanted), tmp_path, "st", trained=True)
    streams = {EEG: (synthetic_eeg.channels, synthetic_eeg.rate), FACE: ((), 30.0)}
    with pytest.raises(MissingChannels, match="FC1, FC2"):
        load_predictor(str(path), device="cpu").check_streams(streams)
    predictor = load_predictor(str(path), device="cpu", interpolate_channels=True)
    predictor.check_streams(streams)
    out = predictor.predict({EEG: synthetic_eeg, FACE: _face(synthetic_eeg.timestamps[-1])})
    assert np.isfinite([out.valence, out.arousal]).all()


def test_missing_stale_or_bad_modalities_are_reported(synthetic_eeg: ModalityWindow) -> None:
    predictor = load_predictor("stalignnet", device="cpu")
    streams = {EEG: (synthetic_eeg.channels, synthetic_eeg.rate)}
    with pytest.raises(IncompatibleStreams, match="needs a face stream, none is running"):
        predictor.check_streams(streams)
    with pytest.raises(IncompatibleStreams, match=r"the eeg stream runs at 64 Hz, its eeg_raw input needs at least "
                                                  r"90 Hz"):
        predictor.check_streams({EEG: (synthetic_eeg.channels, 64.0), FACE: ((), 30.0)})
    with pytest.raises(IncompatibleStreams, match="the face stream has 7 values per sample, the model needs 128"):
        predictor.check_streams({**streams, FACE: (tuple("abcdefg"), 30.0)})
    predictor.check_streams({**streams, FACE: ((), 30.0)})
    t_end = synthetic_eeg.timestamps[-1]
    with pytest.raises(MissingModality, match="face: no data in this window"):
        predictor.predict({EEG: synthetic_eeg})
    with pytest.raises(MissingModality, match=r"face: 100% of the 1 s window has no frame within 0.5 s \(newest "
                                              r"frame 3.0 s old"):
        predictor.predict({EEG: synthetic_eeg, FACE: _face(t_end - 3.0)})
    with pytest.raises(MissingModality, match=r"eeg: stale, newest sample 3.00 s old"):
        predictor.predict({EEG: synthetic_eeg, FACE: _face(t_end + 3.0)})
    bad = synthetic_eeg.data.copy()
    bad[100, synthetic_eeg.channels.index("Cz")] = np.nan
    nan_window = ModalityWindow(bad, synthetic_eeg.timestamps, synthetic_eeg.rate, synthetic_eeg.channels)
    with pytest.raises(ValueError, match="eeg: NaN or infinite samples in channels Cz"):
        predictor.predict({EEG: nan_window, FACE: _face(t_end)})


def test_causal_models_publish_the_last_step(window_for: MakeWindow) -> None:
    torch.manual_seed(0)
    model = registry.build("lfan", targets=["valence", "arousal"])
    predictor = NetworkPredictor(model, model.spec(), "lfan@test", trained=False, device="cpu")
    window = window_for(predictor)
    out = predictor.predict(window)
    batch = {m: torch.from_numpy(compute_features(i, window[m], 1000.0))[None] for m, i in model.spec().inputs.items()}
    with torch.inference_mode():
        full = model(batch)
    assert out.valence == pytest.approx(full["valence"][0, -1].item(), abs=1e-6)
    assert out.arousal == pytest.approx(full["arousal"][0, -1].item(), abs=1e-6)
    assert list(out.modality_weights) == ["face", "eeg"] and sum(out.modality_weights.values()) == pytest.approx(1)
    assert predictor.lookback_seconds() == {"face": 24.5, "eeg": 25.75}


def test_names_and_devices_are_checked() -> None:
    with pytest.raises(ValueError, match="'no-such-model' is neither a registered model"):
        load_predictor("no-such-model")
    assert resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    assert load_predictor("face-prior", device="cpu").model_id == "face-prior@fixed"
