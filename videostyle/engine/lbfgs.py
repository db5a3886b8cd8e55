"""L-BFGS with a strong-Wolfe line search for one image tensor, after ``torch.optim.LBFGS``
(the same iteration, line search and budgets), reading back from the device once per
evaluation and once per iteration.

Torch's optimizer reads a device scalar back to the host about 2·m + 8 times per
iteration with m curvature pairs (each pair's coefficient is passed as a Python ``alpha``,
every comparison of a 0-dim tensor is a read), and the line search several more per
evaluation; on a GPU each read drains the queue of kernels. Here the two-loop recursion
runs on device scalars (``addcmul_``), a pair whose curvature yᵀs is not positive is kept
with weight 0 instead of being skipped on the host (it then changes nothing), and the line
search reads the loss and the directional derivative in one transfer per evaluation. The
line search works in Python floats (torch compares float32 tensors): decisions can differ
from torch's in the last bits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

Evaluate = Callable[[int], tuple[torch.Tensor, torch.Tensor]]
"""Called with the iteration count; evaluates at the current image: (loss (), gradient (N,)),
the gradient a tensor of its own that later calls do not change (it is kept, not copied)."""
Stop = Callable[[list[float]], bool]
"""Called after each iteration with the loss at the very start and after each iteration so
far (over all runs); True ends the run."""

C1, C2 = 1e-4, 0.9  # the strong-Wolfe constants (sufficient decrease, curvature)
LINE_TOLERANCE = 1e-9  # torch's line search stops when its bracket is this narrow (times max |d|)


@dataclass
class Curvature:
    """L-BFGS's curvature pairs, kept to start another problem of the same size with them
    (the next video frame: its loss surface is close to this one's)."""

    dirs: list[torch.Tensor] = field(default_factory=list)  # y = g_k+1 - g_k
    stps: list[torch.Tensor] = field(default_factory=list)  # s = t d
    rho: list[torch.Tensor] = field(default_factory=list)  # 1 / yᵀs, 0-dim, 0 for a pair without curvature
    h_diag: torch.Tensor | float = 1.0

    def fits(self, x: torch.Tensor) -> bool:
        """Whether the pairs belong to a problem of ``x``'s size and device."""
        return bool(self.dirs) and self.dirs[0].numel() == x.numel() and self.dirs[0].device == x.device


class LBFGS:
    """Minimizes over ``x`` (a tensor changed in place) with ``evaluate``; call :meth:`run`
    once per budget, keeping the curvature history between calls (as repeated
    ``LBFGS.step`` calls do). Tolerances are 0: only the budgets stop it. ``curvature``
    starts from another problem's pairs (see :class:`Curvature`); :attr:`curvature` holds
    this one's, updated in place as it runs."""

    def __init__(self, x: torch.Tensor, evaluate: Evaluate, *, history: int,
                 curvature: Curvature | None = None) -> None:
        self.x, self.evaluate, self.history = x, evaluate, history
        self.flat = x.view(-1)
        if curvature is None:
            curvature = Curvature()
        elif not curvature.fits(x):  # another size: start afresh, in the caller's object
            curvature.dirs, curvature.stps, curvature.rho, curvature.h_diag = [], [], [], 1.0
        self.curvature = curvature
        self.carried = bool(curvature.dirs)
        c = self.curvature
        self.dirs, self.stps, self.rho = c.dirs, c.stps, c.rho  # the same lists: updates land in c
        self.iterations = 0  # done over all runs
        self.evaluations = 0
        self.loss: float | None = None  # at x
        self.losses: list[float] = []  # at the start, then after each iteration (all runs)
        self.grad: torch.Tensor | None = None
        self.d: torch.Tensor | None = None
        self.t = 0.0
        self.prev_grad: torch.Tensor | None = None

    def _evaluate(self) -> tuple[float, torch.Tensor]:
        loss, grad = self.evaluate(self.iterations)
        self.evaluations += 1
        return float(loss), grad

    def run(self, iterations: int, lr: float, max_evals: int, stop: Stop | None = None) -> None:
        """At most ``iterations`` iterations and ``max_evals`` evaluations (counting the one
        at the start, as torch does even when it comes from the previous run); ``lr`` scales
        the step, relative to 1/‖g‖₁ on the very first iteration. ``stop`` may end the run
        earlier (it reads only the losses, so the same start gives the same stop)."""
        if self.grad is None:
            self.loss, self.grad = self._evaluate()
            self.losses.append(self.loss)
        assert self.loss is not None
        loss, grad = self.loss, self.grad
        evals = 1
        for done in range(1, iterations + 1):
            self.iterations += 1
            d = self._direction(grad)
            self.prev_grad = grad  # evaluate gives a new tensor each time: kept, not copied
            reads = torch.stack([grad.dot(d), d.abs().max(), grad.abs().max(), grad.abs().sum()]).tolist()
            gtd, d_norm, g_max, g_l1 = reads
            if g_max <= 0 or gtd > 0:  # at a minimum, or no descent (NaN goes on, as in torch)
                break
            t = min(1.0, 1.0 / g_l1) * lr if self.iterations == 1 and not self.carried else lr
            start = self.flat.clone()
            loss, grad, t, used = self._line_search(start, t, d, loss, grad, gtd, d_norm, max_evals - evals)
            self.flat.copy_(start).add_(d, alpha=t)
            self.d, self.t = d, t
            self.loss, self.grad = loss, grad
            evals += used
            self.losses.append(loss)
            if done == iterations or evals >= max_evals or t * d_norm <= 0:
                break
            if stop is not None and stop(self.losses):
                break

    def _direction(self, grad: torch.Tensor) -> torch.Tensor:
        """-H g from the curvature pairs (the two-loop recursion), on the device."""
        c = self.curvature
        if self.d is not None and self.prev_grad is not None:  # a new pair from the last step
            y = grad - self.prev_grad
            s = self.d * self.t
            ys = y.dot(s)
            curved = ys > 1e-10
            if len(self.dirs) == self.history:
                self.dirs.pop(0)
                self.stps.pop(0)
                self.rho.pop(0)
            self.dirs.append(y)
            self.stps.append(s)
            self.rho.append(torch.where(curved, 1.0 / ys, torch.zeros_like(ys)))
            c.h_diag = torch.where(curved, ys / y.dot(y), torch.as_tensor(c.h_diag, device=ys.device))
        if not self.dirs:
            return grad.neg()
        q = grad.neg()
        alphas = []
        for s_i, y_i, rho_i in zip(reversed(self.stps), reversed(self.dirs), reversed(self.rho), strict=True):
            alpha = s_i.dot(q) * rho_i
            q.addcmul_(y_i, alpha, value=-1)
            alphas.append(alpha)
        r = q.mul_(c.h_diag)
        for s_i, y_i, rho_i, alpha in zip(self.stps, self.dirs, self.rho, reversed(alphas), strict=True):
            beta = y_i.dot(r) * rho_i
            r.addcmul_(s_i, alpha - beta)
        return r

    def _at(self, start: torch.Tensor, t: float, d: torch.Tensor) -> tuple[float, torch.Tensor, float]:
        """Loss, gradient and directional derivative at start + t d (one read-back)."""
        self.flat.copy_(start).add_(d, alpha=t)
        loss_t, grad = self.evaluate(self.iterations)
        self.evaluations += 1
        loss, gtd = torch.stack([loss_t.detach().reshape(()).to(grad.dtype), grad.dot(d)]).tolist()
        return loss, grad, gtd

    def _line_search(self, start: torch.Tensor, t: float, d: torch.Tensor, f: float, g: torch.Tensor,
                     gtd: float, d_norm: float, max_ls: int) -> tuple[float, torch.Tensor, float, int]:
        """torch.optim.lbfgs._strong_wolfe on floats: (loss, gradient, step, evaluations)."""
        f_new, g_new, gtd_new = self._at(start, t, d)
        evals, ls_iter = 1, 0
        t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
        done = False
        bracket: list[float] = []
        bracket_f: list[float] = []
        bracket_g: list[torch.Tensor] = []
        bracket_gtd: list[float] = []
        while ls_iter < max_ls:
            if f_new > f + C1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
                bracket, bracket_f, bracket_g = [t_prev, t], [f_prev, f_new], [g_prev, g_new]
                bracket_gtd = [gtd_prev, gtd_new]
                break
            if abs(gtd_new) <= -C2 * gtd:
                bracket, bracket_f, bracket_g, done = [t], [f_new], [g_new], True
                break
            if gtd_new >= 0:
                bracket, bracket_f, bracket_g = [t_prev, t], [f_prev, f_new], [g_prev, g_new]
                bracket_gtd = [gtd_prev, gtd_new]
                break
            previous = t
            t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                   bounds=(t + 0.01 * (t - t_prev), t * 10))
            t_prev, f_prev, g_prev, gtd_prev = previous, f_new, g_new, gtd_new
            f_new, g_new, gtd_new = self._at(start, t, d)
            evals += 1
            ls_iter += 1
        if ls_iter == max_ls:
            bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
            bracket_gtd = [gtd, gtd_new]
        # zoom: refine the bracket until a point satisfies the strong Wolfe conditions
        insufficient = False
        low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
        while not done and ls_iter < max_ls:
            if abs(bracket[1] - bracket[0]) * d_norm < LINE_TOLERANCE:
                break
            t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                                   bracket[1], bracket_f[1], bracket_gtd[1])
            eps = 0.1 * (max(bracket) - min(bracket))
            if min(max(bracket) - t, t - min(bracket)) < eps:
                if insufficient or t >= max(bracket) or t <= min(bracket):
                    t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                    insufficient = False
                else:
                    insufficient = True
            else:
                insufficient = False
            f_new, g_new, gtd_new = self._at(start, t, d)
            evals += 1
            ls_iter += 1
            if f_new > f + C1 * t * gtd or f_new >= bracket_f[low]:
                bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
                low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
            else:
                if abs(gtd_new) <= -C2 * gtd:
                    done = True
                elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                    bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                    bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
                bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new
        return bracket_f[low], bracket_g[low], bracket[low], evals


def _cubic_interpolate(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                       bounds: tuple[float, float] | None = None) -> float:
    """Minimum of the cubic through two points with values and slopes, within ``bounds``
    (default: between the points); their midpoint when the cubic has none."""
    low, high = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            minimum = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            minimum = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(minimum, low), high)
    return (low + high) / 2.0
