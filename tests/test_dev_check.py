"""`course dev check`: the real course holds every rule, and each broken rule is named
with the file to edit and what to add there.

Each test breaks one rule in a private copy of the course and expects that rule, and
only that one, to fail.
"""

from __future__ import annotations

import importlib
import re

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.instructor.devcheck import RULES, read_variants
from grader.instructor.release import left_out_commands, student_cli
from tests.support import ROOT, copy_course

FOLDERS = ("solutions", "exercises", "suites", "i18n", "tests/variants", "docs")


@pytest.fixture
def course_copy(tmp_path):
    return copy_course(tmp_path / "course", FOLDERS)


def dev_check(root):
    return CliRunner().invoke(main, ["--course", str(root), "dev", "check"])


def failed_rules(output: str) -> list[str]:
    return [rule.name for rule in RULES if re.search(rf"^✗ {rule.name} +\d+ problems?", output, re.MULTILINE)]


def edit(path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} no longer has {old!r}: update this test"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def append(path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as file:
        file.write(text)


def flat(output: str) -> str:
    """The output with its wrapping undone, so a message can be matched whole."""
    return re.sub(r"\s+", " ", output)


def said_when_only(rule: str, root) -> str:
    """The dev check's output (unwrapped) on a course that breaks ``rule`` and no other."""
    run = dev_check(root)
    assert run.exit_code == 1, run.output
    assert failed_rules(run.output) == [rule], run.output
    return flat(run.output)


# ---------------------------------------------------------------- the real course

def test_the_course_holds_every_rule_and_the_summary_fits_80_columns():
    run = dev_check(ROOT)
    assert run.exit_code == 0, run.output
    assert failed_rules(run.output) == []
    assert sum(line.startswith("✓") for line in run.output.splitlines()) == len(RULES)
    assert max(len(line.rstrip()) for line in run.output.splitlines()) <= 80


def test_the_static_read_of_the_variants_agrees_with_importing_them():
    """tests/test_variants.py imports these files; the dev check must count the same."""
    for path in sorted((ROOT / "tests" / "variants").glob("*.py")):
        if path.name == "__init__.py":
            continue
        imported = importlib.import_module(f"tests.variants.{path.stem}")
        assert read_variants(path) == {kind: {exercise_id: set(named) for exercise_id, named in
                                              getattr(imported, kind).items()}
                                       for kind in ("WRONG", "RIGHT")}, path.name


def test_dev_is_left_out_of_the_student_bundle():
    assert "dev" in left_out_commands()
    shipped_help = student_cli((ROOT / "grader" / "cli.py").read_text(encoding="utf-8"), left_out_commands())
    assert "course dev" not in shipped_help and "course check" in shipped_help


# ---------------------------------------------------------------- one broken rule at a time

def test_an_exercise_without_a_visible_check(course_copy):
    # no longer a check: the decorator is not `check`
    edit(course_copy / "suites" / "visible" / "test_masking.py", '@check("masking.causal_mask"',
         '@_not_a_check("masking.causal_mask"', count=-1)
    said = said_when_only("visible checks", course_copy)
    assert "suites/visible/test_masking.py" in said
    assert 'add 1 more visible check(s) for masking.causal_mask' in said
    assert '@check("masking.causal_mask")' in said


def test_an_exercise_without_a_right_variant(course_copy):
    append(course_copy / "tests" / "variants" / "masking.py", '\nRIGHT["masking.causal_mask"] = {}\n')
    said = said_when_only("variants", course_copy)
    assert "tests/variants/masking.py" in said
    assert "add 1 more RIGHT variant(s) of masking.causal_mask" in said
    assert 'RIGHT["masking.causal_mask"]["a_name"]' in said


def test_a_korean_hint_level_dropped(course_copy):
    path = course_copy / "i18n" / "ko" / "rnn.toml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    table = lines.index("[exercises.rnn_forward]\n")
    closing = lines.index("]\n", table)            # the end of its hints array
    del lines[closing - 1]                          # the last hint level
    path.write_text("".join(lines), encoding="utf-8")
    said = said_when_only("translations", course_copy)
    assert "i18n/ko/rnn.toml" in said
    assert "give [exercises.rnn_forward] hints 3 non-empty Korean levels" in said
    assert "rnn.rnn_forward in course.toml (it has 2)" in said


def test_a_stub_edited_by_hand(course_copy):
    edit(course_copy / "exercises" / "rnn.py", "Run the RNN", "Run our RNN")
    said = said_when_only("generated", course_copy)
    assert "exercises/rnn.py" in said
    assert "edit solutions/ (never the generated file), then run `course sync`" in said


def test_a_module_without_its_reference(course_copy):
    (course_copy / "solutions" / "rnn.py").unlink()
    run = dev_check(course_copy)
    assert run.exit_code == 1 and "solutions" in failed_rules(run.output)   # and its stub has no source
    assert "solutions/rnn.py add the reference module 'rnn'" in flat(run.output)


def test_a_malformed_solution_region(course_copy):
    edit(course_copy / "solutions" / "masking.py", "# BEGIN SOLUTION", "# BEGIN SOLUTON")
    said = said_when_only("generated", course_copy)
    assert "solutions/masking.py:" in said and "END SOLUTION without BEGIN SOLUTION" in said


def test_a_hidden_check_without_a_title(course_copy):
    edit(course_copy / "suites" / "hidden" / "test_masking.py",
         '    """fixed values for size 1, 3 and 5: True on and below the diagonal"""\n', "")
    said = said_when_only("hidden checks", course_copy)
    assert "suites/hidden/test_masking.py" in said
    assert "give the check test_causal_fixed_values a docstring: the title the learner sees" in said


def test_a_last_hint_no_more_specific_than_the_first(course_copy):
    path = course_copy / "course.toml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    last = next(i for i, line in enumerate(lines) if line.startswith('    "Pseudo-code: a <- (x matrix-times Wx)'))
    lines[last] = '    "Think.",\n'                # the last hint of rnn.rnn_step_forward
    path.write_text("".join(lines), encoding="utf-8")
    run = dev_check(course_copy)
    assert run.exit_code == 1 and "hints" in failed_rules(run.output)   # its translation is stale too
    said = flat(run.output)
    assert "course.toml make the last hint of rnn.rnn_step_forward say more than its first" in said


def test_a_check_of_an_exercise_that_does_not_exist(course_copy):
    append(course_copy / "suites" / "hidden" / "test_masking.py",
           '\n\n@check("masking.causal_maks")\ndef test_typo(student, ref, rng):\n    """a typo"""\n')
    said = said_when_only("names", course_copy)
    assert "suites/hidden/test_masking.py" in said
    assert "test_typo checks 'masking.causal_maks', which course.toml does not have" in said


def test_english_changed_since_its_translation(course_copy):
    edit(course_copy / "course.toml", "One step is an affine map of the input", "One step is an affine map of inputs")
    said = said_when_only("translations fresh", course_copy)
    assert "i18n/ko/rnn.toml" in said and "rnn_step_forward changed since it was translated" in said
    assert "python -m grader.course.translations stamp ko rnn" in said


def test_a_manifest_that_does_not_load(course_copy):
    edit(course_copy / "course.toml", "points = 2", "points = 0")
    assert "points: must be a positive number" in said_when_only("manifest", course_copy)
