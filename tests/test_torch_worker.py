"""Torch across the boundary: modules as handles, state dicts, gradients, tripwires on methods."""

import textwrap

import pytest
import torch

from grader.checks import CheckFailed, expect_gradients_close, plain_state, vjp
from grader.isolation.worker_client import StudentProxy, WorkerSession

LEARNER = textwrap.dedent('''
    import torch
    from torch import nn

    def tanh_layer(x, w):
        return torch.tanh(x @ w)

    def cut_off(x, w):
        return torch.tanh(x @ w).detach()

    def normalise(x):
        return x.softmax(-1)

    class Affine(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.lin = nn.Linear(d, d)
            self.seen_dtype = None

        def forward(self, x):
            self.seen_dtype = x.dtype
            return self.lin(x)
''')


@pytest.fixture(scope="module")
def local():
    namespace = {}
    exec(compile(LEARNER, "<local learner>", "exec"), namespace)
    return namespace


@pytest.fixture()
def student(tmp_path):
    (tmp_path / "learner.py").write_text(LEARNER)
    config = {"folder": str(tmp_path), "modules": ["learner"], "graded_module": "learner", "partials": {},
              "dependencies": {}, "forbidden": ["torch.Tensor.softmax"], "memory_limit_mb": 3072}
    with WorkerSession(tmp_path, config, 30, tmp_path / "output.txt") as session:
        assert session.start() is None, session.output_tail()
        yield StudentProxy(session, ["learner"], lambda module, name: []).learner, session


def test_gradients_of_a_remote_function_equal_the_local_ones(student, local):
    learner, _ = student
    gen = torch.Generator().manual_seed(0)
    x, w, up = (torch.randn(*s, generator=gen, dtype=torch.float64) for s in [(2, 3), (3, 4), (2, 4)])
    out, grads, params = vjp(learner.tanh_layer, (x, w), up)
    want_out, want_grads, _ = vjp(local["tanh_layer"], (x, w), up)
    assert params == {} and not out.requires_grad
    torch.testing.assert_close(out, want_out)
    expect_gradients_close(grads, want_grads, ["x", "w"])
    _, only_w, _ = vjp(learner.tanh_layer, (x, w), up, wrt=[1])
    torch.testing.assert_close(only_w[0], want_grads[1])


def test_a_cut_graph_gives_no_gradient_and_a_message_that_says_why(student, local):
    learner, _ = student
    x, w, up = torch.ones(1, 2, dtype=torch.float64), torch.eye(2, dtype=torch.float64), torch.ones(1, 2)
    _, grads, _ = vjp(learner.cut_off, (x, w), up)
    assert grads == (None, None)
    with pytest.raises(CheckFailed, match="no gradient reaches x.*detach"):
        expect_gradients_close(grads, vjp(local["tanh_layer"], (x, w), up)[1], ["x", "w"])


def test_an_upstream_of_the_wrong_shape_is_the_learners_error_not_a_crash(student):
    from grader.isolation.worker_client import StudentError

    learner, _ = student
    with pytest.raises(StudentError, match="shape"):
        vjp(learner.tanh_layer, (torch.ones(2, 3), torch.ones(3, 4)), torch.ones(2, 5))


def test_a_module_stays_in_the_worker_and_takes_the_reference_weights(student, local):
    learner, _ = student
    torch.manual_seed(1)
    reference = local["Affine"](3)
    remote = learner.Affine(3)
    assert repr(remote) == "<Affine object>"
    state = remote.state_dict()
    assert type(state) is dict and set(state) == {"lin.weight", "lin.bias"}
    remote.load_state_dict(plain_state(reference))
    x = torch.randn(2, 3)
    up = torch.randn(2, 3)
    out, (dx,), params = vjp(remote, (x,), up)
    want_out, (want_dx,), want_params = vjp(reference, (x,), up)
    torch.testing.assert_close(out, want_out)
    torch.testing.assert_close(dx, want_dx)
    expect_gradients_close(params, want_params, None)
    assert remote.seen_dtype == torch.float32 and remote.lin.weight.dtype == torch.float32
    remote.double()
    assert remote.lin.weight.dtype == torch.float64
    remote.to(torch.float32)
    assert remote.lin.weight.dtype == torch.float32 and remote.lin.weight.device == torch.device("cpu")
    with pytest.raises(CheckFailed, match="the gradient of lin.bias"):
        expect_gradients_close(params, {**want_params, "lin.bias": want_params["lin.bias"] + 1}, None)


def test_a_forbidden_tensor_method_is_refused_and_noticed(student):
    from grader.isolation.worker_client import StudentError

    learner, session = student
    with pytest.raises(StudentError, match="ForbiddenCall: torch.Tensor.softmax is one of the calls"):
        learner.normalise(torch.tensor([[1.0, 2.0]]))
    assert session.forbidden_used == {"torch.Tensor.softmax"}
