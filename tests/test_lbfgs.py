"""engine/lbfgs.py: torch's L-BFGS iteration and line search, with one read-back per evaluation."""

from __future__ import annotations

import pytest
import torch
from synthetic import scene, stripes

from videostyle.config import StyleConfig
from videostyle.engine.lbfgs import LBFGS
from videostyle.engine.optimize import Stylizer


def _rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def test_the_same_path_as_torch_lbfgs():
    start = torch.linspace(-1.5, 1.2, 12, dtype=torch.float64)
    ours = start.clone()

    def evaluate(_iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            x = ours.detach().requires_grad_(True)
            loss = _rosenbrock(x)
            loss.backward()
        return loss.detach(), x.grad

    optimizer = LBFGS(ours, evaluate, history=5)
    optimizer.run(1, 0.05, 6)
    optimizer.run(30, 1.0, 42)
    theirs = start.clone().requires_grad_(True)
    torch_lbfgs = torch.optim.LBFGS([theirs], lr=0.05, max_iter=1, max_eval=6, tolerance_grad=0.0,
                                    tolerance_change=0.0, history_size=5, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        torch_lbfgs.zero_grad()
        loss = _rosenbrock(theirs)
        loss.backward()
        return loss

    torch_lbfgs.step(closure)
    torch_lbfgs.param_groups[0].update(lr=1.0, max_iter=30, max_eval=42)
    torch_lbfgs.step(closure)
    assert optimizer.iterations == torch_lbfgs.state[theirs]["n_iter"]
    # counting the first evaluation of the second call, which torch repeats and we do not
    assert optimizer.evaluations + 1 == torch_lbfgs.state[theirs]["func_evals"]
    assert torch.equal(ours, theirs.detach())  # float64: the same arithmetic, bit for bit
    assert float(_rosenbrock(ours)) < 0.005 * float(_rosenbrock(start))


def test_a_stylize_call_reads_the_device_once_per_evaluation_and_iteration(monkeypatch):
    """The CPU twin of "no host sync per evaluation": on a GPU each read drains the queue."""
    stylizer = Stylizer([stripes()], StyleConfig(iterations=12, device="cpu", precision="fp32"))
    content = scene()
    stylizer.stylize(content, iterations=1)  # targets and content features, outside the count
    reads = {"n": 0}
    for name in ("item", "tolist", "__float__", "__bool__", "__int__"):
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original, **kwargs):
            reads["n"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    evaluations = []
    stylizer.stylize(content, scales=1, callback=evaluations.append)
    iterations = max(p.iteration for p in evaluations)
    # one per evaluation (loss and slope), one per iteration (slope, step size), two per
    # call (the first loss, the finite check); torch's optimizer made ~2 per pair per iteration
    assert reads["n"] <= len(evaluations) + iterations + 2, (reads, len(evaluations), iterations)


@pytest.mark.parametrize("iterations", [1, 3])
def test_budgets_are_torchs(iterations):
    """The evaluations a budget allows: the first call 1 iteration and up to 6 evaluations."""
    stylizer = Stylizer([stripes()], StyleConfig(iterations=iterations, device="cpu", precision="fp32"))
    seen = []
    stylizer.stylize(scene(), callback=seen.append)
    assert max(p.iteration for p in seen) == iterations
    assert len(seen) <= 6 + (iterations - 1) * 5 // 4 + 5
