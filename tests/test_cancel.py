"""engine/cancel.py: one token stops the optimizer at its next loss evaluation."""

from __future__ import annotations

import time

import pytest
from synthetic import scene, stripes

from videostyle.config import StyleConfig
from videostyle.engine.cancel import Cancelled, CancelToken
from videostyle.engine.optimize import Stylizer

CPU = StyleConfig(device="cpu", precision="fp32")


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_cancelled_token_stops_the_optimizer_before_its_next_evaluation(optimizer):
    token = CancelToken()
    stylizer = Stylizer([stripes()], StyleConfig(device="cpu", precision="fp32", optimizer=optimizer),
                        cancel=token)
    evaluations = []

    def cancel_after_two(p):
        evaluations.append(p.iteration)
        if len(evaluations) == 2:
            token.cancel("button")

    with pytest.raises(Cancelled) as raised:
        stylizer.stylize(scene(32, 24), iterations=20, callback=cancel_after_two)
    assert len(evaluations) == 2 and raised.value.reason == "button"


def test_a_token_past_its_deadline_is_cancelled_by_itself():
    token = CancelToken(deadline=time.monotonic() - 1)
    assert token.cancelled and token.reason == "deadline"
    with pytest.raises(Cancelled):
        Stylizer([stripes()], CPU, cancel=token).stylize(scene(32, 24), iterations=5)
    fresh = CancelToken(deadline=time.monotonic() + 60)
    assert not fresh.cancelled
    fresh.check()  # does not raise


def test_without_a_token_nothing_is_checked():
    out = Stylizer([stripes()], CPU).stylize(scene(32, 24), iterations=2)
    assert out.shape == (1, 3, 24, 32)
