"""One pass of the network's loss terms (:mod:`terms`) through VGG19, with a hand-written
backward to the image: on the whole picture, or on one tile of it (:class:`Window`; the
tiled evaluation, ``tiles.TiledLoss``, runs it per tile).

:class:`NetworkLoss`'s values are the terms' own on ``VGG19Features.forward``'s features,
and its backward is what autograd through them would do, with three things
autograd cannot know: a style layer's Gram gradient is added into the gradient coming
down from the layer above inside the matmul that computes it (``baddbmm_``, no separate
sum), ReLU's backward overwrites that gradient in place, and only the input gradient of
each convolution is computed. Measured per evaluation against autograd through the same
kernels (1 CPU thread, CPU seconds, ABABAB): 0.97x the time at 256x192, 640x480 and
1280x720; and it keeps one tensor per layer alive instead of autograd's graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .terms import ContentTerm, GramTerm, NetworkTerms
from .tiling import Tile
from .vgg import LAYERS, Given, Layer, VGG19Features


class Window:
    """Where a pass runs: the whole picture, or one ``tile`` of it.

    On the whole picture each layer's core (the positions whose terms the pass evaluates) is
    all of its output, and the Gram terms take their statistics in the pass itself. On a
    tile the core is the tile's own (``tiling.Tile``), the content's features are cut from
    the whole picture's, the Gram terms' ``slopes`` D + Dᵀ come from the whole picture's
    statistics, and (with a split) the layers after it are taken from the whole picture's
    ``kept`` maps instead of being run again.
    """

    def __init__(self, tile: Tile | None = None, slopes: Mapping[GramTerm, torch.Tensor] | None = None,
                 kept: Mapping[str, torch.Tensor] | None = None) -> None:
        self.tile, self.slopes, self.kept = tile, slopes, kept or {}
        self.whole = tile is None

    @property
    def given(self) -> Given | None:
        """The kept layers' outputs, for ``VGG19Features.walk`` (None: run every layer). A
        property, not an attribute: a window holding its own bound method is a reference
        cycle, and each tile's window kept the whole picture's kept maps alive until Python's
        cycle collector ran (0.3 GiB of a 1450x1088 scale's maps still held through the next
        scale of a 2900 px run)."""
        return self._kept if self.kept else None

    def core(self, features: torch.Tensor, layer: Layer) -> torch.Tensor:
        """The core of a (1, C, h, w) map at ``layer``: a view."""
        return features if self.tile is None else self.tile.crop(features, layer.name)

    def content_target(self, term: ContentTerm, layer: Layer) -> torch.Tensor:
        """The content's features at the core."""
        return term.target if self.tile is None else self.tile.cut(term.target, layer.name)

    def mask(self, term: GramTerm, layer: Layer) -> torch.Tensor | None:
        """A region term's mask at the core (None: all of the term's own)."""
        return None if self.tile is None or term.mask is None else self.tile.cut(term.mask, layer.name)

    def _kept(self, layer: Layer, x: torch.Tensor) -> torch.Tensor | None:
        """A layer after the split, from the kept maps: a conv's output is the ReLU's after it
        (which then runs in place: the same tensor), a ReLU's its input; pools run."""
        assert self.tile is not None
        after = LAYERS[layer.index + 1].name if layer.kind == "conv" else ""
        if after in self.kept:
            return self.tile.cut_extent(self.kept[after], after).contiguous(memory_format=torch.channels_last)
        if layer.kind == "relu" and layer.name in self.kept:
            return x
        return None


WHOLE = Window()


class NetworkLoss:
    """The network's terms (content, Gram, masked Gram) for one output size; ``loss(x)`` ->
    (content, style), weighted, float32 scalars, differentiable by the hand-written backward.

    ``terms`` (see :func:`terms.network_terms`) hold their targets; ``dtype`` is the compute
    dtype (None: float32). A pass runs in :attr:`window` (the whole picture) unless given
    another; a subclass may complete each Gram statistic before it is compared
    (:meth:`compared`; ``partial.CropLoss`` adds the rest of the picture's).
    """

    window: Window = WHOLE

    def __init__(self, vgg: VGG19Features, dtype: torch.dtype | None, terms: NetworkTerms) -> None:
        self.vgg, self.terms = vgg, terms
        self.dtype = dtype or torch.float32
        self.layers = terms.walk()
        self.keep = set(terms.layers)  # their outputs are read again in the backward: no ReLU in place over them

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(content, style) weighted terms of ``image`` (1, 3, H, W) in [0, 1], float32 scalars."""
        return _Evaluation.apply(image, self)  # type: ignore[no-any-return]

    # -- forward --------------------------------------------------------------------------
    def forward(self, image: torch.Tensor, keep: bool, window: Window | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, list]:
        """The terms of ``image`` (the window's pixels; None: :attr:`window`), and (when
        ``keep``) what the backward needs, layer by layer. With the window's slopes given, the
        Gram terms add nothing here (their value comes from the whole picture's statistics)
        but their gradient."""
        window = self.window if window is None else window
        tape: list[tuple[Layer, torch.Tensor, tuple, list[tuple[Any, Any]]]] = []
        content = image.new_zeros((), dtype=torch.float32)
        style = image.new_zeros((), dtype=torch.float32)
        x = self.vgg.prepare(image, self.dtype)
        for layer, out, saved in self.vgg.walk(x, self.layers, tape=keep, keep=self.keep, given=window.given):
            found: list[tuple[Any, Any]] = []
            for gram in self.terms.style.get(layer.name, ()):
                if window.slopes is None:
                    statistic = gram.statistic(window.core(out, layer), window.mask(gram, layer))
                    value, diff = gram.value(self.compared(gram, statistic))
                    style = style + value
                    found.append((gram, diff))
                else:
                    found.append((gram, None))
            term = self.terms.content.get(layer.name)
            if term is not None:
                value, diff = term.value(window.core(out, layer), window.content_target(term, layer))
                content = content + value
                found.append((term, diff))
            if keep:
                tape.append((layer, out, saved, found))
        return content, style, tape

    def compared(self, gram: GramTerm, statistic: torch.Tensor) -> torch.Tensor:
        """The statistic ``gram`` compares with its target, from the window's own S (1, C, C)
        float32: S itself. A subclass that holds part of the picture fixed adds that part's."""
        return statistic

    # -- backward -------------------------------------------------------------------------
    def backward(self, tape: list, grad_content: torch.Tensor, grad_style: torch.Tensor,
                 window: Window | None = None) -> torch.Tensor:
        """d(grad_content · content + grad_style · style) / d image, (1, 3, H, W) float32, in
        the ``forward``'s window (None: :attr:`window`; given slopes already carry their
        ``grad_style``)."""
        window = self.window if window is None else window
        grad: torch.Tensor | None = None
        while tape:
            layer, output, saved, found = tape.pop()  # the deepest layer first; each freed when done
            for term, diff in found:
                if isinstance(term, GramTerm):
                    slope = term.slope(diff, grad_style) if diff is not None else window.slopes[term]  # type: ignore[index]
                    grad = self._add_gram(term, layer, output, slope, grad, window)
                else:
                    grad = self._add(term.gradient(diff, grad_content, self.dtype), layer, output, grad, window)
            if grad is not None:
                grad = self.vgg.backward(layer, grad, saved)
        assert grad is not None
        return self.vgg.image_gradient(grad)

    def _add_gram(self, term: GramTerm, layer: Layer, output: torch.Tensor, slope: torch.Tensor,
                  grad: torch.Tensor | None, window: Window) -> torch.Tensor:
        """``grad`` (None: none yet) at ``output`` plus a Gram term's gradient m·F·(D + Dᵀ) at the core."""
        core = window.core(output, layer)
        left = term.weighted(core, window.mask(term, layer))
        if window.whole and grad is not None and term.gram_dtype == self.dtype:
            _flat(grad).baddbmm_(left, slope)  # the sum of both gradients, in the matmul
            return grad
        part = torch.bmm(left, slope).to(self.dtype)
        return self._add(part.view(core.shape[0], *core.shape[2:], -1).permute(0, 3, 1, 2), layer, output, grad,
                         window)

    def _add(self, part: torch.Tensor, layer: Layer, output: torch.Tensor, grad: torch.Tensor | None,
             window: Window) -> torch.Tensor:
        """``grad`` (None: none yet) at ``output`` plus ``part`` at the window's core."""
        if window.whole:
            return part.contiguous(memory_format=torch.channels_last) if grad is None else grad.add_(part)
        grad = torch.zeros_like(output) if grad is None else grad
        window.core(grad, layer).add_(part)
        return grad


def _flat(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) channels_last -> the (B, HW, C) view of the same memory (never a copy)."""
    b, c, h, w = features.shape
    return features.permute(0, 2, 3, 1).view(b, h * w, c)


class _Evaluation(torch.autograd.Function):
    @staticmethod
    def forward(ctx, image: torch.Tensor, loss: NetworkLoss) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        content, style, tape = loss.forward(image, keep=ctx.needs_input_grad[0])
        ctx.loss, ctx.tape = loss, tape
        return content, style

    @staticmethod
    def backward(ctx, grad_content: torch.Tensor, grad_style: torch.Tensor):  # type: ignore[override]
        tape, ctx.tape = ctx.tape, None  # a second backward has nothing to replay
        if not tape:
            raise RuntimeError("NetworkLoss: backward through the same evaluation twice")
        return ctx.loss.backward(tape, grad_content, grad_style), None
