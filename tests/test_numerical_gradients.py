"""numerical_gradients: the probes of a gradient check run in the worker in one request,
with the numbers a probe per call would give, and the learner's error stays theirs."""

import textwrap
import types

import numpy as np
import pytest

from grader.checks import numerical_gradient, numerical_gradients
from grader.isolation.worker_client import StudentError, StudentProxy, WorkerSession

LEARNER = textwrap.dedent('''
    import numpy as np

    def step(x, W, b):
        out = np.tanh(x @ W + b)
        return out, (x, W, out), out.sum(axis=1)

    def careless(x, W, b):
        """Changes its input as it goes: every call must still see the caller's values."""
        x *= 2.0
        return step(x, W, b)

    def fails_on_probes(x, W, b):
        if abs(x[0, 0] - 0.25) > 1e-12:
            raise ValueError("only the plain input works")
        return step(x, W, b)
''')


@pytest.fixture
def learner(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "learner.py").write_text(LEARNER)
    config = {"folder": str(folder), "modules": ["learner"], "graded_module": "learner", "partials": {},
              "dependencies": {}, "forbidden": [], "memory_limit_mb": 3072}
    with WorkerSession(folder, config, 30, tmp_path / "output.txt") as session:
        assert session.start() is None, session.output_tail()
        proxy = StudentProxy(session, ["learner"], lambda module, name: [])
        yield proxy, session


def _here():
    module = types.ModuleType("learner")
    exec(LEARNER, module.__dict__)
    return types.SimpleNamespace(learner=module)


def _inputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3))
    x[0, 0] = 0.25
    return [x, rng.standard_normal((3, 4)), rng.standard_normal(4)], rng.standard_normal((2, 4)), rng.standard_normal(2)


@pytest.mark.parametrize("name", ["step", "careless"])
def test_the_worker_gives_the_numbers_of_one_probe_per_call(learner, name):
    student, session = learner
    args, d_out, d_sum = _inputs()
    here = getattr(_here().learner, name)
    df = np.concatenate([d_out.ravel(), d_sum])
    calls = []
    session_request = session.request

    def counted(header, what):
        calls.append(header.get("op"))
        return session_request(header, what)

    session.request = counted
    got = numerical_gradients(student, getattr(student.learner, name), args, df, range(3), outputs=(0, 2))
    # one probe per call, here, on copies (the slow way, with the same arithmetic)
    def joined():
        out = here(*[a.copy() for a in args])
        return np.concatenate([out[0].ravel(), out[2]])

    for k, grad in enumerate(got):
        np.testing.assert_array_equal(grad, numerical_gradient(joined, args[k], df))
    assert len(calls) <= 2 * 3, calls        # a handle and one request per input, not two per entry


def test_under_plain_pytest_it_runs_here():
    args, d_out, _ = _inputs()
    here = _here()
    got = numerical_gradients(here, here.learner.step, args, d_out, [1])
    want = numerical_gradient(lambda: here.learner.step(*args)[0], args[1], d_out)
    np.testing.assert_array_equal(got[0], want)


def test_an_error_during_the_probes_is_reported_as_the_learners_own_call(learner):
    student, session = learner
    args, d_out, _ = _inputs()
    with pytest.raises(StudentError, match="only the plain input works"):
        numerical_gradients(student, student.learner.fails_on_probes, args, d_out, [0])
    assert session.calls[-1].label == "fails_on_probes"
