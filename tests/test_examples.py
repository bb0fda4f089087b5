"""The example class graded by the README's first command behaves as it says."""

import importlib.util
import zipfile

import pytest

from grader.engine.grading import GradingContext
from grader.instructor.submission import grade_submission
from tests.support import ROOT

pytestmark = pytest.mark.slow  # grades the example class, as `make demo` does

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
    ctx = GradingContext.for_course(course, "hidden", time_limit=5)
    try:
        return {r.name: r for r in (grade_submission(ctx, path) for path in sorted(CLASS.iterdir()))}
    finally:
        ctx.close()


def passed(result):
    return {e.id for e in result.exercises if e.passed}


def test_each_example_gets_what_it_is_there_to_show(graded, course):
    every = {ex.id for ex in course.exercises}
    module = {m.name: {ex.id for ex in m.exercises} for m in course.modules}
    assert passed(graded["ada_complete"]) == every
    assert graded["cho_untouched"].score == 0
    mistakes = {exercise_id for exercise_id, _ in _builder().BEN_MISTAKES}
    # and the exercises whose checks run ben's own version of a broken one (uses_own)
    coupled = {ex.id for ex in course.exercises if mistakes & set(ex.uses_own)}
    # the KV cache runs ben's own Transformer classes (his LayerNorm among them) but is judged
    # against greedy decoding of that same model: his slip is consistent there, and costs nothing
    assert coupled == {"lstm.lstm_step_backward", "decoding.cached_greedy_decode"}
    coupled -= {"decoding.cached_greedy_decode"}
    # and the capstone, which assembles ben's own modules, his mistakes included
    coupled |= {ex.id for ex in course.exercises if ex.is_capstone}
    assert every - passed(graded["ben_typical_mistakes"]) == mistakes | coupled
    assert passed(graded["dev_infinite_loop"]) == every - {"rnn.clip_grad_norm"}
    loop = next(e for e in graded["dev_infinite_loop"].exercises if e.id == "rnn.clip_grad_norm")
    assert "time limit" in loop.feedback()
    assert passed(graded["eun_syntax_error"]) == every - module["lstm"]
    assert "SyntaxError" in next(e for e in graded["eun_syntax_error"].exercises if e.id == "lstm.lstm_forward").feedback()
    assert passed(graded["fay_halfway"]) == module["rnn"]
