"""reference_once: a check's reference work is done once per process, and a check that
finds it done goes on exactly as if it had done it. Torch's global generator is seeded per
check, so that the random states it is keyed by do not depend on what ran before."""

import numpy as np
import pytest
import torch

from grader.checks import check, reference_once
from grader.engine.check_runner import run_checks

CALLS = []


class Reference:
    """Stands for ``ref``: the memo is kept per reference."""


def _draw(ref, rng, size):
    CALLS.append(size)
    weights = torch.randn(size)                       # torch's global generator
    return {"weights": weights, "pick": int(rng.integers(10)), "sizes": [size]}


def test_a_second_call_from_the_same_states_reuses_the_value_and_leaves_the_same_states():
    ref = Reference()
    CALLS.clear()
    first_rng, second_rng = np.random.default_rng(7), np.random.default_rng(7)
    torch.manual_seed(3)
    first = reference_once(ref, first_rng, _draw, 5)
    after_first = (first_rng.integers(1 << 30), torch.randn(2))
    torch.manual_seed(3)
    second = reference_once(ref, second_rng, _draw, 5)
    after_second = (second_rng.integers(1 << 30), torch.randn(2))
    assert CALLS == [5]
    assert torch.equal(first["weights"], second["weights"]) and first["pick"] == second["pick"]
    assert after_first[0] == after_second[0] and torch.equal(after_first[1], after_second[1])


def test_other_inputs_or_other_random_states_are_worked_out_again():
    ref = Reference()
    CALLS.clear()
    torch.manual_seed(3)
    reference_once(ref, np.random.default_rng(7), _draw, 5)
    torch.manual_seed(3)
    reference_once(ref, np.random.default_rng(7), _draw, 6)      # other inputs
    torch.manual_seed(3)
    reference_once(ref, np.random.default_rng(8), _draw, 5)      # another rng state
    torch.manual_seed(4)
    reference_once(ref, np.random.default_rng(7), _draw, 5)      # another torch state
    reference_once(Reference(), np.random.default_rng(7), _draw, 5)   # another reference
    assert CALLS == [5, 6, 5, 5, 5]


def test_a_check_that_changes_the_value_it_got_changes_nothing_for_the_next():
    ref = Reference()
    for _ in range(2):                  # the value worked out, then the value kept
        torch.manual_seed(0)
        value = reference_once(ref, np.random.default_rng(1), _draw, 3)
        value["weights"].zero_()
        value["sizes"].append(99)
    torch.manual_seed(0)
    again = reference_once(ref, np.random.default_rng(1), _draw, 3)
    assert again["sizes"] == [3] and again["weights"].abs().sum() > 0


def test_a_closure_is_refused_because_what_it_reads_would_not_be_in_the_key():
    size = 3
    with pytest.raises(TypeError, match="closure"):
        reference_once(Reference(), np.random.default_rng(0), lambda ref, rng: torch.zeros(size))


def _model(ref, rng):
    return torch.nn.Linear(2, 2)


def _in_a_graph(ref, rng):
    return torch.ones(2, requires_grad=True) * 2


@pytest.mark.parametrize("compute", [_model, _in_a_graph])
def test_only_plain_data_is_kept(compute):
    with pytest.raises(TypeError, match="not plain data"):
        reference_once(Reference(), np.random.default_rng(0), compute)


# ---------------------------------------------------------------- torch's generator per check

class _Here:
    """A check environment with nothing to isolate: the checks below call no learner code."""

    given = {}

    def before_check(self):
        pass

    def failed(self, message):
        return message

    def raised(self, error):
        raise error


DRAWN = []


@check("toy.draws")
def _draws_from_torch(rng):
    DRAWN.append(torch.randn(3))


def test_what_a_check_draws_from_torch_does_not_depend_on_what_ran_before():
    DRAWN.clear()
    torch.manual_seed(1)
    run_checks("toy.draws", [_draws_from_torch], _Here())
    torch.randn(100)                                  # other work in between
    run_checks("toy.draws", [_draws_from_torch], _Here())
    assert torch.equal(DRAWN[0], DRAWN[1])


def test_the_callers_torch_generator_is_left_as_it_was():
    torch.manual_seed(5)
    expected = torch.randn(4)
    torch.manual_seed(5)
    run_checks("toy.draws", [_draws_from_torch], _Here())
    assert torch.equal(torch.randn(4), expected)      # a learner's notebook keeps its random state
