"""The example class graded by the README's first command behaves as it says."""

import importlib.util
import zipfile

import pytest

from grader.grading import GradingContext
from grader.submission import grade_submission
from tests.support import ROOT

CLASS = ROOT / "examples" / "class"


def _builder():
    spec = importlib.util.spec_from_file_location("make_examples", ROOT / "examples" / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _contents(folder):
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                files.update({f"{path.name}:{n}": zf.read(n) for n in zf.namelist()})
        elif path.is_file():
            files[str(path.relative_to(folder))] = path.read_bytes()
    return files


def test_the_committed_examples_are_what_the_builder_writes(tmp_path):
    _builder().build(tmp_path)
    assert _contents(tmp_path) == _contents(CLASS), "run `python examples/make_examples.py`"


@pytest.fixture(scope="module")
def graded(course):
    ctx = GradingContext.for_course(course, "hidden", time_limit=3)
    return {r.name: r for r in (grade_submission(ctx, path) for path in sorted(CLASS.iterdir()))}


def passed(result):
    return {e.id for e in result.exercises if e.passed}


def test_each_example_gets_what_it_is_there_to_show(graded, course):
    every = {ex.id for ex in course.exercises}
    rnn = {ex.id for ex in course.exercises if ex.module == "rnn"}
    assert passed(graded["ada_complete"]) == every
    assert graded["cho_untouched"].score == 0
    assert every - passed(graded["ben_typical_mistakes"]) >= {
        "rnn.rnn_step_backward", "rnn.rnn_backward", "lstm.lstm_step_forward"}
    assert {"rnn.rnn_step_forward", "rnn.rnn_forward", "rnn.clip_grad_norm", "lstm.lstm_forward"} <= passed(
        graded["ben_typical_mistakes"])
    assert passed(graded["dev_infinite_loop"]) == every - {"rnn.clip_grad_norm"}
    loop = next(e for e in graded["dev_infinite_loop"].exercises if e.id == "rnn.clip_grad_norm")
    assert "time limit" in loop.feedback()
    assert passed(graded["eun_syntax_error"]) == rnn
    assert "SyntaxError" in next(e for e in graded["eun_syntax_error"].exercises if e.id == "lstm.lstm_forward").feedback()
    assert passed(graded["fay_halfway"]) == rnn
