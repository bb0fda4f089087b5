"""The CLI a person expects: options where people put them, "did you mean" and bare names
for every id, several ids at once, a list that fits 80 columns, plurals, a clear message
outside a course, and a `course grade` that says what Ctrl-C kept."""

import subprocess
import sys
import tomllib

import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from grader.checks import CheckOutcome
from grader.cli import all_commands, main
import grader.commands
import grader.commands.grade as grade_command
from grader.commands import CourseContext, select_targets
from grader.course import i18n
from grader.course.i18n import Count, counted
from grader.course.manifest import load_manifest
from grader.engine.grading import ExerciseResult
from grader.instructor.release import left_out_commands
from grader.learner import warm
from grader.learner.state import LearnerState
from tests.support import ROOT, copy_course

COURSE = load_manifest(ROOT / "course.toml")
EN = tomllib.loads((ROOT / "i18n" / "en" / "messages.toml").read_text(encoding="utf-8"))
KO = tomllib.loads((ROOT / "i18n" / "ko" / "messages.toml").read_text(encoding="utf-8"))


@pytest.fixture
def course_copy(tmp_path):
    return copy_course(tmp_path / "course", ("exercises", "i18n"))


def run(root, *args, env=None):
    return CliRunner().invoke(main, ["--course", str(root), *args], env=env)


def flat(text):
    return " ".join(text.split())


def record(root, passed=()):
    state = LearnerState(root)
    for exercise_id in passed:
        state.record_check(exercise_id, True)
    state.save()


@pytest.fixture
def fake_checks(monkeypatch):
    """`course check` without worker processes: every exercise passes; the ids checked,
    in order, are in the returned list."""
    checked = []

    class Context:
        @classmethod
        def for_course(cls, course, kind="hidden", **kwargs):
            return cls()

        def close(self):
            pass

        def __getattr__(self, name):        # whatever else the command asks of it (warming up): nothing
            return lambda *args, **kwargs: None

    def grade_in_order(ctx, exercise, folder, verdicts):
        checked.append(exercise.id)
        return ExerciseResult(exercise.id, exercise.title, exercise.points, exercise.points,
                              [CheckOutcome("works", 1.0, True)])

    monkeypatch.setattr(warm, "GradingContext", Context)
    monkeypatch.setattr(warm, "grade_in_order", grade_in_order)
    return checked


# ---------------------------------------------------------------- the commands and the CLI

COMMAND_MODULES = sorted(p.stem for p in (ROOT / "grader" / "commands").glob("*.py") if p.name != "__init__.py")


def test_a_mistyped_command_is_told_the_closest_ones():
    result = CliRunner().invoke(main, ["--course", str(ROOT), "lis"])
    assert result.exit_code == 2 and "Did you mean 'list'?" in result.output, result.output


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_a_command_module_imported_first_still_registers_every_command(module):
    """Command modules never import the CLI nor each other, so importing one first (a
    test, a plug-in, `python -m grader.commands.X`) cannot start a circular import."""
    code = (f"import grader.commands.{module}\n"
            "from grader.cli import all_commands\n"
            "print(' '.join(sorted(all_commands())))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.stdout.split()) == set(all_commands())


# ---------------------------------------------------------------- --lang after the command

def test_every_learners_command_takes_lang_after_its_name():
    commands = all_commands()
    learners = [name for name in commands if name not in left_out_commands()]
    assert {"check", "hint", "explain", "list", "progress", "watch", "show", "notebook", "capstone"} <= set(learners)
    for name in learners:
        assert "lang" in [p.name for p in commands[name].params], name
    # the instructors' commands speak English and get none
    assert "lang" not in [p.name for p in commands["grade"].params]


def test_lang_after_the_command_works_as_before_it(course_copy):
    hint = run(course_copy, "hint", "rnn.rnn_forward", "--lang", "ko")
    assert hint.exit_code == 0, hint.output
    assert "1단계" in hint.output and "No such option" not in hint.output
    for args, korean in ((("list",), KO["col_exercise"]), (("progress",), KO["col_module"]),
                         (("explain", "rnn.rnn_forward"), "rnn_forward")):
        result = run(course_copy, *args, "--lang", "KO")
        assert result.exit_code == 0, result.output
        assert korean in result.output
    explain = run(course_copy, "explain", "rnn.rnn_forward", "--lang", "ko")
    assert explain.output == run(course_copy, "--lang", "ko", "explain", "rnn.rnn_forward").output
    # it wins over the environment, as `course --lang` does
    typo = run(course_copy, "check", "rnn.nothing", "--lang", "ko", env={"COURSE_LANG": "en"})
    assert typo.exit_code == 1 and "연습 문제나 모듈" in typo.output


def test_watch_takes_lang_after_its_name(course_copy):
    record(course_copy, passed=[ex.id for ex in COURSE.exercises])
    result = run(course_copy, "watch", "--lang", "ko")
    assert result.exit_code == 0, result.output
    assert flat(KO["course_done_plain"]) in flat(result.output)


# ---------------------------------------------------------------- did you mean, bare names

def test_every_command_taking_an_id_suggests_on_a_typo(course_copy):
    for command in ("check", "hint", "explain", "watch"):
        result = run(course_copy, command, "rnn.rnn_step_foward")
        assert result.exit_code == 1, command
        assert "Did you mean rnn.rnn_step_forward" in flat(result.output), (command, result.output)


def test_a_typo_in_a_bare_name_is_suggested_too(course_copy):
    result = run(course_copy, "check", "rnn_step_foward")
    assert result.exit_code == 1 and "Did you mean rnn.rnn_step_forward" in flat(result.output)


def test_bare_names_are_resolved(course_copy, fake_checks):
    explain = run(course_copy, "explain", "rnn_step_forward")
    assert explain.exit_code == 0 and "rnn.rnn_step_forward" in explain.output
    hint = run(course_copy, "hint", "rnn_step_forward")
    assert hint.exit_code == 0 and "rnn.rnn_step_forward: hint 1 of" in hint.output
    check = run(course_copy, "check", "rnn_step_forward")
    assert check.exit_code == 0, check.output
    assert fake_checks == ["rnn.rnn_step_forward"]


def test_one_resolver_for_ids_modules_bare_names_and_globs(course_copy):
    cc = CourseContext(course_copy)
    ids = lambda *texts: [ex.id for ex in select_targets(cc, texts)]   # noqa: E731
    assert ids("rnn_backward", "rnn.rnn_forward") == ["rnn.rnn_forward", "rnn.rnn_backward"]   # course order
    assert ids("masking") == [ex.id for ex in COURSE.module("masking").exercises]
    assert ids("lstm.*_backward,rnn_step_forward") == ["rnn.rnn_step_forward", "lstm.lstm_step_backward",
                                                      "lstm.lstm_backward"]
    assert ids() == [ex.id for ex in COURSE.exercises]
    assert COURSE.lookup("rnn_forward").id == "rnn.rnn_forward"
    assert COURSE.close_matches("multihead.MultiHeadAttn")[0] == "multihead.MultiHeadAttention"


# ---------------------------------------------------------------- several ids at once

def test_check_takes_several_ids(course_copy, fake_checks):
    result = run(course_copy, "check", "rnn.rnn_backward", "rnn_step_forward")
    assert result.exit_code == 0, result.output
    assert fake_checks == ["rnn.rnn_step_forward", "rnn.rnn_backward"]
    # one unknown id: nothing runs, and the error suggests
    fake_checks.clear()
    bad = run(course_copy, "check", "rnn.rnn_backward", "rnn.rnn_bakward")
    assert bad.exit_code == 1 and fake_checks == [] and "Did you mean rnn.rnn_backward" in flat(bad.output)


def test_hint_and_explain_take_several_ids(course_copy):
    hint = run(course_copy, "hint", "rnn.rnn_forward", "lstm_forward", "rnn_forward")    # the same one once
    assert hint.exit_code == 0, hint.output
    assert "rnn.rnn_forward: hint 1 of" in hint.output and "lstm.lstm_forward: hint 1 of" in hint.output
    assert "rnn.rnn_forward: hint 2 of" not in hint.output
    assert LearnerState(course_copy).hints_shown == {"rnn.rnn_forward": 1, "lstm.lstm_forward": 1}
    explain = run(course_copy, "explain", "rnn.rnn_forward", "rnn.rnn_backward")
    assert explain.exit_code == 0
    assert "rnn.rnn_forward:" in explain.output and "rnn.rnn_backward:" in explain.output


# ---------------------------------------------------------------- hint on a finished module

def test_hint_on_a_finished_module_says_it_is_done_and_what_is_next(course_copy):
    record(course_copy, passed=[ex.id for ex in COURSE.module("rnn").exercises])
    result = run(course_copy, "hint", "rnn")
    assert result.exit_code == 0, result.output
    assert "Every exercise of rnn passes" in flat(result.output)
    assert "lstm.lstm_step_forward" in result.output and "hint 3 of" not in result.output
    assert LearnerState(course_copy).hints_shown == {}
    korean = run(course_copy, "hint", "rnn", "--lang", "ko")
    assert "rnn 모듈의 연습 문제를 모두 통과" in flat(korean.output)
    record(course_copy, passed=[ex.id for ex in COURSE.exercises])
    done = run(course_copy, "hint", "rnn")
    assert done.exit_code == 0 and "rest of the course" in flat(done.output)


def test_hint_on_a_module_gives_its_first_unpassed_exercise_or_says_it_is_done(course_copy):
    record(course_copy, passed=["rnn.rnn_step_forward", *(ex.id for ex in COURSE.module("lstm").exercises)])
    result = run(course_copy, "hint", "rnn", "lstm")
    assert result.exit_code == 0
    assert "rnn.rnn_step_backward: hint 1 of" in result.output and "Every exercise of lstm passes" in flat(result.output)


# ---------------------------------------------------------------- course list at 80 columns

@pytest.mark.parametrize("lang", ["en", "ko"])
def test_list_fits_80_columns_and_never_cuts_an_id(course_copy, lang):
    record(course_copy, passed=["rnn.rnn_step_forward"])
    result = run(course_copy, "list", "--lang", lang, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(cell_len(line.rstrip()) for line in lines) <= 80
    for ex in COURSE.exercises:
        (row,) = [line for line in lines if line.split()[:1] == [ex.id]]
        assert f" {ex.points:g} " in row + " "
    assert "…" in result.output                 # long titles are cut instead
    done = "✓ 완료" if lang == "ko" else "✓ done"
    assert done in next(line for line in lines if line.startswith("rnn.rnn_step_forward "))
    # with room enough, whole titles
    wide = run(course_copy, "list", "--lang", lang, env={"COLUMNS": "200"})
    assert "…" not in wide.output and max(cell_len(line.rstrip()) for line in wide.output.splitlines()) > 80


# ---------------------------------------------------------------- plurals

def test_numbers_choose_their_words():
    assert counted(1, "submission") == "1 submission"
    assert counted(2, "submission") == "2 submissions"
    assert counted(1.0, "point") == "1 point" and counted(2.5, "point") == "2.5 points"
    assert f"{Count(3.0)} {Count(3.0):point|points}" == "3 points"
    assert f"{Count(0.5):g}" == "0.5"


def test_explain_and_progress_say_1_point_and_1_hint(course_copy):
    one = next(ex for ex in COURSE.exercises if ex.points == 1)
    explain = run(course_copy, "explain", one.id)
    assert "(1 point)" in explain.output and "1 points" not in explain.output
    assert "(2 points)" in run(course_copy, "explain", "rnn.rnn_step_forward").output
    assert "1점" in run(course_copy, "explain", one.id, "--lang", "ko").output
    record(course_copy, passed=[one.id])
    run(course_copy, "hint", "rnn.rnn_forward")
    progress = flat(run(course_copy, "progress").output)
    assert f"1 of {COURSE.total_points:g} points" in progress
    assert f"1 of {len(COURSE.exercises)} exercises" in progress and "1 hint used" in progress


def test_grade_says_1_submission(tmp_path, monkeypatch):
    from grader.instructor.submission import SubmissionResult

    def grade_class(course, submissions, exercises, book, jobs, time_limit, on_exercise):
        return [SubmissionResult("ann", [], [])]

    monkeypatch.setattr(grade_command, "grade_class", grade_class)
    (tmp_path / "ann").mkdir()
    result = CliRunner().invoke(main, ["--course", str(ROOT), "grade", str(tmp_path / "ann"),
                                       "--out", str(tmp_path / "out"), "--only", "rnn.clip_grad_norm"])
    assert "1 submission graded" in result.output and "1 submissions" not in result.output


def test_feedback_of_one_exercise_says_1_exercise():
    from grader.instructor.feedback import submission_html, submission_markdown

    one = [ExerciseResult("rnn.clip_grad_norm", "clip", 1.0, 1.0, [CheckOutcome("works", 1.0, True)])]
    assert "1 of 1 exercise passed" in submission_markdown("ann", one, [])
    assert "1 of 1 exercise passed" in submission_html("ann", one, [])


# ---------------------------------------------------------------- Ctrl-C in course grade

def test_ctrl_c_in_grade_says_what_is_saved_and_how_to_resume(tmp_path, monkeypatch):
    def grade_class(course, submissions, exercises, book, jobs, time_limit, on_exercise):
        on_exercise()
        on_exercise()
        raise KeyboardInterrupt

    monkeypatch.setattr(grade_command, "grade_class", grade_class)
    for name in ("ann", "bo b"):
        (tmp_path / name).mkdir()
    out = tmp_path / "out"
    args = ["--course", str(ROOT), "grade", str(tmp_path / "ann"), str(tmp_path / "bo b"), "--out", str(out),
            "--only", "rnn.*", "--jobs", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 130
    text = flat(result.output)
    assert "Aborted!" not in text and "Interrupted" in text
    rnn = len(COURSE.module("rnn").exercises)
    assert f"2 of {2 * rnn} exercise results of this run are saved in {out}" in text
    assert (f"course --course {ROOT} grade {tmp_path / 'ann'} '{tmp_path / 'bo b'}' --out {out} --jobs 2 "
            f"--only 'rnn.*'") in text


# ---------------------------------------------------------------- outside a course

def test_outside_a_course_a_bare_install_says_how_to_find_one(tmp_path, monkeypatch):
    """A non-editable install: grader/ alone in site-packages, no course.toml nor i18n/
    beside it, and no course above the working folder."""
    monkeypatch.setattr(grader.commands, "PACKAGE_ROOT", tmp_path)
    monkeypatch.setattr(i18n, "PACKAGE_ROOT", tmp_path)
    monkeypatch.setattr(i18n, "_course_roots", [])
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COURSE_ROOT", raising=False)
    for args in ([], ["list"], ["hint", "rnn"], ["--lang", "ko", "progress"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, (args, result.output)
        assert isinstance(result.exception, SystemExit), (args, result.exception)
        assert "Traceback" not in result.output
        assert "--course" in result.output and "COURSE_ROOT" in result.output and "cd" in result.output


def test_outside_a_course_with_messages_it_says_the_same_in_the_learners_language(tmp_path, monkeypatch):
    monkeypatch.setattr(grader.commands, "PACKAGE_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COURSE_ROOT", raising=False)
    assert grader.commands.NO_COURSE == EN["no_course"]
    result = CliRunner().invoke(main, ["list", "--lang", "ko"])
    assert result.exit_code == 1 and "COURSE_ROOT" in result.output and "코스" in result.output


# ---------------------------------------------------------------- every --help at 80 columns

@pytest.mark.parametrize("command", [[], ["dev", "check"]] + [[name] for name in sorted(all_commands())],
                         ids=lambda command: " ".join(command) or "course")
def test_every_help_fits_80_columns(command):
    result = CliRunner().invoke(main, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    wide = [line for line in result.output.splitlines() if len(line) > 80]
    assert not wide, wide
