import copy
import tomllib

import pytest

from grader.course.i18n import exercise_text
from grader.course.manifest import ManifestError, load_manifest, parse_manifest
from grader.course.source import find_regions
from grader.engine.grading import Suites
from tests.support import ROOT

COURSE = load_manifest(ROOT / "course.toml")
RAW = tomllib.loads((ROOT / "course.toml").read_text())


def broken(edit):
    data = copy.deepcopy(RAW)
    edit(data)
    return data


@pytest.mark.parametrize("edit, names", [
    (lambda d: d["course"].pop("title"), "course.title: missing"),
    (lambda d: d["course"].update(colour="red"), "course.colour: unknown key"),
    (lambda d: d["modules"][0].update(framework="jax"), "modules[0].framework"),
    (lambda d: d["modules"][0]["exercises"][1].update(points=0), "modules[0].exercises[1].points"),
    (lambda d: d["modules"][0]["exercises"][1].update(points="3"), "modules[0].exercises[1].points: must be"),
    (lambda d: d["modules"][0]["exercises"][0].update(hints=["only one"]), "modules[0].exercises[0].hints"),
    (lambda d: d["modules"][0]["exercises"][0].update(hint=["typo"]), "modules[0].exercises[0].hint: unknown key"),
    (lambda d: d["modules"][0]["exercises"][0].update(builds_on=["rnn.rnn_backward"]),
     "modules[0].exercises[0].builds_on[0]"),
    (lambda d: d["modules"][1]["exercises"].append(dict(d["modules"][1]["exercises"][0])), "listed twice"),
    (lambda d: d["modules"][-1].pop("assembles"), "a capstone names the modules it assembles"),
    (lambda d: d["modules"][-1].pop("try_with"), "a capstone names the modules it assembles"),
    (lambda d: d["modules"][-1].update(assembles=["masking", "nonesuch"]), "assembles[1]: 'nonesuch' is not a module"),
    (lambda d: d["modules"][0].update(assembles=["lstm"]), "modules[0]: only a capstone assembles"),
])
def test_schema_errors_name_the_bad_key(edit, names):
    with pytest.raises(ManifestError) as err:
        parse_manifest(broken(edit))
    assert names in str(err.value)


def test_a_capstone_needs_the_modules_it_assembles_and_no_others():
    for module in COURSE.modules:
        if module.is_capstone:
            assert COURSE.modules_needed(module.exercises) == list(module.assembles)
    assert COURSE.modules_needed([COURSE.exercise("rnn.rnn_forward")]) == ["rnn"]


def test_a_missing_manifest_says_so(tmp_path):
    with pytest.raises(ManifestError, match="no manifest"):
        load_manifest(tmp_path / "course.toml")


def test_manifest_solutions_exercises_and_suites_name_the_same_exercises():
    declared = {ex.id for ex in COURSE.exercises if not ex.is_capstone}  # a capstone has no file
    for folder in ("solutions", "exercises"):
        in_files = set()
        for module in COURSE.module_names:
            path = ROOT / folder / f"{module}.py"
            assert path.exists(), f"{folder}/{module}.py is missing"
            if folder == "solutions":
                in_files |= {f"{module}.{r.exercise}" for r in find_regions(path.read_text())}
            else:
                in_files |= {f"{module}.{ex.name}" for ex in COURSE.module(module).exercises
                             if f"def {ex.name}(" in path.read_text() or f"class {ex.name}" in path.read_text()}
        assert in_files == declared, folder
    for kind in ("hidden", "visible"):
        assert Suites(ROOT / "suites" / kind).exercise_ids() == {ex.id for ex in COURSE.exercises}, kind


def test_every_check_has_a_title_and_hidden_suites_have_several_checks_per_exercise():
    suites = Suites(ROOT / "suites" / "hidden")
    for ex in COURSE.exercises:
        checks = suites.checks_for(ex.id)
        assert len(checks) >= 3, ex.id
        assert all(fn.__doc__ and fn.__doc__.strip() for fn in checks), ex.id


def test_hints_grow_more_specific():
    for ex in COURSE.exercises:
        assert len(ex.hints) >= 2 and all("TODO" not in h for h in ex.hints), ex.id
        assert len(ex.hints[-1]) > len(ex.hints[0]), f"{ex.id}: the last hint should say more than the first"


def test_hints_never_give_away_a_line_of_the_solution():
    for module in (COURSE.module(name) for name in COURSE.module_names):
        source = (ROOT / "solutions" / f"{module.name}.py").read_text()
        lines = source.splitlines()
        for region in find_regions(source):
            code = {line.split("#")[0].strip() for line in lines[region.begin + 1:region.end]}
            code = {line for line in code if len(line) >= 20}
            exercise = COURSE.exercise(f"{module.name}.{region.exercise}")
            # Korean hints live in i18n/ko/<module>.toml; they must not give the answer away either
            for hint in exercise.hints + exercise_text(COURSE, exercise.id, "ko").hints:
                leaked = [line for line in code if line in hint]
                assert not leaked, f"{exercise.id}: a hint quotes the solution: {leaked[0]!r}"


def test_builds_on_is_closed_transitively_in_course_order():
    order = [ex.id for ex in COURSE.exercises]
    for ex in COURSE.exercises:
        for dep in COURSE.builds_on_all(ex.id):
            assert order.index(dep) < order.index(ex.id)
