"""`course nbgrader`: the course as an nbgrader course root, graded by stock nbgrader with a
real kernel.

The end-to-end fixture runs, once for every module: `course nbgrader`, then
`nbgrader generate_assignment`, `nbgrader autograde` on a solved notebook (the source
notebook itself), on an untouched release notebook and on two wrong versions of the
attention notebook, then `nbgrader export` and `nbgrader generate_feedback`, each as one
nbgrader call for every assignment at once (an nbgrader process costs seconds to start).
"""

from __future__ import annotations

import ast
import csv
import inspect
import json
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from grader.cli import main
from grader.course.manifest import load_manifest
from grader.course.notebook_cells import docstring_markdown
from grader.course.source import find_regions
from grader.engine.grading import GradingContext, grade_exercise
from grader.instructor.nbexport import NBGRADER_DELIMITERS, build_assignment, python_literal, stand_ins_of
from tests.support import write_toy_course, ROOT, SOLUTIONS, make_submission
from tests.variants.attention import WRONG

pytestmark = pytest.mark.slow  # runs nbgrader and its kernels

nbgrader_installed = shutil.which("jupyter") is not None and subprocess.run(
    [sys.executable, "-c", "import nbgrader, ipykernel"], capture_output=True).returncode == 0
needs_nbgrader = pytest.mark.skipif(not nbgrader_installed, reason="nbgrader and ipykernel are not installed")

WRONG_SOFTMAX = WRONG["attention.softmax"]["no_max_shift"]          # loses some checks of softmax
FORBIDDEN_SOFTMAX = WRONG["attention.softmax"]["uses_torch_softmax"]  # right values, forbidden call


def invoke(*args, root: Path = ROOT):
    return CliRunner().invoke(main, ["--course", str(root), "nbgrader", *args], catch_exceptions=False)


def nbgrader(root: Path, *args: str, timeout: float = 900) -> str:
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, capture_output=True, text=True,
                         timeout=timeout)
    assert run.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run.stdout + run.stderr


def cells_by_id(path: Path) -> dict[str, dict]:
    return {cell["id"]: cell for cell in json.loads(path.read_text())["cells"]}


def text_of(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def with_solution(notebook: Path, cell_id: str, definition: str, dest: Path) -> None:
    """A copy of ``notebook`` whose solution cell ``cell_id`` holds ``definition``."""
    data = json.loads(notebook.read_text())
    [cell] = [c for c in data["cells"] if c["id"] == cell_id]
    cell["source"] = definition.strip("\n")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(data))


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def graded(tmp_path_factory, course):
    """A course root after generate_assignment, autograde, export and generate_feedback."""
    started = time.monotonic()
    root = tmp_path_factory.mktemp("nbgrader") / "course"
    run = invoke("--out", str(root))
    assert run.exit_code == 0, run.output
    modules = course.module_names
    nbgrader(root, "generate_assignment", "*")
    for module in modules:
        for student, folder in (("solved", "source"), ("untouched", "release")):
            (root / "submitted" / student / module).mkdir(parents=True)
            shutil.copy(root / folder / module / f"{module}.ipynb", root / "submitted" / student / module)
    attention = root / "source" / "attention" / "attention.ipynb"
    with_solution(attention, "attention-softmax-solution", WRONG_SOFTMAX,
                  root / "submitted" / "wrong" / "attention" / "attention.ipynb")
    with_solution(attention, "attention-softmax-solution", FORBIDDEN_SOFTMAX,
                  root / "submitted" / "forbidden" / "attention" / "attention.ipynb")
    autograde_started = time.monotonic()
    nbgrader(root, "autograde", "*")
    autograde_seconds = time.monotonic() - autograde_started
    nbgrader(root, "export")
    nbgrader(root, "generate_feedback", "attention", "--student", "wrong")
    seconds = time.monotonic() - started
    print(f"\nnbgrader end to end: {seconds:.0f} s for {len(modules)} assignments, of which autograde "
          f"{autograde_seconds:.0f} s for {2 * len(modules) + 2} notebooks")
    with open(root / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    scores = {(row["student_id"], row["assignment"]): (float(row["score"]), float(row["max_score"])) for row in rows}
    return root, scores


def cell_scores(root: Path, module: str, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "attention-from-scratch") as gb:
        notebook = gb.find_submission_notebook(module, module, student)
        return {grade.name: grade.score for grade in notebook.grades}


@needs_nbgrader
def test_solved_notebooks_get_full_marks_and_untouched_ones_zero(graded, course):
    root, scores = graded
    for module in course.module_names:
        points = sum(ex.points for ex in course.module(module).exercises)
        assert scores[("solved", module)] == (points, points), module
        assert scores[("untouched", module)] == (0.0, points), module


@needs_nbgrader
def test_a_wrong_exercise_costs_its_own_points_as_course_grade_counts_them(graded, course, tmp_path):
    root, scores = graded
    by_cell = cell_scores(root, "attention", "wrong")
    # what `course grade` gives the same code for the same exercise (partial credit by weight)
    context = GradingContext.for_course(course, "hidden", time_limit=10)
    try:
        submission = make_submission(tmp_path / "wrong", {"attention.softmax": WRONG_SOFTMAX})
        expected = grade_exercise(context, course.exercise("attention.softmax"), submission).score
    finally:
        context.close()
    softmax_points = course.exercise("attention.softmax").points
    assert 0 < expected < softmax_points
    assert by_cell.pop("attention-softmax-tests") == expected
    # the exercises that build on softmax are graded with the reference softmax: full marks
    for exercise in course.module("attention").exercises:
        if exercise.name != "softmax":
            assert by_cell[f"attention-{exercise.name}-tests"] == exercise.points, exercise.id
    total = sum(ex.points for ex in course.module("attention").exercises)
    assert scores[("wrong", "attention")] == (pytest.approx(total - softmax_points + expected), total)


@needs_nbgrader
def test_a_forbidden_call_costs_exactly_that_exercises_points(graded, course):
    root, scores = graded
    total = sum(ex.points for ex in course.module("attention").exercises)
    assert scores[("forbidden", "attention")] == (total - course.exercise("attention.softmax").points, total)
    output = cells_by_id(root / "autograded" / "forbidden" / "attention" / "attention.ipynb")
    error = output["attention-softmax-tests"]["outputs"][-1]
    assert error["output_type"] == "error" and "uses torch.softmax" in error["evalue"]


def _split_hidden(cell_text: str) -> tuple[list[str], list[str]]:
    """The lines of a cell inside and outside its hidden regions."""
    inside, hidden, shown = False, [], []
    for line in cell_text.splitlines():
        if "BEGIN HIDDEN TESTS" in line:
            inside = True
        elif "END HIDDEN TESTS" in line:
            inside = False
        else:
            (hidden if inside else shown).append(line)
    return hidden, shown


def _hidden_region_lines(cell_text: str) -> list[str]:
    return _split_hidden(cell_text)[0]


def _outside_hidden_regions(cell_text: str) -> list[str]:
    return _split_hidden(cell_text)[1]


def _solution_region_lines(module: str) -> set[str]:
    source = (SOLUTIONS / f"{module}.py").read_text()
    lines = source.splitlines()
    inside = set()
    for region in find_regions(source):
        inside.update(range(region.begin + 1, region.end))
    public = {line.strip() for index, line in enumerate(lines) if index not in inside}
    return {lines[i].strip() for i in inside} - public


@needs_nbgrader
def test_the_release_holds_no_solution_and_no_hidden_test(graded, course):
    root, _ = graded
    for module in course.module_names:
        source, release = root / "source" / module, root / "release" / module
        notebook = cells_by_id(source / f"{module}.ipynb")
        released = (release / f"{module}.ipynb").read_text()
        # the supporting files are the source's, unchanged: the grader's check vocabulary, the
        # visible suite and the reference files of EARLIER modules only
        files = sorted(p.relative_to(release) for p in release.rglob("*") if p.is_file() and p.suffix != ".ipynb")
        assert files == sorted(p.relative_to(source) for p in source.rglob("*")
                               if p.is_file() and p.suffix != ".ipynb"), module
        references = {p.stem for p in files if len(p.parts) == 1}
        earlier = set(course.module_names[:course.module_names.index(module)])
        assert references <= earlier, module
        for path in files:
            assert (release / path).read_bytes() == (source / path).read_bytes()
        shipped = "\n".join((release / p).read_text() for p in files)
        for phrase in ("BEGIN SOLUTION", "HIDDEN TESTS"):
            assert phrase not in released and phrase not in shipped, (module, phrase)
        # no line of a hidden region, beyond what the rest of the notebook shows anyway
        hidden = [line.strip() for cell in notebook.values() for line in _hidden_region_lines(text_of(cell))]
        visible_text = {line.strip() for cell in notebook.values() for line in _outside_hidden_regions(text_of(cell))}
        shipped_lines = {line.strip() for line in shipped.splitlines()}
        secret = {line for line in hidden if len(line) >= 12} - visible_text - shipped_lines
        assert len(secret) > 20, module       # the scan has something to look for
        released_lines = {line.strip() for cell in json.loads(released)["cells"] for line in text_of(cell).splitlines()}
        assert not secret & released_lines, (module, sorted(secret & released_lines)[:3])
        # no line of the module's solution regions (earlier modules' references are shipped on purpose)
        solution = {line for line in _solution_region_lines(module) if len(line) >= 12}
        assert solution, module
        assert not solution & released_lines, (module, sorted(solution & released_lines)[:3])
        # and no hidden check's name
        hidden_names = set(re.findall(r"^def (test_\w+)", (ROOT / "suites" / "hidden" / f"test_{module}.py")
                                      .read_text(), re.M))
        visible_suite = ROOT / "suites" / "visible" / f"test_{module}.py"
        visible_names = set(re.findall(r"^def (test_\w+)", visible_suite.read_text(), re.M)) \
            if visible_suite.exists() else set()
        for name in hidden_names - visible_names:
            assert name not in released and name not in shipped, (module, name)


@needs_nbgrader
def test_the_feedback_shows_the_checks_results_but_not_the_hidden_checks(graded):
    root, _ = graded
    html = (root / "feedback" / "wrong" / "attention" / "attention.html").read_text()
    assert "checks passed" in html                                  # the test cells' output is there
    hidden_suite = (ROOT / "suites" / "hidden" / "test_attention.py").read_text()
    names = re.findall(r"^def (test_\w+)", hidden_suite, re.M)
    assert names and not any(f"def {name}" in html for name in names)
    assert "load_hidden" not in html


@needs_nbgrader
@pytest.mark.parametrize("module", ["rnn", "decoding"])
def test_a_release_runs_its_visible_checks_without_the_course_package(graded, module, tmp_path):
    """What a student's Jupyter does, with numpy and torch and the files of the release
    only: the installed `course` package is made unreachable."""
    root, _ = graded
    folder = shutil.copytree(root / "release" / module, tmp_path / module)
    solved = cells_by_id(root / "source" / module / f"{module}.ipynb")
    cells = []
    for cell in json.loads((folder / f"{module}.ipynb").read_text())["cells"]:
        if cell["cell_type"] == "code":
            is_solution = cell["metadata"]["nbgrader"].get("solution")
            cells.append(text_of(solved[cell["id"]]) if is_solution else text_of(cell))
    script = textwrap.dedent("""
        import json, sys
        # only the files next to the notebook may provide `grader`
        sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
        namespace = {"__name__": "__main__"}
        for index, source in enumerate(json.load(open("cells.json"))):
            exec(compile(source, f"<cell {index}>", "exec"), namespace)
        import grader
        print("grader from", grader.__file__)
    """)
    (folder / "cells.json").write_text(json.dumps(cells))
    run = subprocess.run([sys.executable, "-c", script], cwd=folder, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"grader from {folder / 'grader' / '__init__.py'}" in run.stdout
    reports = re.findall(r"^(\S+): (\d+)/(\d+) visible checks passed", run.stdout, re.M)
    assert len(reports) == len(load_manifest(ROOT / "course.toml").module(module).exercises)
    assert all(passed == total for _, passed, total in reports), run.stdout


# ---------------------------------------------------------------- the test cells' engine, in process


def notebook_namespace(course, module: str, replace: dict[str, str] | None = None) -> dict:
    """What a kernel holds after running the source notebook's code cells (test cells
    aside), with some solution cells replaced: a stand-in for a student's notebook."""
    notebook, _ = build_assignment(course, module)
    namespace: dict = {"__name__": "__main__", "_ih": [""]}
    for cell in notebook["cells"]:
        meta = cell["metadata"]["nbgrader"]
        if cell["cell_type"] != "code" or meta["grade"]:
            continue
        name = cell["id"].split("-")[1] if meta["solution"] else None
        source = (replace or {}).get(name, cell["source"])
        namespace["_ih"].append(source)               # IPython's record of the cells run
        exec(compile(source, f"<cell {cell['id']}>", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def attention_hidden(course):
    from grader.instructor.nbexport import reference_source
    from grader.instructor.nbgrader_support import load_hidden

    load_hidden("attention", suite=(ROOT / "suites" / "hidden" / "test_attention.py").read_text(),
                reference=reference_source(course, "attention"))


def grade_in_process(course, exercise: str, namespace: dict, hidden: bool = True, stand_ins=None) -> float:
    from grader.instructor.nbgrader_support import ExerciseTests

    ex = course.exercise(exercise)
    tests = ExerciseTests(exercise, points=ex.points, namespace=namespace, forbidden=ex.forbidden)
    tests.visible(str(ROOT / "suites" / "visible" / f"test_{ex.module}.py"))
    if hidden:
        tests.hidden(ex.module, stand_ins=stand_ins_of(course, ex) if stand_ins is None else stand_ins)
    return tests.run()


def test_stand_ins_keep_one_bug_to_one_exercise(course, attention_hidden, capsys):
    wrong = notebook_namespace(course, "attention", {"softmax": WRONG["attention.softmax"]["global_sum"]})
    points = course.exercise("attention.attention_context").points
    assert grade_in_process(course, "attention.attention_context", wrong) == points
    # without the reference softmax standing in, the same bug costs attention_context too
    from grader.instructor.nbgrader_support import ExerciseFailed
    try:
        without = grade_in_process(course, "attention.attention_context", wrong, stand_ins=[])
    except ExerciseFailed:
        without = 0.0
    assert without < points
    assert wrong["softmax"].__code__.co_filename == "<cell attention-softmax-solution>"   # restored after
    assert "graded with the reference attention.softmax in place of yours" in capsys.readouterr().out


def test_earlier_pieces_are_judged_first_as_course_grade_judges_them(course, capsys, monkeypatch):
    """A wrong LayerNorm under a right EncoderLayer: the layer passes its checks once the
    reference LayerNorm stands in for the wrong one, so grading Encoder keeps the learner's
    layer, as `course grade` does; judged with the wrong LayerNorm, the layer would have
    been replaced too."""
    from grader.instructor.nbexport import reference_source
    from grader.instructor.nbgrader_support import load_hidden
    from tests.variants.transformer import WRONG as TRANSFORMER_WRONG

    monkeypatch.syspath_prepend(str(SOLUTIONS))     # earlier modules: files next to the notebook
    for name in course.module_names:                # imported from there, forgotten after
        monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.delitem(sys.modules, name)
    load_hidden("transformer", suite=(ROOT / "suites" / "hidden" / "test_transformer.py").read_text(),
                reference=reference_source(course, "transformer"))
    assert stand_ins_of(course, course.exercise("transformer.Encoder")) == {
        "LayerNorm": [], "FeedForward": [], "EncoderLayer": ["LayerNorm", "FeedForward"]}
    wrong = notebook_namespace(course, "transformer",
                               {"LayerNorm": TRANSFORMER_WRONG["transformer.LayerNorm"]["unbiased_variance"]})
    assert grade_in_process(course, "transformer.Encoder", wrong) == course.exercise("transformer.Encoder").points
    out = capsys.readouterr().out
    assert "graded with the reference transformer.LayerNorm in place of yours" in out
    assert "EncoderLayer in place of yours" not in out


def test_a_self_consistent_chain_keeps_its_own_pieces_as_course_grade_does(course, capsys):
    """A CS231n-style rnn_backward that unpacks the caches its own step forward makes: its
    own pieces pass their checks, so they stay; the reference's would not fit its caches."""
    from grader.instructor.nbexport import reference_source
    from grader.instructor.nbgrader_support import load_hidden
    from tests.variants.rnn import RIGHT as RNN_RIGHT

    load_hidden("rnn", suite=(ROOT / "suites" / "hidden" / "test_rnn.py").read_text(),
                reference=reference_source(course, "rnn"))
    chain = RNN_RIGHT["rnn.rnn_backward"]["own_cache_weights_first_reads_D"]
    mine = notebook_namespace(course, "rnn", {exercise_id.split(".")[1]: source for exercise_id, source in chain.items()})
    assert grade_in_process(course, "rnn.rnn_backward", mine) == course.exercise("rnn.rnn_backward").points
    assert "in place of yours" not in capsys.readouterr().out


def test_a_forbidden_method_call_is_caught_at_run_time(course, attention_hidden):
    from grader.instructor.nbgrader_support import ExerciseFailed

    method = "def softmax(x, dim=-1):\n    return x.softmax(dim)\n"       # no name the static scan can see
    namespace = notebook_namespace(course, "attention", {"softmax": method})
    with pytest.raises(ExerciseFailed, match="uses torch.Tensor.softmax"):
        grade_in_process(course, "attention.softmax", namespace)
    import torch
    assert torch.Tensor.softmax.__name__ == "softmax" and not hasattr(torch.Tensor.softmax, "__wrapped__")


def test_feedback_says_what_was_called_and_where_the_student_code_raised(course, attention_hidden):
    from grader.instructor.nbgrader_support import ExerciseFailed

    stub = "def dot_score(query, keys):\n    raise NotImplementedError('not yet')\n"
    namespace = notebook_namespace(course, "attention", {"dot_score": stub})
    with pytest.raises(ExerciseFailed) as failure:
        grade_in_process(course, "attention.dot_score", namespace)
    message = str(failure.value)
    assert "0/1 points" in message and "called dot_score(query=tensor" in message
    assert "    raised NotImplementedError: not yet\n      at dot_score, line 2" in message
    assert failure.value._render_traceback_() == [f"ExerciseFailed: {message}"]     # no traceback in Jupyter


def test_student_output_on_stderr_does_not_cost_the_points(course, attention_hidden, capfd):
    noisy = ("import sys\n"
             "def softmax(x, dim=-1):\n    print('debugging', file=sys.stderr)\n"
             "    e = (x - x.amax(dim=dim, keepdim=True)).exp()\n    return e / e.sum(dim=dim, keepdim=True)\n")
    namespace = notebook_namespace(course, "attention", {"softmax": noisy})
    assert grade_in_process(course, "attention.softmax", namespace) == course.exercise("attention.softmax").points
    out, err = capfd.readouterr()
    assert "debugging" in out and err == ""


def test_without_the_hidden_region_the_visible_checks_run(course):
    namespace = notebook_namespace(course, "attention")
    points = course.exercise("attention.softmax").points
    assert grade_in_process(course, "attention.softmax", namespace, hidden=False) == points


# ---------------------------------------------------------------- the notebooks themselves


@pytest.mark.parametrize("module", load_manifest(ROOT / "course.toml").module_names)
def test_each_notebook_has_its_exercises_cells_and_points(course, module):
    notebook, files = build_assignment(course, module)
    cells = notebook["cells"]
    metas = [cell["metadata"]["nbgrader"] for cell in cells]
    ids = [meta["grade_id"] for meta in metas]
    assert len(set(ids)) == len(ids)
    assert cells[0]["cell_type"] == "markdown" and cells[1]["metadata"]["nbgrader"]["locked"]
    exercises = course.module(module).exercises
    solutions = [c for c, m in zip(cells, metas) if m["solution"]]
    tests = [c for c, m in zip(cells, metas) if m["grade"]]
    assert [c["id"] for c in solutions] == [f"{module}-{ex.name}-solution" for ex in exercises]
    assert [c["metadata"]["nbgrader"]["points"] for c in tests] == [ex.points for ex in exercises]
    for cell in solutions:
        assert "### BEGIN SOLUTION" in cell["source"] and "### END SOLUTION" in cell["source"]
    for index, cell in enumerate(tests):
        meta = cell["metadata"]["nbgrader"]
        assert meta["locked"] and not meta["solution"] and meta["schema_version"] == 3
        assert cell["source"].count("### BEGIN HIDDEN TESTS") == 1
        assert ("load_hidden(" in cell["source"]) == (index == 0)   # the first test cell loads them once
    # the first test cell's hidden region holds the hidden suite and the module's reference,
    # which run as they are
    region = "\n".join(_hidden_region_lines(tests[0]["source"]))
    call = ast.parse(region).body[1].value
    texts = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    assert texts["suite"] == (ROOT / "suites" / "hidden" / f"test_{module}.py").read_text()
    assert "# BEGIN SOLUTION" not in texts["reference"]
    compile(texts["reference"], "reference", "exec")
    assert f"{module}.py" not in files and "grader/checks.py" in files


def test_python_literal_round_trips_text_nbgrader_would_act_on():
    tricky = ['', '"', 'a"', '""', '"""', '""""', 'x"""y"""', '\\', 'a\\', '\\"', "'''", "\r\n\t",
              "### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "# AUTOTEST x", "BEGIN HIDDEN TESTS"]
    for text in tricky:
        literal = python_literal(text)
        assert ast.literal_eval(literal) == text
        assert not any(phrase in literal for phrase in NBGRADER_DELIMITERS), text


@given(st.lists(st.sampled_from(['"', "'", "\\", "x", "\n", "\r", " ", "BEGIN SOLUTION", "END HIDDEN TESTS",
                                 "AUTOTEST", "\\x41"]), max_size=12).map("".join))
def test_python_literal_round_trips_any_mix_of_quotes_escapes_and_markers(text):
    literal = python_literal(text)
    assert ast.literal_eval(literal) == text
    assert not any(phrase in literal for phrase in NBGRADER_DELIMITERS)


def test_docstrings_become_markdown_with_their_layout_kept():
    # as ast.get_docstring gives it: dedented
    text = docstring_markdown(inspect.cleandoc("""Pick the *best* key_id.

    Inputs:
        x    (N, D)
    Use `torch.where` here: a_b.
    """))
    assert "Pick the \\*best\\* key\\_id." in text and "`torch.where`" in text
    html = MarkdownIt("commonmark").render(text)
    assert "<p>Pick the *best* key_id.</p>" in html
    assert "<p>Inputs:</p>\n<pre><code>x    (N, D)\n</code></pre>" in html
    assert "<p>Use <code>torch.where</code> here: a_b.</p>" in html


def test_dollars_in_docstrings_are_escaped_so_jupyter_shows_no_formula():
    text = docstring_markdown("A token costs $2, a batch $x_1 + x_2$; `$HOME` is code.")
    assert text == "A token costs \\$2, a batch \\$x\\_1 + x\\_2\\$; `$HOME` is code."
    html = MarkdownIt("commonmark").render(text)
    assert "<p>A token costs $2, a batch $x_1 + x_2$; <code>$HOME</code> is code.</p>" in html


# ---------------------------------------------------------------- a new module follows by itself


def test_a_new_module_becomes_an_assignment_with_nothing_written_by_hand(tmp_path):
    write_toy_course(tmp_path)
    run = invoke("--out", str(tmp_path / "out"), root=tmp_path)
    assert run.exit_code == 0, run.output
    assert "left out: final" in run.output
    assert not (tmp_path / "out" / "source" / "final").exists()
    cells = json.loads((tmp_path / "out" / "source" / "toy" / "toy.ipynb").read_text())["cells"]
    order = [cell["id"] for cell in cells]
    assert order == ["toy-intro", "toy-given-1", "toy-double-instructions", "toy-double-solution",
                     "toy-double-tests", "toy-given-2", "toy-quadruple-instructions", "toy-quadruple-solution",
                     "toy-quadruple-tests", "toy-given-3"]
    given = {cell["id"]: text_of(cell) for cell in cells}
    assert given["toy-given-1"] == "FACTOR = 2"
    assert given["toy-given-2"].startswith("def _helper(x):")
    assert given["toy-given-3"] == "LATER = 3"
    assert given["toy-double-solution"].endswith("    ### BEGIN SOLUTION\n    return FACTOR * x\n    ### END SOLUTION")
    assert "stand_ins={'double': []}" in given["toy-quadruple-tests"]
    assert "#   toy " in (tmp_path / "out" / "nbgrader_config.py").read_text()


# ---------------------------------------------------------------- the command


def test_refuses_a_non_empty_folder_without_force(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    run = invoke("--out", str(tmp_path), "--only", "masking")
    assert run.exit_code != 0 and "not empty" in run.output and "--force" in run.output
    assert not (tmp_path / "source").exists()
    run = invoke("--out", str(tmp_path), "--only", "masking", "--force", "--course-id", "seq101")
    assert run.exit_code == 0, run.output
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "source").iterdir()) == ["masking"]
    config = (tmp_path / "nbgrader_config.py").read_text()
    assert "c.CourseDirectory.course_id = 'seq101'" in config and "#   masking " in config and "#   rnn " not in config
    assert "ships the reference of attention" in run.output


@pytest.mark.parametrize("only, message", [("nope", "no module 'nope'"), ("capstone", "capstone")])
def test_only_names_modules_that_have_a_notebook(tmp_path, only, message):
    run = invoke("--out", str(tmp_path / "out"), "--only", only)
    assert run.exit_code != 0 and message in run.output and "Traceback" not in run.output


def test_help_teaches_the_instructors_workflow():
    run = CliRunner().invoke(main, ["nbgrader", "--help"])
    assert run.exit_code == 0
    for step in ("generate_assignment", "release_assignment", "collect", "autograde", "generate_feedback",
                 "export", "capstone", "course order"):
        assert step in run.output, step
