"""`course check` and `course grade` follow one stand-in rule.

A learner's own earlier piece that passes stays theirs; one that fails is replaced by
the reference when grading, and the feedback says so. `course check` has no reference
to put in its place: it says what blocks the exercise, once, and names what to fix.
"""

import json
import shutil

from click.testing import CliRunner

from grader.cli import main
from tests.support import ROOT, copy_course

NOT_WRITTEN = "attention.softmax is not written yet"


def _flat(text):
    return " ".join(text.split())


def _course_without_softmax(tmp_path):
    """A learner who wrote all of masking.py, but not attention.softmax."""
    root = copy_course(tmp_path / "course")
    shutil.copy(ROOT / "solutions" / "masking.py", root / "exercises" / "masking.py")
    return root


def test_check_says_once_what_blocks_an_exercise_and_names_it_to_fix(tmp_path):
    root = _course_without_softmax(tmp_path)
    run = CliRunner().invoke(main, ["--course", str(root), "check", "masking.masked_softmax"])
    out = _flat(run.output)
    assert run.exit_code == 1, run.output
    assert out.count("Not checked: it builds on attention.softmax") == 1
    assert NOT_WRITTEN not in out                    # the learner's masked_softmax is not blamed
    assert "fix softmax in" in out and "course check attention.softmax" in out


def test_grade_runs_the_reference_softmax_and_says_so(tmp_path):
    root = _course_without_softmax(tmp_path)
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["--course", str(root), "grade", str(root / "exercises"), "--out", str(out),
                                    "--only", "masking.masked_softmax"])
    assert run.exit_code == 0, run.output
    results = json.loads((out / "exercises" / "results.json").read_text())
    test = next(t for t in results["tests"] if "masked_softmax" in t["name"])
    assert test["score"] == test["max_score"]
    assert "graded with the reference attention.softmax in place of yours" in _flat(test["output"])


def test_with_softmax_written_check_runs_the_learners_own(tmp_path):
    root = _course_without_softmax(tmp_path)
    shutil.copy(ROOT / "solutions" / "attention.py", root / "exercises" / "attention.py")
    run = CliRunner().invoke(main, ["--course", str(root), "check", "masking.masked_softmax"])
    assert run.exit_code == 0, run.output
    assert "Not checked" not in run.output


def test_check_says_what_blocks_it_in_korean_too(tmp_path):
    root = _course_without_softmax(tmp_path)
    run = CliRunner().invoke(main, ["--course", str(root), "--lang", "ko", "check", "masking.masked_softmax"])
    assert "검사하지 않았습니다: 이 문제는 attention.softmax 위에 세워지는데" in _flat(run.output)


def test_watch_forgets_a_verdict_only_when_a_file_it_depends_on_changed(tmp_path):
    from grader.engine.grading import LastingVerdicts
    from grader.course.manifest import load_manifest

    root = _course_without_softmax(tmp_path)
    folder = root / "exercises"
    lasting = LastingVerdicts(load_manifest(root / "course.toml"), folder)
    lasting.current().update({"attention.softmax": False, "masking.masked_softmax": True, "rnn.rnn_forward": True})
    assert lasting.current() == {"attention.softmax": False, "masking.masked_softmax": True, "rnn.rnn_forward": True}
    (folder / "attention.py").write_text((folder / "attention.py").read_text() + "\n# saved\n")
    assert lasting.current() == {"rnn.rnn_forward": True}      # masked_softmax builds on softmax
