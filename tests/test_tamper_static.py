"""Forbidden calls in disguise and reaching into the grader: refused before anything runs.

Each attack is graded beside the reference: it loses the exercise that holds it, with a
message that names the construct, and nothing else; with the static layer switched off
(``without_screening``) the disguised forbidden calls would have paid, which shows that
the layer is what stops them. The rules themselves are tested in tests/test_static_scan.py.
"""

import pytest

from grader.engine.grading import grade_exercise
from tests.support import make_submission

ATEN_SOFTMAX = '''
def softmax(x, dim=-1):
    import torch
    return torch.ops.aten._softmax(x, dim, False)
'''

ATEN_LAYER_NORM = '''
class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x):
        return torch.ops.aten.layer_norm(x, [x.shape[-1]], self.weight, self.bias, self.eps)
'''

EVAL_GETATTR = '''
def softmax(x, dim=-1):
    import torch
    pick = eval("lambda t, d: getattr(t, 'soft' + 'max')(d)")
    return pick(x, dim)
'''

PATCH_VJP = '''
def softmax(x, dim=-1):
    import sys
    worker = sys.modules["grader.isolation.worker"]
    worker.vector_jacobian_product = lambda *a, **k: (None, (), {})
    shifted = x - x.amax(dim=dim, keepdim=True)
    return shifted.exp() / shifted.exp().sum(dim=dim, keepdim=True)
'''

ATTACKS = {
    "aten_softmax": ("attention.softmax", ATEN_SOFTMAX, "torch.ops"),
    "aten_layer_norm": ("transformer.LayerNorm", ATEN_LAYER_NORM, "torch.ops"),
    "eval_getattr": ("attention.softmax", EVAL_GETATTR, "eval(...)"),
    "patch_vjp": ("attention.softmax", PATCH_VJP, "sys.modules"),
}
NEIGHBOURS = {"attention.softmax": "attention.dot_score", "transformer.LayerNorm": "transformer.FeedForward"}


@pytest.mark.parametrize("name", ATTACKS)
def test_a_disguised_or_reaching_attack_costs_its_exercise_and_names_the_construct(hidden, course, tmp_path, name):
    exercise_id, source, construct = ATTACKS[name]
    folder = make_submission(tmp_path, {exercise_id: source})
    attacked = grade_exercise(hidden, course.exercise(exercise_id), folder)
    assert attacked.score == 0 and construct in attacked.problem, attacked.feedback()
    assert "line " in attacked.problem and "not allowed in a submission" in attacked.problem
    neighbour = grade_exercise(hidden, course.exercise(NEIGHBOURS[exercise_id]), folder)
    assert neighbour.score == neighbour.max_score, neighbour.feedback()


@pytest.mark.parametrize("name", ["aten_softmax", "aten_layer_norm"])
def test_without_the_static_layer_a_forbidden_call_in_disguise_would_pay(hidden, course, tmp_path, name,
                                                                         without_screening):
    exercise_id, source, _ = ATTACKS[name]
    folder = make_submission(tmp_path, {exercise_id: source})
    assert grade_exercise(hidden, course.exercise(exercise_id), folder).score > 0


def test_a_refused_helper_costs_what_uses_it_and_its_module_level_use_costs_the_module(hidden, course, tmp_path):
    helper = "def sneaky(x):\n    return eval('x')\n"
    folder = make_submission(tmp_path / "helper", {"attention.dot_score": (
        "def dot_score(query, keys):\n    return sneaky(keys @ query.unsqueeze(-1)).squeeze(-1)\n")})
    path = folder / "attention.py"
    path.write_text(path.read_text() + "\n" + helper)
    uses = grade_exercise(hidden, course.exercise("attention.dot_score"), folder)
    assert uses.score == 0 and "sneaky was not run" in uses.feedback(), uses.feedback()
    untouched = grade_exercise(hidden, course.exercise("attention.softmax"), folder)
    assert untouched.score == untouched.max_score, untouched.feedback()

    folder = make_submission(tmp_path / "module")
    path = folder / "attention.py"
    path.write_text("import gc\n" + path.read_text())
    whole = grade_exercise(hidden, course.exercise("attention.softmax"), folder)
    assert whole.score == 0 and "import gc" in whole.problem, whole.feedback()
    elsewhere = grade_exercise(hidden, course.exercise("rnn.rnn_step_forward"), folder)
    assert elsewhere.score == elsewhere.max_score, elsewhere.feedback()
