"""The course as a Gradescope autograder: the zip `course gradescope` builds, and the
grading run inside it.

The zip (https://gradescope-autograders.readthedocs.io/en/latest/specs/) holds at its
top level Gradescope's two scripts and the course source that grading needs, taken from
``course.toml`` so that a new module is packed without touching this file:

``setup.sh``        run once while Gradescope builds the image: installs the course
                    (``pip install -c constraints.txt /autograder/source``), torch from its
                    CPU wheel index, prints the isolation the image allows, and grades a
                    copy of the reference, which must get full marks
``run_autograder``  run per submission: ``python -m grader.instructor.gradescope``, which grades
                    ``/autograder/submission`` with ``course grade`` and writes
                    ``/autograder/results/results.json``
``gradescope.json`` which exercises this autograder grades (``--only``), its time limit and
                    the visibility of its results
``course.toml``, ``pyproject.toml``, ``constraints.txt``, ``README.md``, ``grader/``,
``solutions/<module>.py``, ``suites/hidden/test_<module>.py`` (and ``i18n/`` if the course
has one): never ``tests/``, ``examples/``, ``exercises/``, visible suites or caches.

Whatever goes wrong while grading, ``run_autograder`` leaves a ``results.json`` that says
so (score 0, "contact the course staff"), written here when Python runs and by the
script itself when it cannot even start the grader.
"""

from __future__ import annotations

import argparse
import io
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader.course.i18n import counted
from grader.course.manifest import Course, Exercise

SETTINGS_FILE = "gradescope.json"
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
EXECUTABLES = ("setup.sh", "run_autograder")
COURSE_FILES = ("course.toml", "pyproject.toml", "constraints.txt")
OPTIONAL_FILES = ("README.md",)           # pyproject.toml names it as the readme: the build needs it
ZIP_DATE = (1980, 1, 1, 0, 0, 0)          # the same course always gives the same bytes
SKIPPED_PARTS = ("__pycache__",)
SKIPPED_SUFFIXES = (".pyc", ".pyo")
STAFF_MESSAGE = ("**The autograder could not grade this submission.** This is a problem on the "
                 "course's side, not in your code. Please contact the course staff.")


class AutograderError(Exception):
    """The autograder cannot be built as asked; the message says why, for the instructor."""


class GradingFailed(Exception):
    """Grading itself failed inside the autograder (not the learner's code)."""


# ================================================================ the two scripts

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image: it installs
# the course (the grader and its dependencies: numpy, torch ...) from the source in this zip.
#
# Variables, for running it elsewhere (Gradescope sets none of them):
#   AUTOGRADER_ROOT  the folder holding source/                      (default: /autograder)
#   PYTHON           the Python to install into                      (default: a new virtual
#                    environment in $AUTOGRADER_ROOT/venv, made with the newest python3.X >= 3.11
#                    found, and python3.11 is installed with apt if there is none)
#   TORCH_INDEX_URL  the index torch comes from                      (default: PyTorch's CPU
#                    wheels, a fraction of the size of the default CUDA build; set but empty:
#                    the default index only)
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
TORCH_INDEX_URL="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"

new_enough() {  # the course reads course.toml with tomllib: Python 3.11 or later
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

apt_install() {
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

if [ -z "${PYTHON:-}" ]; then
    base=""
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && new_enough "$candidate"; then
            base="$candidate"
            break
        fi
    done
    if [ -z "$base" ]; then
        echo "setup.sh: no Python 3.11 or later here; installing python3.11 with apt"
        apt_install python3.11 python3.11-venv
        base=python3.11
    fi
    # a virtual environment of its own: no clash with the image's packages, and no
    # "externally managed environment" refusal from pip on recent Ubuntu
    if ! "$base" -m venv "$ROOT/venv"; then
        version="$("$base" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        apt_install "python$version-venv"   # Debian and Ubuntu ship venv's pip apart
        rm -rf "$ROOT/venv"
        "$base" -m venv "$ROOT/venv"
    fi
    PYTHON="$ROOT/venv/bin/python"
fi
if ! new_enough "$PYTHON"; then
    echo "setup.sh: $PYTHON is not Python 3.11 or later, which the course needs" >&2
    exit 1
fi

pip_install() {
    "$PYTHON" -m pip install --no-input --disable-pip-version-check -c "$SOURCE/constraints.txt" "$@"
}
if [ -n "$TORCH_INDEX_URL" ]; then
    # torch alone, from its own index; installing the course then finds it there
    pip_install --index-url "$TORCH_INDEX_URL" torch
fi
pip_install "$SOURCE"

# run_autograder grades with the interpreter installed into here
"$PYTHON" -c 'import sys; print(sys.executable)' > "$SOURCE/.python"
# the reference and the hidden suites: for the grader (root) only; a worker receives the
# reference pieces it needs over its pipe, never from this folder
chmod -R go-rwx "$SOURCE"
# fail now, while the image is built, rather than on every submission: the reference must
# get full marks here, with the isolation this image allows (printed in the build log)
"$PYTHON" -m grader.instructor.gradescope --check --root "$ROOT"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission (from /autograder/run_autograder, a copy): it
# grades /autograder/submission with `course grade` and writes /autograder/results/results.json.
# When grading fails, results.json still says so (score 0, contact the course staff), and
# only then does this script exit non-zero.
#
# Variables, for running it elsewhere (Gradescope sets none of them):
#   AUTOGRADER_ROOT  instead of /autograder
#   PYTHON           instead of the interpreter setup.sh installed into
set -u

ROOT="${AUTOGRADER_ROOT:-/autograder}"
RESULTS="$ROOT/results"
if [ -z "${PYTHON:-}" ]; then
    PYTHON="$(cat "$ROOT/source/.python" 2>/dev/null || true)"
    PYTHON="${PYTHON:-python3}"
fi
mkdir -p "$RESULTS"
rm -f "$RESULTS/results.json"
cd "$ROOT" || true

"$PYTHON" -m grader.instructor.gradescope --root "$ROOT"
status=$?

if [ ! -s "$RESULTS/results.json" ]; then
    # the grader could not even start (no Python, no grader package): say so by hand
    if [ "$status" -eq 0 ]; then status=1; fi
    echo "run_autograder: the grader did not write $RESULTS/results.json (exit status $status)"
    cat > "$RESULTS/results.json" <<JSON
{
  "score": 0,
  "output": "__STAFF_MESSAGE__",
  "output_format": "md",
  "visibility": "visible",
  "stdout_visibility": "hidden",
  "tests": [],
  "extra_data": {"grading_failed": true, "reason": "the grader could not start (exit status $status)"}
}
JSON
fi
exit "$status"
""".replace("__STAFF_MESSAGE__", STAFF_MESSAGE)


# ================================================================ building the zip

@dataclass(frozen=True)
class Settings:
    """What one autograder grades, stored in the zip as ``gradescope.json``."""

    exercises: tuple[str, ...]           # ids, in course order
    only: str | None = None              # the pattern they were selected by, for the record
    time_limit: float | None = None      # replaces course.toml's per-exercise limit
    visibility: str = "visible"          # when learners see their results on Gradescope

    def to_json(self) -> str:
        data = {"exercises": list(self.exercises), "only": self.only, "time_limit": self.time_limit,
                "visibility": self.visibility}
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Settings":
        data = json.loads(text)
        visibility = data.get("visibility", "visible")
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility {visibility!r} is not one of {', '.join(VISIBILITIES)}")
        exercises = data["exercises"]
        if not exercises or not all(isinstance(e, str) for e in exercises):
            raise ValueError("exercises must be a non-empty list of exercise ids")
        return cls(tuple(exercises), data.get("only"), data.get("time_limit"), visibility)


@dataclass(frozen=True)
class BuiltAutograder:
    path: Path
    exercises: tuple[str, ...]
    modules: tuple[str, ...]
    points: float
    files: int
    size: int


def _package_files(folder: Path, prefix: str) -> dict[str, Path]:
    """Every file under ``folder`` but caches and hidden files, as ``prefix/relative/path``."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_dir() or any(part in SKIPPED_PARTS or part.startswith(".") for part in relative.parts):
            continue
        if path.suffix in SKIPPED_SUFFIXES:
            continue
        found[f"{prefix}/{relative.as_posix()}"] = path
    return found


def autograder_files(course: Course, settings: Settings) -> dict[str, bytes]:
    """Name in the zip -> contents. Every course file comes from what ``course.toml``
    lists: each module's solution and hidden suite; a module with no exercise selected
    keeps its solution (its reference stands in for what other exercises build on)."""
    import grader

    root = Path(course.root)
    files: dict[str, bytes] = {
        "setup.sh": SETUP_SH.encode(),
        "run_autograder": RUN_AUTOGRADER.encode(),
        SETTINGS_FILE: settings.to_json().encode(),
    }
    sources: dict[str, Path] = {}
    for name in COURSE_FILES:
        if not (root / name).is_file():
            raise AutograderError(f"{root / name} is missing; the autograder installs the course with it")
        sources[name] = root / name
    for name in OPTIONAL_FILES:
        if (root / name).is_file():
            sources[name] = root / name
    sources.update(_package_files(Path(grader.__file__).resolve().parent, "grader"))
    for module in course.module_names:
        path = root / "solutions" / f"{module}.py"
        if not path.is_file():
            raise AutograderError(f"{path} is missing: the reference of module {module!r} is needed to grade")
        sources[f"solutions/{module}.py"] = path
    selected_modules = {exercise_id.split(".")[0] for exercise_id in settings.exercises}
    hidden = root / "suites" / "hidden"
    for module in course.modules:
        path = hidden / f"test_{module.name}.py"
        if path.is_file():
            sources[f"suites/hidden/{path.name}"] = path
        elif module.name in selected_modules:
            raise AutograderError(f"{path} is missing: module {module.name!r} has no hidden checks to grade with")
    for path in sorted(hidden.glob("*.py")):   # helpers the suites import (not other modules' tests)
        if not path.name.startswith("test_"):
            sources[f"suites/hidden/{path.name}"] = path
    if (root / "i18n").is_dir():                # the course's texts in other languages, for feedback
        sources.update(_package_files(root / "i18n", "i18n"))
    for name, path in sources.items():
        files[name] = path.read_bytes()
    return files


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip of ``files`` at its top level, in name order with a fixed date (so the same
    course gives the same bytes), the two scripts executable (Unix mode in the external
    attributes, which Gradescope's unzip keeps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3                  # Unix: the external attributes hold a mode
            info.external_attr = (0o100755 if name in EXECUTABLES else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def select(course: Course, only: str | None) -> list[Exercise]:
    exercises = course.select(only)
    if not exercises:
        raise AutograderError(f"no exercise matches {only!r}; `course list` shows them all")
    return exercises


def build_autograder(course: Course, out: Path, only: str | None = None, time_limit: float | None = None,
                     visibility: str = "visible", force: bool = False) -> BuiltAutograder:
    """Write the autograder zip to ``out`` atomically (readers see no half-written zip, and
    an existing file is replaced only with ``force``)."""
    from grader.instructor.report import write_atomically

    out = Path(out)
    if visibility not in VISIBILITIES:
        raise AutograderError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if out.is_dir():
        raise AutograderError(f"{out} is a folder; give the path of the zip to write")
    if course.overlaps_sources(out):
        raise AutograderError(f"{out} is part of the course itself; choose another path (build/autograder.zip, say)")
    if out.exists() and not force:
        raise AutograderError(f"{out} exists; pass --force to replace it")
    exercises = select(course, only)
    settings = Settings(tuple(ex.id for ex in exercises), only, time_limit, visibility)
    files = autograder_files(course, settings)
    data = zip_bytes(files)
    write_atomically(out, data)
    modules = tuple(dict.fromkeys(ex.module for ex in exercises))
    return BuiltAutograder(out, settings.exercises, modules, sum(ex.points for ex in exercises),
                           len(files), len(data))


# ================================================================ inside the autograder

def find_submission(folder: Path, staging: Path) -> Path:
    """What to hand to ``course grade``: the upload folder itself (module files, or an
    ``exercises/`` folder, or one folder holding either), or, when it holds no Python file
    but exactly one .zip, that zip, copied to ``staging/submission.zip`` so the result
    is named ``submission`` whatever the learner called it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GradingFailed(f"there is no submission folder at {folder}")
    zips = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".zip"]
    has_python = any(p.is_file() for p in folder.rglob("*.py"))
    if len(zips) == 1 and not has_python:
        staging.mkdir(parents=True, exist_ok=True)
        target = staging / "submission.zip"
        shutil.copyfile(zips[0], target)
        return target
    return folder


def _learner_notes(graded_output: str) -> list[str]:
    """The notes of ``course grade``'s summary: the paragraphs after its points line."""
    return graded_output.split("\n\n")[1:]


def gradescope_results(graded: dict, course: Course, settings: Settings, seconds: float) -> dict:
    """``course grade``'s results.json, with what Gradescope reads at the top level: a
    summary in ``output``, ``visibility`` (on each test as well), ``stdout_visibility``
    (the grading log is for the staff), and a ``score`` that is the sum of the tests' scores."""
    from grader import __version__
    from grader.instructor.feedback import md_text

    tests = graded.get("tests")
    if not isinstance(tests, list) or [t.get("name") for t in tests] != list(settings.exercises):
        names = [t.get("name") for t in tests] if isinstance(tests, list) else tests
        raise GradingFailed(f"`course grade` reported {names!r}, not the exercises {list(settings.exercises)!r}")
    score = round(sum(t["score"] for t in tests), 2)
    max_score = sum(t["max_score"] for t in tests)
    passed = sum(t["status"] == "passed" for t in tests)
    summary = (f"**{md_text(course.title)}**: {passed} of {counted(len(tests), 'exercise')} passed, "
               f"{score:g}/{max_score:g} points.")
    notes = _learner_notes(graded.get("output", ""))
    # every test too: whichever of the two levels Gradescope gives precedence, the choice holds
    tests = [{**test, "visibility": settings.visibility} for test in tests]
    return {
        "score": score,
        "execution_time": round(seconds, 2),
        "output": "\n\n".join([summary, *notes]),
        "output_format": "md",
        "test_output_format": "md",
        "visibility": settings.visibility,
        "stdout_visibility": "hidden",
        "extra_data": {"course": course.title, "course_version": course.version, "grader_version": __version__},
        "tests": tests,
    }


def failure_results(reason: str, seconds: float = 0.0) -> dict:
    """What the learner sees when grading failed: score 0 and whom to ask. The reason is
    for the staff (extra_data, and the log above it)."""
    return {
        "score": 0,
        "execution_time": round(seconds, 2),
        "output": STAFF_MESSAGE,
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
        "extra_data": {"grading_failed": True, "reason": reason},
    }


def _read_settings(source: Path) -> Settings:
    try:
        return Settings.from_json((source / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GradingFailed(f"{source / SETTINGS_FILE} could not be read: {exc}") from None


def _load_course(source: Path) -> Course:
    from grader.course.manifest import ManifestError, load_manifest

    try:
        return load_manifest(source / "course.toml")
    except ManifestError as exc:
        raise GradingFailed(str(exc)) from None


def _course_grade(source: Path, settings: "Settings", submission: Path, work: Path, caller: str) -> dict:
    """``course grade`` on one submission, in a process of its own; its results.json."""
    from grader.instructor.submission import submission_name

    out = Path(work) / "grades"
    command = [sys.executable, "-m", "grader", "--course", str(source), "grade", str(submission),
               "--out", str(out), "--only", ",".join(settings.exercises)]
    if settings.time_limit:
        command += ["--time-limit", str(settings.time_limit)]
    print(f"{caller}: " + shlex.join(command), flush=True)
    completed = subprocess.run(command, stdin=subprocess.DEVNULL)
    if completed.returncode != 0:
        raise GradingFailed(f"`course grade` exited with status {completed.returncode}")
    graded_path = out / submission_name(submission) / "results.json"
    try:
        return json.loads(graded_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GradingFailed(f"`course grade` wrote no readable {graded_path.name}: {exc}") from None


def _grade(root: Path, started: float) -> dict:
    source = root / "source"
    settings = _read_settings(source)
    course = _load_course(source)
    with tempfile.TemporaryDirectory(prefix="gradescope-") as work:
        submission = find_submission(root / "submission", Path(work) / "upload")
        graded = _course_grade(source, settings, submission, Path(work), "run_autograder")
    return gradescope_results(graded, course, settings, time.monotonic() - started)


def _write_results(root: Path, results: dict) -> Path:
    from grader.instructor.report import write_atomically

    path = root / "results" / "results.json"
    write_atomically(path, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return path


def run_autograder(root: Path) -> int:
    """Grade ``root/submission`` and write ``root/results/results.json``; 0 when the
    submission was graded (whatever its score), 1 when grading failed, after writing a
    results.json that says so."""
    root = Path(root)
    started = time.monotonic()
    try:
        results = _grade(root, started)
    except Exception as exc:  # whatever it was, the learner gets an answer and the staff the traceback
        traceback.print_exc(file=sys.stdout)   # Gradescope shows this log to the staff only
        _write_results(root, failure_results(f"{type(exc).__name__}: {exc}", time.monotonic() - started))
        return 1
    _write_results(root, results)
    print(f"run_autograder: {results['score']:g} points; wrote {root / 'results' / 'results.json'}")
    return 0


def check_setup(root: Path) -> int:
    """setup.sh's last step: the course loads, every exercise this autograder grades has
    hidden checks, and grading a copy of the reference gives full marks, on this image
    and with the isolation it allows (which is printed, for the build log)."""
    from grader.engine.grading import Suites

    source = Path(root) / "source"
    try:
        settings = _read_settings(source)
        course = _load_course(source)
        unknown = [i for i in settings.exercises if i not in {ex.id for ex in course.exercises}]
        if unknown:
            raise GradingFailed(f"{SETTINGS_FILE} names exercises course.toml does not have: {', '.join(unknown)}")
        with_checks = Suites(source / "suites" / "hidden").exercise_ids()
        unchecked = [i for i in settings.exercises if i not in with_checks]
        if unchecked:
            raise GradingFailed(f"no hidden checks for {', '.join(unchecked)}")
        report = subprocess.run([sys.executable, "-m", "grader.isolation.sandbox"], capture_output=True, text=True)
        print("setup.sh: how learner code is isolated on this image:\n" + report.stdout.rstrip(), flush=True)
        if any(line.startswith("NO") for line in report.stdout.splitlines()):
            print("setup.sh: WARNING: some isolation steps are not available here (see the README, "
                  "'Isolation of the worker'); grading goes on without them", flush=True)
        with tempfile.TemporaryDirectory(prefix="gradescope-check-") as work:
            graded = _course_grade(source, settings, source / "solutions", Path(work), "setup.sh")
        earned = sum(test["score"] for test in graded["tests"])
        possible = sum(test["max_score"] for test in graded["tests"])
        if earned != possible:
            failed = [test["name"] for test in graded["tests"] if test["score"] != test["max_score"]]
            raise GradingFailed(f"the reference gets {earned:g}/{possible:g} here; not full marks on {', '.join(failed)}")
    except GradingFailed as exc:
        print(f"setup.sh: the autograder cannot grade: {exc}", file=sys.stderr)
        return 1
    print(f"setup.sh: ready to grade {counted(len(settings.exercises), 'exercise')} of {course.title} "
          f"{course.version} with Python {sys.version.split()[0]}; the reference gets full marks")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.instructor.gradescope",
                                     description="The grading run inside a Gradescope autograder "
                                                 "(built by `course gradescope`).")
    parser.add_argument("--root", type=Path, default=Path("/autograder"),
                        help="the folder holding source/, submission/ and results/ (default: /autograder)")
    parser.add_argument("--check", action="store_true",
                        help="only check that the installed course can grade (setup.sh's last step)")
    args = parser.parse_args(argv)
    return check_setup(args.root) if args.check else run_autograder(args.root)


if __name__ == "__main__":
    sys.exit(main())
