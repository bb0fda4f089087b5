"""Quiet, precise feedback (issue 17): one line for an exercise not written yet, one
summary with the offending line and a caret for a file that does not import, hints only for
what was attempted, "Next" pointing at the file that failed, and the call shown being the one
whose result failed, in `course check`, feedback.md/html, results.json and notebooks."""

import json
import shutil

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.course.source import make_stubs
from grader.engine.grading import grade_exercise
from tests.support import ROOT, SOLUTIONS, copy_course, make_partial_submission, make_submission

pytestmark = pytest.mark.slow  # grades whole submissions for their feedback

DOUBLED_DB = ("    db = da.sum(axis=0)  # (H,)", "    db = 2 * da.sum(axis=0)  # (H,)")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def lines_of(output):
    return [line for line in output.splitlines() if line.strip()]


@pytest.fixture
def course_copy(tmp_path):
    return copy_course(tmp_path / "course")


def break_causal_mask(path):
    """masking.py with the colon of ``def causal_mask(...)`` gone; its line number."""
    source = path.read_text()
    start = source.index("def causal_mask(")
    colon = source.index(":", source.index(")", start))
    path.write_text(source[:colon] + source[colon + 1:])
    return source[:start].count("\n") + 1


# ---------------------------------------------------------------- not written yet

@pytest.mark.parametrize("lang, words", [("en", "not written yet"), ("ko", "아직 작성하지 않음")])
def test_an_exercise_not_written_yet_is_one_line(course_copy, lang, words):
    run = invoke("--course", course_copy, "--lang", lang, "check", "rnn.rnn_step_forward")
    assert run.exit_code == 1
    first, *rest = lines_of(run.output)
    assert first.split() == ["✗", "rnn.rnn_step_forward", *words.split()]
    assert "called" not in run.output and "raised" not in run.output and "NotImplementedError" not in run.output
    assert len(rest) <= 4, run.output          # the next step, wrapped at 80 columns
    state = json.loads((course_copy / ".course" / "state.json").read_text())
    assert "rnn.rnn_step_forward" not in state.get("passed", [])


def test_a_stub_still_fails_every_check(visible, course, tmp_path):
    folder = make_partial_submission(tmp_path / "sub", set())
    result = grade_exercise(visible, course.exercise("rnn.rnn_step_backward"), folder)
    assert result.not_written and not result.passed and result.score == 0
    assert result.checks and not any(check.passed for check in result.checks)
    assert "called" not in result.feedback() and "Hint" not in result.feedback()


# ---------------------------------------------------------------- a file that does not import

def test_a_syntax_error_is_one_summary_with_a_caret_and_next_names_its_file(course_copy):
    for module in ("attention", "masking", "self_attention", "multihead"):
        shutil.copy(SOLUTIONS / f"{module}.py", course_copy / "exercises" / f"{module}.py")
    line = break_causal_mask(course_copy / "exercises" / "masking.py")
    run = invoke("--course", course_copy, "check", "multihead.split_heads")
    assert run.exit_code == 1
    out = run.output
    assert out.count("SyntaxError") == 1 and f"SyntaxError in masking.py, line {line}: expected ':'" in out
    shown = [text for text in out.splitlines() if f"{line} | def causal_mask(" in text]
    assert len(shown) == 1
    caret = out.splitlines()[out.splitlines().index(shown[0]) + 1]
    assert caret.strip().startswith("|") and caret.rstrip().endswith("^")
    assert caret.index("^") == shown[0].index("device=None)") + len("device=None)")   # where the colon was
    assert "✗ " not in out.split("multihead.split_heads", 1)[1]     # no check is listed, one by one
    next_step = " ".join(out.split("Next:", 1)[1].split())
    assert "exercises/masking.py" in next_step and "multihead.py" not in next_step
    assert "course check multihead.split_heads" in next_step
    assert all(len(text) <= 80 for text in out.splitlines())


def test_an_error_raised_in_another_file_is_where_next_points(course_copy):
    """split_heads calls a helper of the learner's in self_attention.py, which raises:
    "Next" names the file that raised, beside the exercise's own."""
    for module in ("attention", "masking", "self_attention", "multihead"):
        shutil.copy(SOLUTIONS / f"{module}.py", course_copy / "exercises" / f"{module}.py")
    with open(course_copy / "exercises" / "self_attention.py", "a") as helper:
        helper.write("\n\ndef checked(x):\n    raise ValueError('my own check went wrong')\n")
    multihead = course_copy / "exercises" / "multihead.py"
    source = multihead.read_text().replace("    return x.reshape(B, T, num_heads, d_k)",
                                           "    import self_attention\n    self_attention.checked(x)\n"
                                           "    return x.reshape(B, T, num_heads, d_k)", 1)
    multihead.write_text(source)
    run = invoke("--course", course_copy, "check", "multihead.split_heads")
    assert run.exit_code == 1
    assert "my own check went wrong" in run.output
    next_step = " ".join(run.output.split("Next:", 1)[1].split())
    assert next_step.startswith("the error above is raised in exercises/self_attention.py"), next_step
    assert "split_heads in exercises/multihead.py" in next_step


def test_grading_shows_an_import_error_once_per_page_without_hints(course_copy, tmp_path):
    folder = make_submission(tmp_path / "eun")
    source = (folder / "lstm.py").read_text()
    cut = source.index("def lstm_forward(")
    colon = source.index(":", source.index(")", cut))
    (folder / "lstm.py").write_text(source[:colon] + source[colon + 1:])
    out = tmp_path / "out"
    run = invoke("--course", course_copy, "grade", folder, "--out", out, "--only", "lstm.*")
    assert run.exit_code == 0, run.output
    for page in ("feedback.md", "feedback.html"):
        text = (out / "eun" / page).read_text()
        assert text.count("expected &#x27;:&#x27;" if page.endswith("html") else "expected ':'") == 1, page
        assert text.count("the same error as for lstm.lstm\\_step\\_forward" if page.endswith("md")
                          else "the same error as for lstm.lstm_step_forward") == 3, page
        assert "Hint" not in text and "More hints" not in text and "graded with the reference" not in text
    tests = json.loads((out / "eun" / "results.json").read_text())["tests"]
    for test in tests:      # each test of results.json stands alone: the whole summary, once
        assert test["output"].count("SyntaxError in lstm.py") == 1 and "^" in test["output"]


# ---------------------------------------------------------------- hints only for what was attempted

def test_an_untouched_submission_gets_a_small_feedback_with_no_hints(course_copy, tmp_path):
    make_partial_submission(tmp_path / "cho", set())
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not a zip at all")
    out = tmp_path / "out"
    run = invoke("--course", course_copy, "grade", tmp_path / "cho", broken, "--out", out)
    assert run.exit_code == 0, run.output
    md = (out / "cho" / "feedback.md").read_text()
    assert len(md.encode()) <= 10_000, len(md.encode())
    assert md.count("not written yet") >= 40
    for name in ("cho", "broken"):
        for page in ("feedback.md", "feedback.html", "results.json"):
            text = (out / name / page).read_text()
            assert "Hint" not in text and "course hint" not in text, (name, page)


def test_a_missing_module_gets_one_reason_and_no_hint(hidden, course, tmp_path):
    folder = make_submission(tmp_path / "sub")
    (folder / "rnn.py").unlink()
    result = grade_exercise(hidden, course.exercise("rnn.rnn_step_forward"), folder)
    assert result.failed_file == "rnn.py" and "rnn.py is missing" in result.problem
    assert not result.attempted and "Hint" not in result.feedback()
    assert result.feedback().count("missing") == 1


def test_an_attempted_exercise_still_gets_its_hint(hidden, course, tmp_path):
    from grader.instructor.feedback import exercise_markdown

    folder = make_submission(tmp_path / "sub")
    path = folder / "rnn.py"
    path.write_text(path.read_text().replace(*DOUBLED_DB))
    exercise = course.exercise("rnn.rnn_step_backward")
    result = grade_exercise(hidden, exercise, folder)
    assert result.attempted and not result.passed
    assert exercise.hints[0].split()[0] in exercise_markdown(result, course)


# ---------------------------------------------------------------- the call shown is the one that failed

def test_a_wrong_db_is_shown_under_the_backward_call(visible, hidden, course, tmp_path):
    folder = make_submission(tmp_path / "sub")
    path = folder / "rnn.py"
    assert DOUBLED_DB[0] in path.read_text()
    path.write_text(path.read_text().replace(*DOUBLED_DB))
    for ctx in (visible, hidden):
        result = grade_exercise(ctx, course.exercise("rnn.rnn_step_backward"), folder)
        failed = [check for check in result.checks if not check.passed and "db" in check.feedback]
        assert failed
        for check in failed:
            assert check.feedback.startswith("called rnn_step_backward("), check.feedback[:200]


# ---------------------------------------------------------------- notebooks

def _notebook_namespace(source: str) -> dict:
    namespace = {"__name__": "__main__"}
    exec(compile(source, "<cell>", "exec"), namespace)
    return namespace


def test_a_notebook_cell_not_written_yet_is_one_line(course):
    from grader.instructor.nbgrader_support import ExerciseTests
    from grader.instructor.nbgrader_support.runner import ExerciseFailed

    namespace = _notebook_namespace(make_stubs((SOLUTIONS / "rnn.py").read_text(), "rnn"))
    tests = ExerciseTests("rnn.rnn_step_forward", points=2, namespace=namespace)
    tests.visible(str(ROOT / "suites" / "visible" / "test_rnn.py"))
    with pytest.raises(ExerciseFailed) as failed:
        tests.run()
    assert str(failed.value) == "rnn.rnn_step_forward: not written yet, 0/2 points"


def test_a_notebook_shows_the_backward_call_for_a_wrong_db(course):
    from grader.instructor.nbgrader_support import ExerciseTests
    from grader.instructor.nbgrader_support.runner import ExerciseFailed

    namespace = _notebook_namespace((SOLUTIONS / "rnn.py").read_text().replace(*DOUBLED_DB))
    tests = ExerciseTests("rnn.rnn_step_backward", points=3, namespace=namespace)
    tests.visible(str(ROOT / "suites" / "visible" / "test_rnn.py"))
    with pytest.raises(ExerciseFailed) as failed:     # the values check fails: no points
        tests.run()
    report = str(failed.value)
    assert "✗ gradient check" in report
    failing = report.split("✗ gradient check", 1)[1]
    assert failing.split("\n", 2)[1].strip().startswith("called rnn_step_backward("), failing[:300]
