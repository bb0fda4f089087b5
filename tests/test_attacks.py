"""One test per attack on the grader, and per kind of bad input.

Each attack gets no more points than a stub on what it touches, while the rest of the
batch is graded normally. Attacks already covered by
``test_grading.test_attacks_cost_only_what_they_touch_and_the_batch_goes_on`` (patched
comparison helpers, reading the caller's frames, an infinite loop, allocating tens of GB,
printing fake success lines, exiting at import) are not repeated here.

The attacks that isolation stops (``grader/isolation/sandbox.py``) say which step stops them; run
them with ``GRADER_SANDBOX_SKIP=<step>`` to see them succeed without it. Most of them would
be refused before they run by the static layer (``grader/engine/screening.py``, tested in
``tests/test_tamper_static.py``): it is switched off here, so that each test shows the
layer behind it holding on its own.
"""

import json
import os
import shutil
import socket
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.instructor.submission import grade_submission
from grader.isolation.worker_client import StudentProxy, WorkerSession
from tests.support import ROOT, make_submission
from tests.test_grading import STEP, prepend, step_forward_body

WRONG = "return np.full((x.shape[0], Wh.shape[0]), 7.0, dtype=np.float32), None"
OTHERS = ["rnn.clip_grad_norm", "lstm.lstm_step_forward"]
pytestmark = [pytest.mark.usefixtures("without_screening"), pytest.mark.slow]
ISOLATED = os.geteuid() == 0  # where every step applies; as an ordinary user, see grader/isolation/sandbox.py


def needs(*steps):
    """Run where the isolation ``steps`` apply (each one alone stops the attack). With
    GRADER_SANDBOX_SKIP naming them all, the test fails: tests/test_isolation_can_fail.py
    proves it."""
    def mark(test):
        test.stopped_by = steps
        names = " and ".join(steps)
        return pytest.mark.skipif(not ISOLATED, reason=f"the {names} step{'s' * (len(steps) > 1)} "
                                  "need root here (see grader/isolation/sandbox.py)")(test)
    return mark


def grade(ctx, course, folder, ids=(STEP, *OTHERS)):
    result = grade_submission(ctx, folder, [course.exercise(i) for i in ids])
    return {e.id: e for e in result.exercises}, result


def assert_only_step_lost(course, by_id):
    assert by_id[STEP].score == 0, by_id[STEP].feedback()
    for other in OTHERS:
        assert by_id[other].score == course.exercise(other).points, by_id[other].feedback()


# ---------------------------------------------------------------- lying about results

def test_a_tensor_subclass_whose_comparisons_always_succeed(hidden, course, tmp_path):
    folder = make_submission(tmp_path, {STEP: step_forward_body("""
        import torch

        class Yes(torch.Tensor):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                return True
            def __eq__(self, other): return True
            def __array__(self, *a, **k): return np.zeros((x.shape[0], Wh.shape[0]))

        class Same(np.ndarray):
            def __eq__(self, other): return np.ones(np.shape(other), bool)
            def __array_ufunc__(self, *a, **k): return np.zeros(1)

        liar = torch.zeros(x.shape[0], Wh.shape[0]).as_subclass(Yes)
        return liar, np.zeros((x.shape[0], Wh.shape[0])).view(Same)
        """)})
    by_id, _ = grade(hidden, course, folder)
    assert_only_step_lost(course, by_id)


def test_pytest_skip_and_patched_pytest_reports(hidden, course, tmp_path, without_screening):
    """The checks do not run under pytest, and never in the learner's process."""
    folder = make_submission(tmp_path, {STEP: step_forward_body("import pytest\npytest.skip('nothing to grade')")})
    prepend(folder, "rnn", """
        import _pytest.reports, _pytest.outcomes
        _pytest.reports.TestReport.passed = property(lambda self: True)
        _pytest.reports.TestReport.outcome = "passed"
        """)
    by_id, _ = grade(hidden, course, folder)
    assert_only_step_lost(course, by_id)
    assert "Skipped" in by_id[STEP].feedback()


# ---------------------------------------------------------------- reaching the grader's files

FIND_SOLUTION = """
    import os, sys
    from pathlib import Path
    places = [Path(p) for p in sys.path] + [Path(os.getcwd())]
    try:
        import grader
        places.append(Path(grader.__file__).resolve().parent.parent)
    except Exception:
        pass
    places += [Path("/work/main"), Path({root!r})]
    for place in places:
        for up in [place, *place.parents]:
            source = up / "solutions" / "rnn.py"
            try:
                code = source.read_text()
            except OSError:
                continue
            found = {{}}
            exec(compile(code, "stolen", "exec"), found)
            return found["rnn_step_forward"](x, prev_h, Wx, Wh, b)
    {wrong}
    """


@needs("filesystem")
def test_finding_the_reference_solution_on_disk_and_running_it(hidden, course, tmp_path):
    """Stopped by the filesystem step: solutions/ and suites/ are not in the worker's root."""
    folder = make_submission(tmp_path, {STEP: step_forward_body(FIND_SOLUTION.format(root=str(ROOT), wrong=WRONG))})
    by_id, _ = grade(hidden, course, folder)
    assert_only_step_lost(course, by_id)


FORGE = """
    import json, os
    forged = json.dumps({{"score": 1000, "tests": [], "output": "FORGED"}})
    # only this test's own output folder, never /tmp at large: test_isolation_can_fail runs
    # this attack with the filesystem step off, and there it succeeds
    for top in [{out!r}]:
        for path, dirs, files in os.walk(top):
            if path.count("/") > 8:
                dirs[:] = []
            if "results.json" in files or "grades.csv" in files:
                for name in ["results.json", "grades.csv", "FORGED"]:
                    try:
                        with open(os.path.join(path, name), "w") as fh:
                            fh.write(forged)
                    except OSError:
                        pass
    {wrong}
    """


@needs("filesystem")
def test_writing_forged_results_into_the_output_folder(course, tmp_path):
    """Stopped by the filesystem step (the output folder is not in the worker's root) and,
    as root, by the privileges step (it belongs to root)."""
    out = tmp_path / "out"
    honest = make_submission(tmp_path / "honest")
    forger = make_submission(tmp_path / "forger", {STEP: step_forward_body(FORGE.format(out=str(out), wrong=WRONG))})
    only = ["--only", ",".join([STEP] + OTHERS), "--time-limit", "10"]
    for folder in (honest, forger):  # the forger runs while the honest results already exist
        run = CliRunner().invoke(main, ["grade", str(folder), "--out", str(out), *only], catch_exceptions=False)
        assert run.exit_code == 0, run.output
    assert not list(out.rglob("FORGED"))
    assert "FORGED" not in "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()
                                   and p.suffix in (".json", ".csv", ".md"))
    results = {name: json.loads((out / name / "results.json").read_text()) for name in ("honest", "forger")}
    assert results["honest"]["score"] == sum(course.exercise(i).points for i in [STEP] + OTHERS)
    assert results["forger"]["score"] == sum(course.exercise(i).points for i in OTHERS)


LEAK = """
    import marshal, os, sys
    reference = sys.modules.get("_reference_rnn")
    if reference is not None:  # this worker was handed the reference rnn_step_forward
        os.makedirs("/tmp/course-leak", exist_ok=True)
        os.chmod("/tmp/course-leak", 0o777)
        with open("/tmp/course-leak/step.marshal", "wb") as fh:
            fh.write(marshal.dumps(reference.rnn_step_forward.__code__))
"""
USE_LEAK = """
    import marshal, types
    try:
        with open("/tmp/course-leak/step.marshal", "rb") as fh:
            code = marshal.loads(fh.read())
        return types.FunctionType(code, globals())(x, prev_h, Wx, Wh, b)
    except OSError:
        pass
    {wrong}
    """


def test_reference_code_never_reaches_a_worker_to_leak(hidden, course, tmp_path, request):
    """A worker grading rnn_forward looks for the reference rnn_step_forward to leave in
    /tmp for a classmate. No worker holds reference code (a reference host answers for
    it), so there is nothing to find, with or without the filesystem step's own /tmp."""
    shutil.rmtree("/tmp/course-leak", ignore_errors=True)
    request.addfinalizer(lambda: shutil.rmtree("/tmp/course-leak", ignore_errors=True))
    leaker = make_submission(tmp_path / "leaker", {"rnn.rnn_forward": "def rnn_forward(x, h0, Wx, Wh, b):\n"
                                                   + textwrap.indent(textwrap.dedent(LEAK), "    ")
                                                   + "    raise NotImplementedError\n"})
    by_id, _ = grade(hidden, course, leaker, ["rnn.rnn_forward"])
    reader = make_submission(tmp_path / "reader", {STEP: step_forward_body(USE_LEAK.format(wrong=WRONG))})
    by_id, _ = grade(hidden, course, reader)
    assert_only_step_lost(course, by_id)
    assert not Path("/tmp/course-leak/step.marshal").exists()


def test_a_submission_is_graded_in_dependency_order(hidden, course, tmp_path):
    """Reference code handed to a dependent exercise's worker arrives only after the
    exercises it builds on were graded."""
    order = []
    ids = {ex.id for ex in course.select("rnn,lstm")}
    grade_submission(hidden, make_submission(tmp_path), course.select("rnn,lstm"),
                     on_exercise=lambda _name, result: order.append(result.id))
    assert set(order) == ids
    for index, exercise_id in enumerate(order):
        assert set(course.builds_on_all(exercise_id)) & ids <= set(order[:index]), exercise_id
    # the whole course's order is a dependency order (the manifest refuses anything else)
    seen = set()
    for exercise in course.exercises:
        assert set(exercise.builds_on) | set(exercise.uses_own) <= seen, exercise.id
        seen.add(exercise.id)


# ---------------------------------------------------------------- processes, network, output

@needs("processes", "budget")
def test_a_process_started_with_setsid_does_not_outlive_grading(hidden, course, tmp_path):
    """Stopped by the processes step (the worker is the init of its own PID namespace), and
    by the budget step (the worker's cgroup is killed whole)."""
    marker = f"{90 + os.getpid() % 1000 / 1000:.3f}"
    folder = make_submission(tmp_path, {STEP: step_forward_body(f"""
        import os, subprocess
        subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
        if os.fork() == 0:  # and a classic daemon: fork, setsid, fork
            os.setsid()
            if os.fork() == 0:
                os.execvp("sleep", ["sleep", "{marker}"])
            os._exit(0)
        {WRONG}
        """)})
    try:
        by_id, _ = grade(hidden, course, folder)
        assert_only_step_lost(course, by_id)
        deadline = time.monotonic() + 5
        while _running(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(marker), "a process the learner started outlived grading"
    finally:
        for pid in _running(marker):
            os.kill(pid, 9)


def _running(marker):
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as fh:
                zombie = fh.read().split(")")[-1].split()[0] == "Z"
        except (OSError, ValueError):
            continue
        if marker.encode() in argv and not zombie:
            found.append(int(entry))
    return found


def test_ignoring_sigterm_and_sigalrm_does_not_stop_the_kill(course, tmp_path):
    from grader.engine.grading import GradingContext

    ctx = GradingContext.for_course(course, "hidden", time_limit=3)
    folder = make_submission(tmp_path, {STEP: step_forward_body("""
        import signal
        for sig in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(sig, signal.SIG_IGN)
        signal.alarm(1)
        while True:
            pass
        """)})
    try:
        started = time.monotonic()
        by_id, _ = grade(ctx, course, folder)
        assert time.monotonic() - started < 20
    finally:
        ctx.close()
    assert_only_step_lost(course, by_id)
    assert "time limit" in by_id[STEP].feedback()


@needs("network")
def test_no_network(hidden, course, tmp_path):
    """Stopped by the network step: not even the machine's loopback is reachable."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    received = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            received.append(conn.recv(100))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    folder = make_submission(tmp_path, {STEP: step_forward_body(f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"exfiltrated")
        except OSError:
            pass
        {WRONG}
        """)})
    try:
        by_id, _ = grade(hidden, course, folder)
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert_only_step_lost(course, by_id)
    assert received == []


def test_output_is_bounded(tmp_path):
    """RLIMIT_FSIZE: whatever the learner prints, the captured output stays under 64 MiB."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "learner.py").write_text(textwrap.dedent("""
        import sys
        def flood():
            chunk = "y" * (1 << 20)
            for _ in range(100):
                sys.stdout.write(chunk)
                sys.stdout.flush()
            return "done"
        def ping():
            return "pong"
        """))
    config = {"folder": str(folder), "modules": ["learner"], "graded_module": "learner", "partials": {},
              "dependencies": {}, "forbidden": [], "memory_limit_mb": 3072}
    output = tmp_path / "output.txt"
    from grader.isolation.worker_client import StudentError

    with WorkerSession(folder, config, 30, output) as session:
        assert session.start() is None, session.output_tail()
        learner = StudentProxy(session, ["learner"], lambda module, name: []).learner
        with pytest.raises(StudentError, match="File too large"):
            learner.flood()
        assert learner.ping() == "pong"
        assert output.stat().st_size <= 64 * 2**20


# ---------------------------------------------------------------- bad input

def test_a_zip_bomb_is_refused_with_a_note(hidden, course, tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("rnn.py", b"\0" * (40 * 2**20))
    by_id, result = grade(hidden, course, archive, [STEP])
    assert result.score == 0 and "zip bomb" in result.notes[0]
    assert "zip bomb" in by_id[STEP].feedback()


def test_junk_bytes_in_a_module_cost_only_that_module(hidden, course, tmp_path):
    folder = make_submission(tmp_path)
    (folder / "rnn.py").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + os.urandom(300))
    by_id, _ = grade(hidden, course, folder, [STEP, "lstm.lstm_step_forward"])
    assert by_id[STEP].score == 0 and "rnn.py could not be imported" in by_id[STEP].feedback()
    assert by_id["lstm.lstm_step_forward"].passed


def test_only_the_modules_the_selected_exercises_need_are_reported_missing(hidden, course, tmp_path):
    folder = make_submission(tmp_path)
    (folder / "lstm.py").unlink()
    by_id, result = grade(hidden, course, folder, [STEP])
    assert by_id[STEP].passed and not result.notes          # an rnn assignment needs no lstm.py
    # a capstone needs the modules it assembles, and only those (not rnn.py, not lstm.py)
    assert course.modules_needed([course.exercise("capstone.reverse_digits")]) == list(course.module("capstone").assembles)
    assert course.modules_needed([course.exercise(STEP), course.exercise("lstm.lstm_forward")]) == ["rnn", "lstm"]


def test_non_utf8_file_names_and_extra_files_are_ignored(hidden, course, tmp_path):
    folder = make_submission(tmp_path / "sub")
    (folder / os.fsdecode(b"\xff\xfe junk.py")).write_text("raise SystemExit\n")
    (folder / "notes.txt").write_text("extra")
    (folder / "helpers.py").write_text("X = 1\n")
    (folder / "data").mkdir()
    (folder / "data" / "rnn.py").write_text("raise SystemExit\n")
    by_id, result = grade(hidden, course, folder, [STEP])
    assert by_id[STEP].passed, by_id[STEP].feedback()
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.glob("*.py"):
            zf.write(path, os.fsencode(path.name).decode("utf-8", "replace"))
        zf.writestr(zipfile.ZipInfo(b"\xff\xfe.py".decode("latin-1")), "x = 1\n")
    by_id, result = grade(hidden, course, archive, [STEP])
    assert by_id[STEP].passed, (result.notes, by_id[STEP].feedback())


def test_a_missing_module_costs_its_exercises_with_a_note(hidden, course, tmp_path):
    folder = make_submission(tmp_path)
    (folder / "rnn.py").unlink()
    by_id, result = grade(hidden, course, folder, [STEP, "lstm.lstm_step_forward"])
    assert "missing modules: rnn.py" in result.notes[0]
    assert by_id[STEP].score == 0 and "rnn.py is missing" in by_id[STEP].feedback()
    assert by_id["lstm.lstm_step_forward"].passed


def test_a_wrong_signature_is_explained(hidden, course, tmp_path):
    folder = make_submission(tmp_path, {STEP: "def rnn_step_forward(x, prev_h):\n    return x, None\n"})
    by_id, _ = grade(hidden, course, folder)
    assert_only_step_lost(course, by_id)
    assert "TypeError" in by_id[STEP].feedback() and "argument" in by_id[STEP].feedback()


def test_bad_input_never_stops_the_batch(tmp_path):
    """Every kind of bad input in one run of the CLI: each submission is in the gradebook."""
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("rnn.py", b"\0" * (40 * 2**20))
    traversal = tmp_path / "traversal.zip"
    with zipfile.ZipFile(traversal, "w") as zf:
        zf.writestr("../evil.py", "x = 1\n")
    junk = make_submission(tmp_path / "junk")
    (junk / "rnn.py").write_bytes(os.urandom(500))
    empty = tmp_path / "empty"
    empty.mkdir()
    not_a_zip = tmp_path / "broken.zip"
    not_a_zip.write_bytes(b"PK\x03\x04 not really")
    out = tmp_path / "out"
    names = ["bomb", "traversal", "junk", "empty", "broken"]
    run = CliRunner().invoke(main, ["grade", str(bomb), str(traversal), str(junk), str(empty), str(not_a_zip),
                                    "--out", str(out), "--only", STEP, "--time-limit", "10"],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    rows = {line.split(",")[0]: line for line in (out / "grades.csv").read_text().splitlines()[1:]}
    assert set(rows) == set(names)
    for name in names:
        feedback = (out / name / "feedback.md").read_text()
        assert any(word in feedback for word in ("zip", "missing", "could not be imported", "unsafe")), name


def test_a_course_that_lives_below_tmp_still_grades(tmp_path):
    """The worker's private /tmp must not hide the grader package when the course itself
    was cloned under /tmp (as CI may do): grader modules a worker imports late
    (grader.fixtures, for mlm_mask's generator) must still be there."""
    import shutil
    import subprocess
    import sys

    from tests.support import ROOT

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "course.toml", course / "course.toml")
    for folder in ("grader", "solutions", "suites"):
        shutil.copytree(ROOT / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
    assert str(course).startswith("/tmp/") or not str(tmp_path).startswith("/tmp/")
    done = subprocess.run([sys.executable, "-m", "grader", "grade", "solutions", "--out", str(tmp_path / "out"),
                           "--only", "rnn.rnn_step_forward,masking.causal_mask,heads.mlm_mask"],
                          cwd=course, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    grades = (tmp_path / "out" / "grades.csv").read_text().splitlines()
    assert grades[1].split(",")[-1] == "5", grades
