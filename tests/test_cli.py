"""The learner's and developer's commands, through click's CliRunner."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from grader.cli import main
from tests.support import ROOT, copy_course, make_submission


@pytest.fixture
def course_copy(tmp_path):
    return copy_course(tmp_path)


def invoke(root, *args):
    return CliRunner().invoke(main, ["--course", str(root), *args], catch_exceptions=False)


def test_list_shows_every_exercise(course_copy):
    run = invoke(course_copy, "list")
    assert run.exit_code == 0
    assert "rnn.rnn_step_forward" in run.output and "lstm.lstm_backward" in run.output


def test_hint_shows_one_more_level_each_time_and_remembers(course_copy):
    from grader.course.manifest import load_manifest

    hints = load_manifest(course_copy / "course.toml").exercise("rnn.rnn_forward").hints
    first = invoke(course_copy, "hint", "rnn.rnn_forward")
    second = invoke(course_copy, "hint", "rnn.rnn_forward")
    assert "hint 1 of" in first.output and "hint 2 of" in second.output
    assert hints[0].split()[0] in first.output
    state = json.loads((course_copy / ".course" / "state.json").read_text())
    assert state["hints_shown"]["rnn.rnn_forward"] == 2
    invoke(course_copy, "hint", "rnn.rnn_forward", "--reset")
    assert "hint 1 of" in invoke(course_copy, "hint", "rnn.rnn_forward").output


def test_hint_for_an_unknown_exercise_suggests_the_closest(course_copy):
    run = CliRunner().invoke(main, ["--course", str(course_copy), "hint", "rnn.rnn_froward"])
    assert run.exit_code != 0 and "rnn.rnn_forward" in run.output


def test_check_on_stubs_fails_and_says_what_to_do_next(course_copy):
    run = invoke(course_copy, "check")
    assert run.exit_code == 1
    assert "✗ rnn.rnn_step_forward  not written yet" in run.output    # one line, no traceback
    assert "course hint rnn.rnn_step_forward" in run.output
    assert "lstm" not in run.output  # stops at the first failing exercise


def test_check_then_progress_on_a_solved_module(course_copy):
    make_submission(course_copy / "exercises")  # the learner solved everything
    run = invoke(course_copy, "check", "rnn")
    assert run.exit_code == 0, run.output
    assert run.output.count("✓") == 6
    progress = invoke(course_copy, "progress")
    assert "6/6" in progress.output and "0/4" in progress.output
    assert "Next: lstm.lstm_step_forward" in progress.output


def test_sync_check_detects_hand_edited_stubs(course_copy):
    assert invoke(course_copy, "sync", "--check").exit_code == 0
    stub = course_copy / "exercises" / "rnn.py"
    stub.write_text(stub.read_text() + "\n# edited by hand\n")
    run = CliRunner().invoke(main, ["--course", str(course_copy), "sync", "--check"])
    assert run.exit_code != 0 and "exercises/rnn.py" in run.output
    assert invoke(course_copy, "sync").exit_code == 0
    assert invoke(course_copy, "sync", "--check").exit_code == 0


def test_grade_writes_gradescope_results_and_a_csv(tmp_path, course):
    sub = make_submission(tmp_path / "carol")
    out = tmp_path / "out"
    run = invoke(ROOT, "grade", str(sub), "--out", str(out), "--only", "rnn.clip_grad_norm")
    assert run.exit_code == 0, run.output
    result = json.loads((out / "carol" / "results.json").read_text())
    assert set(result) >= {"score", "execution_time", "tests"}
    (test,) = result["tests"]
    assert test["name"] == "rnn.clip_grad_norm" and test["status"] == "passed"
    assert test["score"] == test["max_score"] == course.exercise("rnn.clip_grad_norm").points
    assert (out / "grades.csv").read_text().splitlines()[0] == "submission,rnn.clip_grad_norm,total"


def test_grade_refuses_an_unknown_pattern(tmp_path):
    run = CliRunner().invoke(main, ["--course", str(ROOT), "grade", str(tmp_path), "--out", str(tmp_path / "o"),
                                    "--only", "nothing.*"])
    assert run.exit_code != 0 and "no exercise matches" in run.output


def test_python_dash_m_grader_is_the_course_command():
    run = subprocess.run([sys.executable, "-m", "grader", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and "course grade" in run.stdout


@pytest.mark.parametrize("args, code, said", [(["--version"], 0, "0.1.0"), (["check", "nosuch"], 1, "nosuch"),
                                              (["check", "--no-such-option"], 2, "No such option")])
def test_the_command_exits_with_clicks_codes_and_says_everything(args, code, said):
    """The process skips the interpreter's teardown (grader.cli.run): its exit code and
    its last words must survive that."""
    run = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == code and said in run.stdout + run.stderr, (run.returncode, run.stdout, run.stderr)


def test_grade_help_teaches_the_gradebook():
    run = CliRunner().invoke(main, ["grade", "--help"])
    assert run.exit_code == 0
    text = " ".join(run.output.split())
    for needle in ("--force", "--only 'lstm.*'", "feedback.md", "feedback.html", "pass_rates.png",
                   "scores_histogram.png", "grades only what has no result yet", ".grading.json"):
        assert needle in text, needle
