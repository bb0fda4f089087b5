"""The learner's side: hints and instructions in Korean, the progress state, `course` alone."""

import json
import os
import tomllib

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.commands import CourseContext
from grader.course.i18n import exercise_text
from grader.course.manifest import load_manifest
from grader.learner.state import STATE_VERSION, LearnerState
from tests.support import ROOT, copy_course

COURSE = load_manifest(ROOT / "course.toml")
# the whole course as `course progress` counts it (a new module changes both)
TOTAL_POINTS = sum(ex.points for ex in COURSE.exercises)
EXERCISES = len(COURSE.exercises)
EN = tomllib.loads((ROOT / "i18n" / "en" / "messages.toml").read_text(encoding="utf-8"))
KO = tomllib.loads((ROOT / "i18n" / "ko" / "messages.toml").read_text(encoding="utf-8"))


@pytest.fixture
def course_copy(tmp_path):
    return copy_course(tmp_path / "course")


def run(root, *args, env=None):
    return CliRunner().invoke(main, ["--course", str(root), *args], env=env)


def flat(text):
    """Output with rich's line wrapping undone, to look for a sentence in it."""
    return " ".join(text.split())


def words(text, n=6):
    return " ".join(text.split()[:n])


def record(root, passed=(), failed=(), hints=None):
    state = LearnerState(root)
    for exercise_id in passed:
        state.record_check(exercise_id, True)
    for exercise_id in failed:
        state.record_check(exercise_id, False)
    state.hints_shown.update(hints or {})
    state.save()


# ---------------------------------------------------------------- Korean hints and instructions

def test_hint_in_korean_shows_the_korean_hint_and_the_next_level(course_copy):
    korean = exercise_text(COURSE, "rnn.rnn_forward", "ko").hints
    english = COURSE.exercise("rnn.rnn_forward").hints
    assert korean[0] != english[0]
    first = run(course_copy, "--lang", "ko", "hint", "rnn.rnn_forward")
    assert first.exit_code == 0, first.output
    assert words(korean[0]) in flat(first.output)
    assert words(english[0]) not in flat(first.output)
    assert "1단계" in first.output and "rnn.rnn_forward" in first.output
    second = run(course_copy, "hint", "rnn.rnn_forward", env={"COURSE_LANG": "ko"})
    assert words(korean[1]) in flat(second.output)
    assert json.loads((course_copy / ".course" / "state.json").read_text())["hints_shown"]["rnn.rnn_forward"] == 2


def test_hint_without_an_id_is_for_the_exercise_you_are_on(course_copy):
    record(course_copy, passed=["rnn.rnn_step_forward"])
    run_ = run(course_copy, "hint")
    assert run_.exit_code == 0, run_.output
    assert "rnn.rnn_step_backward" in run_.output
    assert words(COURSE.exercise("rnn.rnn_step_backward").hints[0]) in flat(run_.output)


def test_explain_prints_korean_instructions_of_an_exercise_and_a_module(course_copy):
    korean = exercise_text(COURSE, "attention.attention_context", "ko")
    run_ = run(course_copy, "--lang", "ko", "explain", "attention.attention_context")
    assert run_.exit_code == 0, run_.output
    assert korean.title in run_.output
    for line in korean.instructions.splitlines()[:5]:
        assert flat(line) in flat(run_.output)
    module = run(course_copy, "--lang", "ko", "explain", "rnn")
    assert module.exit_code == 0
    intro = tomllib.loads((ROOT / "i18n" / "ko" / "rnn.toml").read_text(encoding="utf-8"))["intro"]
    assert words(intro, 8) in flat(module.output)
    assert "rnn.clip_grad_norm" in module.output   # the module's exercises are listed


def test_explain_in_english_is_the_docstring_and_suggests_on_a_typo(course_copy):
    run_ = run(course_copy, "explain", "rnn.rnn_backward")
    assert words(exercise_text(COURSE, "rnn.rnn_backward", "en").instructions, 10) in flat(run_.output)
    typo = run(course_copy, "explain", "rnn.rnn_backwrd")
    assert typo.exit_code == 1 and "Did you mean rnn.rnn_backward" in flat(typo.output)


def test_check_speaks_korean_around_english_check_titles(course_copy):
    wrong = (ROOT / "solutions" / "rnn.py").read_text().replace("np.tanh(x @ Wx", "(x @ Wx")
    (course_copy / "exercises" / "rnn.py").write_text(wrong)     # written, and wrong: its checks are shown
    run_ = run(course_copy, "--lang", "ko", "check", "rnn.rnn_step_forward")
    assert run_.exit_code == 1
    assert "검사(check) 1/2개 통과" in run_.output        # the frame is Korean
    assert "a tiny example" in run_.output                 # the check's own title stays English
    assert "course hint rnn.rnn_step_forward" in flat(run_.output)
    assert "막혔다면" in run_.output


# ---------------------------------------------------------------- the state

def test_progress_is_found_from_any_folder_of_the_course_by_a_new_context(course_copy, monkeypatch):
    record(course_copy, passed=["rnn.rnn_step_forward", "rnn.rnn_step_backward"], hints={"rnn.rnn_forward": 2})
    (course_copy / "notes" / "deep").mkdir(parents=True)
    for folder in (course_copy / "exercises", course_copy / "notes" / "deep"):
        monkeypatch.chdir(folder)
        context = CourseContext(None)           # what a fresh `course` process makes
        assert context.course.root == course_copy
        assert set(context.state.passed) == {"rnn.rnn_step_forward", "rnn.rnn_step_backward"}
        out = CliRunner().invoke(main, ["progress"]).output   # no --course: found from here
        assert "2/6" in out and "5/16" in out
        assert f"5 of {TOTAL_POINTS:g} points, 2 of {EXERCISES} exercises, 2 hints used" in flat(out)
        assert "Next: rnn.rnn_forward" in flat(out)
    monkeypatch.chdir(course_copy / "exercises")
    out = flat(CliRunner().invoke(main, []).output)
    assert "rnn.py" in out and "exercises/rnn.py" not in out      # paths as typed from here


def test_the_state_file_has_a_version_and_an_old_file_is_migrated(course_copy):
    path = course_copy / ".course" / "state.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"passed": {"rnn.rnn_step_forward": 1.0}, "hints_shown": {"rnn.rnn_forward": 1},
                                "failed": {}}))
    state = LearnerState(course_copy)
    assert set(state.passed) == {"rnn.rnn_step_forward"} and state.hints_shown == {"rnn.rnn_forward": 1}
    state.save()
    saved = json.loads(path.read_text())
    assert saved["version"] == STATE_VERSION
    assert saved["passed"] == {"rnn.rnn_step_forward": 1.0}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"passed": ["rnn.rnn_step_forward"]}', "\udcff"])
def test_an_unreadable_state_file_is_kept_aside_with_a_warning(course_copy, content):
    path = course_copy / ".course" / "state.json"
    path.parent.mkdir()
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    run_ = run(course_copy, "progress")
    assert run_.exit_code == 0, run_.output
    kept = list(path.parent.glob("state.json.bad-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content.encode("utf-8", "surrogateescape")
    assert "warning" in run_.stderr and kept[0].name in flat(run_.stderr)
    assert f"0 of {TOTAL_POINTS:g} points" in flat(run_.stdout)
    # and the learner goes on from a fresh file
    assert run(course_copy, "hint", "rnn.rnn_forward").exit_code == 0
    assert json.loads(path.read_text())["version"] == STATE_VERSION
    assert "warning" not in run(course_copy, "progress").stderr


def test_a_state_file_from_a_newer_grader_is_left_alone(course_copy):
    path = course_copy / ".course" / "state.json"
    path.parent.mkdir()
    newer = json.dumps({"version": STATE_VERSION + 1, "passed": {"rnn.rnn_step_forward": 1.0}})
    path.write_text(newer)
    run_ = run(course_copy, "progress")
    assert run_.exit_code == 1 and "newer version of the grader" in run_.output
    assert path.read_text() == newer and not list(path.parent.glob("state.json.bad-*"))


def test_the_state_lives_beside_course_toml_not_in_the_package(course_copy):
    assert LearnerState(course_copy).path == course_copy / ".course" / "state.json"
    record(course_copy, passed=["rnn.rnn_step_forward"])
    # a reinstall replaces the package; the course folder, and so the state, stays
    assert set(LearnerState(course_copy).passed) == {"rnn.rnn_step_forward"}


# ---------------------------------------------------------------- `course` alone

def test_course_alone_greets_once_then_says_where_you_are(course_copy):
    first = run(course_copy)
    assert first.exit_code == 0, first.output
    assert "Welcome!" in first.output
    assert "rnn.rnn_step_forward" in first.output and "One step of a vanilla RNN" in first.output
    for command in ("course explain rnn.rnn_step_forward", "exercises/rnn.py", "course check rnn.rnn_step_forward",
                    "course hint rnn.rnn_step_forward", "course watch"):
        assert command in flat(first.output), command
    assert f"0/{EXERCISES} exercises" in first.output
    second = run(course_copy)
    assert "Welcome!" not in second.output and "rnn.rnn_step_forward" in second.output


def test_course_alone_follows_progress_in_either_language(course_copy):
    rnn = [ex.id for ex in COURSE.module("rnn").exercises]
    record(course_copy, passed=rnn, failed=["lstm.lstm_step_forward"])
    out = flat(run(course_copy).output)
    assert f"6/{EXERCISES} exercises" in out and "lstm" in out and "(0/4)" in out
    assert "lstm.lstm_step_forward" in out and "its last check failed" in out
    korean = flat(run(course_copy, "--lang", "ko").output)
    assert exercise_text(COURSE, "lstm.lstm_step_forward", "ko").title in korean
    assert "마지막 검사에서 실패" in korean and "할 일" in korean


def test_course_alone_at_the_capstone_and_at_the_end(course_copy):
    everything = [ex.id for ex in COURSE.exercises]
    record(course_copy, passed=everything[:-1])
    out = flat(run(course_copy).output)
    assert "capstone.reverse_digits" in out and "course capstone" in out and "exercises/capstone.py" not in out
    record(course_copy, passed=everything[-1:])
    assert "Every exercise passes" in flat(run(course_copy).output)


def test_course_help_is_still_help_and_touches_nothing(course_copy):
    run_ = run(course_copy, "--help")
    assert run_.exit_code == 0 and "Usage:" in run_.output and "course watch" in run_.output
    assert "Welcome" not in run_.output
    assert not (course_copy / ".course").exists()


def test_list_marks_done_and_failing_in_korean(course_copy):
    record(course_copy, passed=["rnn.rnn_step_forward"], failed=["rnn.rnn_step_backward"])
    out = run(course_copy, "--lang", "ko", "list").output
    assert KO["status_done"] in out and KO["status_failing"] in out
    assert exercise_text(COURSE, "rnn.rnn_step_backward", "ko").title in out
    assert os.path.exists(course_copy / ".course" / "state.json")


def test_hints_print_their_pseudo_code_as_written(course_copy):
    """Hints are plain text: Markdown would turn f*prev_c + i*g into italics."""
    out = flat(run(course_copy, "hint", "lstm.lstm_step_forward", "--level", "3").output)
    assert "f*prev_c + i*g" in out


def test_hint_for_a_module_is_the_hint_of_its_first_exercise_not_passed(course_copy):
    out = flat(run(course_copy, "hint", "lstm").output)
    assert "lstm.lstm_step_forward" in out and "hint 1 of 3" in out
