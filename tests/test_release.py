"""`course release`: the student bundle holds what learners need and no secret, and it
installs and works in a fresh virtual environment."""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.course.manifest import load_manifest
from grader.course.source import find_regions
from grader.instructor.release import (INSTRUCTOR_ONLY, PUBLIC_IDIOMS, ReleaseError, build_release, find_leaks, hidden_check_names,
                            secret_lines)
from tests.support import ROOT, SOLUTIONS, copy_course, write_toy_course

pytestmark = pytest.mark.slow  # builds the bundle and installs it in a fresh virtual environment


@pytest.fixture(scope="module")
def bundle(course, tmp_path_factory):
    return build_release(course, tmp_path_factory.mktemp("release") / "student")


def _region_lines(min_length: int = 12) -> dict[str, str]:
    """Every region line of every solution file at least ``min_length`` long, stripped,
    read here independently of grader.instructor.release, except lines the stubs show anyway."""
    found, public = {}, set()
    for path in sorted(SOLUTIONS.glob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        inside = set()
        for region in find_regions("\n".join(lines)):
            inside.update(range(region.begin + 1, region.end))
        for index, line in enumerate(lines):
            if index in inside:
                found.setdefault(line.strip(), path.name)
            else:
                public.add(line.strip())
    return {line: where for line, where in found.items()
            if len(line) >= min_length and line not in public and line not in PUBLIC_IDIOMS}


def _bundle_texts(bundle: Path) -> dict[str, str]:
    texts = {}
    for path in bundle.rglob("*"):
        if path.is_file() and path.suffix != ".png":
            texts[str(path.relative_to(bundle))] = path.read_text(encoding="utf-8")
    return texts


def test_no_line_of_any_solution_region_is_in_the_bundle(bundle):
    secrets = _region_lines()
    assert len(secrets) > 200          # the scan has something to look for
    # whole lines: the instructions and hints may quote a fragment ("make self.dropout = ...")
    leaked = [(line, secrets[line], name) for name, text in _bundle_texts(bundle).items()
              for line in {raw.strip() for raw in text.splitlines()} if line in secrets]
    assert not leaked, leaked[:5]


def test_no_hidden_check_name_is_in_the_bundle(bundle, course):
    names = hidden_check_names(course)
    assert len(names) > 300
    texts = _bundle_texts(bundle)
    leaked = [(name, file) for file, text in texts.items() for name in names if name in text]
    assert not leaked, leaked[:5]


def test_the_bundle_has_no_reference_and_no_hidden_suite(bundle):
    assert not (bundle / "solutions").exists()
    assert not (bundle / "suites" / "hidden").exists()
    references = {p.read_text(encoding="utf-8") for p in SOLUTIONS.glob("*.py")}
    assert not any(p.read_text(encoding="utf-8") in references for p in bundle.rglob("*.py"))


def test_the_bundle_follows_the_manifest(bundle, course):
    released = load_manifest(bundle / "course.toml")
    assert [ex.id for ex in released.exercises] == [ex.id for ex in course.exercises]
    assert [ex.points for ex in released.exercises] == [ex.points for ex in course.exercises]
    assert [ex.hints for ex in released.exercises] == [ex.hints for ex in course.exercises]
    assert all(not ex.builds_on for ex in released.exercises)
    assert sorted(p.stem for p in (bundle / "exercises").glob("*.py")) == sorted(course.module_names)
    for module in course.module_names:
        assert (bundle / "exercises" / f"{module}.py").read_text() == (ROOT / "exercises" / f"{module}.py").read_text()
        assert (bundle / "suites" / "visible" / f"test_{module}.py").is_file()


def test_the_bundle_leaves_out_the_instructors_commands(bundle):
    commands = {p.stem for p in (bundle / "grader" / "commands").glob("*.py")}
    assert {"check", "hint", "list_", "progress", "capstone"} <= commands
    assert not commands & {"grade", "sync", "release", "gradescope", "nbgrader_"}
    assert not list(bundle.rglob("__pycache__"))


def test_no_shipped_module_imports_what_the_bundle_leaves_out(bundle):
    """Every import of every shipped grader module, those inside functions too (a command
    that imports grader.instructor.report late would break only when run)."""
    left_out = {part.removesuffix(".py").replace("/", ".") for part in INSTRUCTOR_ONLY}
    broken = []
    for path in (bundle / "grader").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                inside = name.removeprefix("grader.") if name.startswith("grader.") else None
                if inside is not None and any(inside == gone or inside.startswith(gone + ".") for gone in left_out):
                    broken.append((str(path.relative_to(bundle)), name))
    assert not broken


def test_hidden_and_visible_checks_have_different_names(course):
    visible = set()
    for path in (ROOT / "suites" / "visible").glob("test_*.py"):
        visible |= {n.name for n in ast.parse(path.read_text()).body
                    if isinstance(n, ast.FunctionDef) and n.decorator_list}
    assert visible and not visible & hidden_check_names(course)


# ---------------------------------------------------------------- the scan can fail

def test_the_scan_finds_a_planted_solution_line_and_a_hidden_name(bundle, course, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    secrets = secret_lines(course)
    assert find_leaks(copy, secrets, hidden_check_names(course)) == []
    line, owner = next(iter(secrets.items()))
    with open(copy / "exercises" / "rnn.py", "a", encoding="utf-8") as fh:
        fh.write(f"\n    {line}\n")
    name = sorted(hidden_check_names(course))[0]
    (copy / "notes.md").write_text(f"see {name}\n")
    leaks = find_leaks(copy, secrets, hidden_check_names(course))
    assert {leak.path for leak in leaks} == {"exercises/rnn.py", "notes.md"}
    assert any(owner in leak.what for leak in leaks)


def test_a_leaky_release_is_refused_and_writes_nothing(course, tmp_path, monkeypatch):
    name = sorted(hidden_check_names(course))[0]
    from grader.instructor import release

    def leaky_step(course, bundle):
        (bundle / "leak.txt").write_text(f"the hidden check {name}\n")

    monkeypatch.setattr(release, "STEPS", release.STEPS + (leaky_step,))
    out = tmp_path / "student"
    with pytest.raises(ReleaseError, match="leak"):
        build_release(course, out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the command

def test_release_refuses_a_folder_that_is_not_empty(tmp_path):
    out = tmp_path / "student"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    run = CliRunner().invoke(main, ["--course", str(ROOT), "release", "--out", str(out)])
    assert run.exit_code != 0 and "--force" in run.output
    assert (out / "precious.txt").read_text() == "keep me"
    run = CliRunner().invoke(main, ["--course", str(ROOT), "release", "--out", str(out), "--force"])
    assert run.exit_code == 0, run.output
    assert not (out / "precious.txt").exists() and (out / "course.toml").is_file()


@pytest.mark.parametrize("inside", ["", "solutions", "suites/hidden", "i18n"])
def test_release_refuses_to_write_over_the_course(inside, tmp_path):
    root = copy_course(tmp_path / "course")       # a copy: were the guard broken, this is what it would delete
    before = sorted(p.name for p in (root / inside).iterdir())
    run = CliRunner().invoke(main, ["--course", str(root), "release", "--out", str(root / inside), "--force"])
    assert run.exit_code != 0 and "course itself" in run.output
    assert sorted(p.name for p in (root / inside).iterdir()) == before


# ---------------------------------------------------------------- a fresh virtual environment

def test_the_bundle_installs_in_a_fresh_venv_and_course_check_works(bundle, tmp_path):
    """pip install -e BUNDLE in a new venv (no system site-packages), then the learner's
    commands from inside the bundle: stubs fail, the reference passes."""
    bundle = shutil.copytree(bundle, tmp_path / "student")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    started = time.monotonic()
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-e", str(bundle), "-c", str(bundle / "constraints.txt")], check=True)
    print(f"fresh venv install: {time.monotonic() - started:.1f} s")
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_ROOT", "PYTHONPATH")}
    course = [str(venv / "bin" / "course")]

    def run(*args):
        return subprocess.run(course + list(args), cwd=bundle / "exercises", env=env,
                              capture_output=True, text=True, timeout=300)

    helped = run("--help")
    offered = {line.split()[0] for line in helped.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert helped.returncode == 0 and {"check", "hint", "list", "progress", "capstone"} <= offered
    assert not offered & {"grade", "sync", "release", "gradescope", "nbgrader"}
    located = subprocess.run([str(python), "-c", "import grader; print(grader.__file__)"],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert Path(located.stdout.strip()).resolve().is_relative_to(bundle.resolve())
    assert run("list").returncode == 0
    stubbed = run("check", "masking.causal_mask")
    assert stubbed.returncode == 1 and "not written yet" in stubbed.stdout
    for module in ("attention", "masking"):
        shutil.copyfile(SOLUTIONS / f"{module}.py", bundle / "exercises" / f"{module}.py")
    solved = run("check", "masking")
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert "✓ masking.masked_softmax" in solved.stdout
    assert run("hint", "masking.causal_mask").returncode == 0


# ---------------------------------------------------------------- a new module follows by itself

def test_a_new_module_is_released_with_nothing_written_by_hand(tmp_path):
    write_toy_course(tmp_path)
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    course = load_manifest(tmp_path / "course.toml")
    assert secret_lines(course) == {"return FACTOR * x": "toy.double",
                                    "return double(double(_helper(x)))": "toy.quadruple"}
    assert hidden_check_names(course) == {"test_double", "test_quadruple"}
    bundle = build_release(course, tmp_path / "student")
    assert "raise NotImplementedError" in (bundle / "exercises" / "toy.py").read_text()
    assert sorted(p.name for p in (bundle / "exercises").iterdir()) == ["toy.py"]   # the capstone has no file
    assert (bundle / "suites" / "visible" / "test_toy.py").is_file()
    assert [ex.id for ex in load_manifest(bundle / "course.toml").exercises] == [
        "toy.double", "toy.quadruple", "final.everything"]
    assert not (bundle / "pictures").exists()      # none of the pictures' exercises is in this course
    assert find_leaks(bundle, secret_lines(course), hidden_check_names(course)) == []


def test_every_command_declares_its_audience_and_the_bundle_follows_it(bundle):
    """One declaration per command file decides both whether the bundle ships it and
    whether it takes --lang: the bundle holds exactly the learners' commands."""
    from grader import cli

    folder = ROOT / "grader" / "commands"
    audiences = {}
    for path in sorted(folder.glob("*.py")):
        if path.name != "__init__.py":
            module = importlib.import_module(f"grader.commands.{path.stem}")
            audiences[path.name] = module.AUDIENCE
    assert set(audiences.values()) == {"learner", "instructor"}
    shipped = {p.name for p in (bundle / "grader" / "commands").glob("*.py")} - {"__init__.py"}
    assert shipped == {name for name, audience in audiences.items() if audience == "learner"}
    built = cli.all_commands()      # as the CLI builds them: it gives a learner's command --lang
    for name, audience in audiences.items():
        command = built[name.removesuffix(".py").rstrip("_")]
        assert ("lang" in [p.name for p in command.params]) == (audience == "learner"), name
    assert set(built) == {p.stem.rstrip("_") for p in folder.glob("*.py")} - {"__init"}
