"""Generators of small datasets in the real distribution formats (DEAP, MAHNOB-HCI, MAHNOB features, SEED-V).

Same files, keys, dtypes and layouts as the originals, only fewer subjects, trials and seconds.
Signals are noise; ``planted=True`` adds a class signal (a 10 Hz rhythm on posterior channels for
high-valence trials, a shifted feature mean for SEED-V emotions, a valence-following feature for
the continuous set) so a model that can learn shows it, while ``planted=False`` leaves labels
independent of the signals (any accuracy above chance then means a leak).
"""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import edfio
import numpy as np
import scipy.io

from offline.datasets.deap import EEG_CHANNELS, PERIPHERAL_CHANNELS
from offline.datasets.seedv import SESSION_ORDER

POSTERIOR = ("P3", "P7", "PO3", "O1", "Oz", "Pz", "P4", "P8", "PO4", "O2")
#: DEAP s01-s22 (Geneva) EEG order in the original BDF files; s23-s32 use EEG_CHANNELS' order.
GENEVA_ORDER = (
    "Fp1", "AF3", "F7", "F3", "FC1", "FC5", "T7", "C3", "CP1", "CP5", "P7", "P3", "Pz", "PO3", "O1", "Oz",
    "O2", "PO4", "P4", "P8", "CP6", "CP2", "C4", "T8", "FC6", "FC2", "F4", "F8", "AF4", "Fp2", "Fz", "Cz",
)  # fmt: skip
DEAP_BDF_EXTRA = ("EXG1", "EXG2", "EXG3", "EXG4", "EXG5", "EXG6", "EXG7", "EXG8",
                  "GSR1", "GSR2", "Erg1", "Erg2", "Resp", "Plet", "Temp")  # fmt: skip
MAHNOB_BDF_EXTRA = ("EXG1", "EXG2", "EXG3", "EXG4", "EXG5", "EXG6", "EXG7", "EXG8",
                    "GSR1", "GSR2", "Erg1", "Erg2", "Resp", "Temp")  # fmt: skip


def balanced_high(n: int, rng: np.random.Generator) -> np.ndarray:
    """A shuffled boolean vector with half the trials high (rating >= 5)."""
    high = np.arange(n) < n // 2
    rng.shuffle(high)
    return high


def ratings_for(high: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """1-9 ratings on the right side of 5 for each trial."""
    return np.where(high, rng.uniform(5.2, 9.0, high.size), rng.uniform(1.0, 4.8, high.size))


def eeg_noise(n_samples: int, channels: tuple[str, ...], rate: float, high: bool, planted: bool,
              rng: np.random.Generator) -> np.ndarray:
    """(n_channels, n_samples) microvolt noise; with ``planted`` and ``high``, a 10 Hz rhythm on posterior channels."""
    x = rng.normal(0.0, 10.0, (len(channels), n_samples))
    x += np.cumsum(rng.normal(0.0, 1.0, x.shape), axis=1) * 0.2  # slow drift, like real EEG
    if planted and high:
        t = np.arange(n_samples) / rate
        for i, name in enumerate(channels):
            if name in POSTERIOR:
                x[i] += 25.0 * np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 2 * np.pi))
    return x


def write_face_video(path: Path, seconds: float, fps: float = 5.0, size: tuple[int, int] = (360, 288)) -> None:
    """An MJPG .avi showing a real portrait (skimage's astronaut) on a grey background, as DEAP's face videos do."""
    import cv2
    import skimage.data

    face = cv2.cvtColor(skimage.data.astronaut()[20:240, 110:330], cv2.COLOR_RGB2BGR)
    face = cv2.resize(face, (200, 200))
    frame = np.full((size[1], size[0], 3), 128, dtype=np.uint8)
    y, x = (size[1] - 200) // 2, (size[0] - 200) // 2
    frame[y : y + 200, x : x + 200] = face
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for _ in range(round(seconds * fps)):
        writer.write(frame)
    writer.release()


def write_deap_preprocessed(root: Path, n_subjects: int = 4, n_trials: int = 8, seconds: float = 12.0,
                            planted: bool = True, seed: int = 0, videos: bool = False, video_fps: float = 5.0) -> Path:
    """``data_preprocessed_python/sXX.dat`` (protocol-2 pickles, rows in video order) + participant_ratings.csv.

    ``videos`` adds ``face_video/sXX/sXX_trialYY.avi`` (presentation order) showing one still portrait
    (byte-identical files: the class signal lives in the EEG, and the face cache analyses one video).
    """
    rng = np.random.default_rng(seed)
    folder = root / "data_preprocessed_python"
    folder.mkdir(parents=True, exist_ok=True)
    n_samples = int((3 + seconds) * 128)
    rows = []
    for s in range(1, n_subjects + 1):
        high = balanced_high(n_trials, rng)
        labels = np.stack([ratings_for(high, rng), *(rng.uniform(1, 9, n_trials) for _ in range(3))], axis=1)
        data = np.empty((n_trials, 40, n_samples))
        for k in range(n_trials):
            data[k, :32] = eeg_noise(n_samples, EEG_CHANNELS, 128.0, bool(high[k]), planted, rng)
            data[k, 32:] = rng.normal(0.0, 1.0, (len(PERIPHERAL_CHANNELS), n_samples))
        with (folder / f"s{s:02d}.dat").open("wb") as f:
            pickle.dump({"data": data, "labels": labels}, f, protocol=2)
        order = rng.permutation(n_trials)  # presentation order -> video (row)
        for presented, row in enumerate(order, start=1):
            rows.append([s, presented, row + 1, 0, *labels[row], ""])
            if videos:
                write_face_video(root / "face_video" / f"s{s:02d}" / f"s{s:02d}_trial{presented:02d}.avi", seconds,
                                 video_fps)
    write_ratings_csv(root / "participant_ratings.csv", rows)
    return root


def write_ratings_csv(path: Path, rows: list[list]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Participant_id", "Trial", "Experiment_id", "Start_time", "Valence", "Arousal", "Dominance",
                    "Liking", "Familiarity"])
        w.writerows(rows)


def _bdf_signal(data: np.ndarray, rate: float, label: str, unit: str = "uV") -> edfio.BdfSignal:
    return edfio.BdfSignal(data, rate, label=label, physical_dimension=unit, physical_range=(-8000.0, 8000.0))


def _status_signal(codes: np.ndarray, rate: float, label: str = "Status") -> edfio.BdfSignal:
    # Real BioSemi files carry amplifier flags above the low byte: set one so decoding must mask.
    digital = (codes.astype(np.int32) | 0x100000).astype(np.int32)
    return edfio.BdfSignal.from_digital(digital, rate, label=label, physical_range=(-8388608, 8388607),
                                        digital_range=(-8388608, 8388607))


def write_deap_original(root: Path, subjects: tuple[int, ...] = (1, 23), n_trials: int = 4, seconds: float = 6.0,
                        planted: bool = True, seed: int = 1, status_label: str = "Status") -> Path:
    """``data_original/sXX.bdf`` at 512 Hz, 48 channels (Geneva EEG order for s01-s22), Status codes 3/4/5."""
    rng = np.random.default_rng(seed)
    rate = 512.0
    folder = root / "data_original"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in subjects:
        order = GENEVA_ORDER if s <= 22 else EEG_CHANNELS
        high = balanced_high(n_trials, rng)
        ratings = ratings_for(high, rng)
        fix, video = int(1 * rate), int(seconds * rate)
        per_trial = 2 * fix + video
        n = per_trial * n_trials + fix
        eeg = np.zeros((32, n))
        codes = np.zeros(n, dtype=np.int32)
        for k in range(n_trials):
            start = k * per_trial
            codes[start : start + fix] = 3
            codes[start + fix : start + fix + video] = 4
            codes[start + fix + video : start + per_trial] = 5
            eeg[:, start : start + per_trial] = eeg_noise(per_trial, order, rate, bool(high[k]), planted, rng)
        signals = [_bdf_signal(eeg[i], rate, name) for i, name in enumerate(order)]
        signals += [_bdf_signal(rng.normal(0, 1, n), rate, name) for name in DEAP_BDF_EXTRA]
        signals.append(_status_signal(codes, rate, status_label))
        edfio.Bdf(signals, data_record_duration=1.0 / 8).write(folder / f"s{s:02d}.bdf")
        experiment_ids = rng.permutation(n_trials) + 1
        for k in range(n_trials):
            rows.append([s, k + 1, int(experiment_ids[k]), 0, ratings[k], 5.0, 5.0, 5.0, 3])
    write_ratings_csv(root / "participant_ratings.csv", rows)
    return root


def write_mahnob_sessions(root: Path, subjects: tuple[int, ...] = (1, 2), sections: tuple[int, ...] = (2, 4, 6, 8),
                          seconds: float = 6.0, margin: float = 2.0, planted: bool = True, seed: int = 2,
                          status_events: int = 2) -> Path:
    """``Sessions/<id>/session.xml`` + ``Part_<s>_S_Trial<k>_emotion.bdf`` (256 Hz, 47 channels, onset/offset pulses).

    ``status_events`` other than 2 writes a damaged recording (extra or missing pulses).
    """
    rng = np.random.default_rng(seed)
    rate = 256.0
    for s in subjects:
        high = balanced_high(len(sections), rng)
        ratings = np.rint(ratings_for(high, rng)).clip(1, 9).astype(int)
        ratings = np.where(high, np.maximum(ratings, 5), np.minimum(ratings, 4))
        for k, section in enumerate(sections):
            session_id = (s - 1) * 130 + section
            folder = root / "Sessions" / str(session_id)
            folder.mkdir(parents=True, exist_ok=True)
            n = int((2 * margin + seconds) * rate)
            eeg = eeg_noise(n, EEG_CHANNELS, rate, bool(high[k]), planted, rng)
            codes = np.zeros(n, dtype=np.int32)
            onset, offset = int(margin * rate), int((margin + seconds) * rate)
            for pulse in (onset, offset, n - 16)[:status_events]:
                codes[pulse : pulse + 8] = 1
            signals = [_bdf_signal(eeg[i], rate, name) for i, name in enumerate(EEG_CHANNELS)]
            signals += [_bdf_signal(rng.normal(0, 1, n), rate, name) for name in MAHNOB_BDF_EXTRA]
            signals.append(_status_signal(codes, rate))
            name = f"Part_{s}_S_Trial{section // 2}_emotion.bdf"
            edfio.Bdf(signals, data_record_duration=1.0 / 8).write(folder / name)
            write_session_xml(folder / "session.xml", session_id, s, int(ratings[k]), section)
    return root


def write_session_xml(path: Path, session_id: int, subject: int, valence: int | None, section: int) -> None:
    felt = "" if valence is None else (
        f'feltEmo="4" feltArsl="5" feltVlnc="{valence}" feltCtrl="5" feltPred="5" '
    )
    path.write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n'
        f'<session sessionId="{session_id}" isStim="1" {felt}cutNr="{section // 2}" cutLenSec="6.0" '
        f'vidRate="60.9708" audRate="48000" vidBeginSmp="122" vidEndSmp="488" mediaFile="{section // 2}.avi">\n'
        f'  <subject id="{subject}" />\n'
        f'  <track type="Physiological" sensor="Biosemi" '
        f'filename="Part_{subject}_S_Trial{section // 2}_emotion.bdf" />\n'
        f'</session>\n'
    )


def smooth_trace(n: int, rng: np.random.Generator, sigma: float = 6.0, scale: float = 0.6) -> np.ndarray:
    """Low-pass filtered white noise squashed into -1..1: a valence-like trace, different for every draw.

    The filter (Gaussian, ``sigma`` steps) is scaled to keep unit variance before ``tanh(scale * .)``, so
    traces wander slowly around 0 with trial-to-trial differences in level, as real annotations do."""
    from scipy.ndimage import gaussian_filter1d

    noise = gaussian_filter1d(rng.normal(0.0, 1.0, n), sigma, mode="nearest")
    return np.tanh(scale * noise * np.sqrt(2.0 * np.sqrt(np.pi) * sigma))


def write_mahnob_features(root: Path, participants: tuple[int, ...] = (2, 3, 5, 6), n_trials: int = 4,
                          steps: tuple[int, int] = (120, 200), planted: bool = True, seed: int = 3,
                          traces: str = "sine", inverted: tuple[int, ...] = ()) -> Path:
    """``lable_continous_Mahnob.mat`` + ``Features/P{p}-features-resamp4hz-trial-{s}.mat`` (4 Hz, target 2x label).

    ``inverted``: participants whose planted features carry the label with the opposite sign (a subject on
    whom what the others teach fails: the planted case where validation and test disagree).
    ``traces``: "sine" (a slow sinusoid of random period and phase per trial) or "smooth" (``smooth_trace``:
    low-pass filtered noise, different per trial). Either way the features are noise unless ``planted``.
    """
    if traces not in ("sine", "smooth"):
        raise ValueError(f"traces must be 'sine' or 'smooth', got {traces!r}")
    rng = np.random.default_rng(seed)
    (root / "Features").mkdir(parents=True, exist_ok=True)
    included, labels = [], []
    for p in participants:
        for k in range(n_trials):
            section = 2 * (k + 1)
            T = int(rng.integers(*steps))
            t = np.arange(T) / 4.0
            if traces == "smooth":
                trace = smooth_trace(T, rng)
            else:
                trace = 0.4 * np.sin(2 * np.pi * t / rng.uniform(20, 40) + rng.uniform(0, 6)) + rng.normal(0, 0.02, T)
            feats = {
                "target": (2 * trace)[None, :].astype(np.float32),
                "eeg_band_feats_full": rng.normal(0, 1, (T, 128)).astype(np.float32),
                "eeg_band_feats": rng.normal(0, 1, (T, 85)).astype(np.float32),
                "face_feats": rng.normal(0, 1, (T, 327)).astype(np.float32),
                "gaze_feats": rng.normal(0, 1, (T, 2)).astype(np.float32),
            }
            if planted:
                sign = -1.0 if p in inverted else 1.0
                feats["face_feats"][:, :10] += sign * 3.0 * trace[:, None].astype(np.float32)
                feats["eeg_band_feats_full"][:, :10] += sign * 1.5 * trace[:, None].astype(np.float32)
            scipy.io.savemat(root / "Features" / f"P{p}-features-resamp4hz-trial-{section}.mat", feats,
                             do_compression=True)
            included.append((p, section))
            labels.append(trace[None, :])
    cells = np.empty((len(labels), 1), dtype=object)
    for i, trace in enumerate(labels):
        cells[i, 0] = trace
    scipy.io.savemat(root / "lable_continous_Mahnob.mat",
                     {"trials_included": np.asarray(included, dtype=np.uint8), "labels": cells})
    return root


def write_seedv(root: Path, subjects: tuple[int, ...] = (1, 2, 3), windows: tuple[int, int] = (6, 10),
                planted: bool = True, seed: int = 4) -> Path:
    """``EEG_DE_features/{s}_123.npz`` and ``Eye_movement_features/{s}_123.npz``: 0-d bytes arrays of pickled dicts."""
    rng = np.random.default_rng(seed)
    for folder in ("EEG_DE_features", "Eye_movement_features"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    centres = rng.normal(0, 1, (5, 310))
    for s in subjects:
        de, eye, label = {}, {}, {}
        for k in range(45):
            emotion = SESSION_ORDER[k // 15 + 1][k % 15]
            n = int(rng.integers(*windows))
            de[k] = rng.normal(0, 1, (n, 310)) + (centres[emotion] if planted else 0.0)
            eye[k] = rng.normal(0, 1, (n + int(rng.integers(-1, 2)), 33))
            label[k] = np.full(n, emotion, dtype=np.int64)
        for folder, data in (("EEG_DE_features", de), ("Eye_movement_features", eye)):
            np.savez(root / folder / f"{s}_123.npz", data=np.array(pickle.dumps(data, protocol=2)),
                     label=np.array(pickle.dumps(label, protocol=2)))
    return root
