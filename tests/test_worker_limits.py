"""One budget per worker (grader/isolation/limits.py) and no nested user namespaces (the sandbox's
``userns`` step).

The processes that join a budget here are started with plain ``python -c``: a test
process that has imported torch must not fork and carry on in Python. Where cgroups
cannot be made (an ordinary user, no delegation) the cgroup tests skip with the reason;
the rlimit fallback is tested everywhere, forced with ``GRADER_SANDBOX_SKIP=budget``.
"""

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.isolation import limits, sandbox
from grader.isolation.forkserver import ForkServer
from grader.isolation.worker_client import StudentProxy, WorkerSession, worker_env

pytestmark = pytest.mark.slow  # runs workers into their time and memory limits

ISOLATED = os.geteuid() == 0  # where every sandbox step applies (see tests/test_attacks.py)
MB = 2**20


def _budget(memory_mb, max_processes):
    budget = limits.WorkerBudget.create(memory_mb, max_processes)
    if budget.mode == "rlimits":
        budget.close()
        pytest.skip(f"no cgroups for workers here: {budget.note}")
    return budget


def _run(script, spec, *args, timeout=60, **kwargs):
    """``script`` in a fresh interpreter that joins the budget ``spec`` first."""
    code = "import json, sys\nfrom grader.isolation import limits\nSTEP = limits.join(json.loads(sys.argv[1]))\n"
    return subprocess.Popen([sys.executable, "-c", code + textwrap.dedent(script), json.dumps(spec), *map(str, args)],
                            stdout=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture
def no_cgroups(monkeypatch):
    monkeypatch.setenv(sandbox.SKIP_ENV, limits.STEP)


# ---------------------------------------------------------------- the cgroups

def test_a_budget_sets_memory_processes_and_an_equal_cpu_weight_and_leaves_nothing_behind():
    budget = _budget(256, 16)
    folders = dict(budget.folders)
    try:
        assert set(folders) == {"memory", "pids", "cpu"}, budget.note
        read = lambda controller, *names: next(  # noqa: E731
            Path(folders[controller], n).read_text().strip() for n in names if Path(folders[controller], n).exists())
        assert read("memory", "memory.max", "memory.limit_in_bytes") == str(256 * MB)
        assert read("pids", "pids.max") == "16"
        assert read("cpu", "cpu.weight", "cpu.shares") == str(100 if budget.mode == "cgroup v2" else 1024)
        for folder in set(folders.values()):
            assert Path(folder).name.startswith(f"course-grader-{os.stat('/proc/self/ns/pid').st_ino}-{os.getpid()}-")
    finally:
        budget.close()
    assert not any(Path(f).exists() for f in folders.values())
    budget.close()  # twice is harmless


def test_four_children_share_one_memory_budget():
    """The attack: four children of 1.2 GB each held 5 GB under a per-process limit. Here,
    scaled down: a 1 GB budget, four children of 400 MB each, all holding at once."""
    budget = _budget(1024, 64)
    script = """
        import os, time
        kids = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                block = b"x" * (400 * 2**20)   # every page written
                time.sleep(3)
                os._exit(0)
            kids.append(pid)
        print(json.dumps([STEP, [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in kids]]))
        """
    with budget:
        process = _run(script, budget.spec)
        out, _ = process.communicate(timeout=60)
        step, codes = json.loads(out)
        assert step[1], step
        assert codes.count(-signal.SIGKILL) >= 2, codes     # at most two fit in 1 GB
        assert budget.out_of_memory()
        assert budget.peak_memory_bytes() <= 1024 * MB
    assert budget.out_of_memory() and budget.peak_memory_bytes()  # still known after close


def test_a_fork_bomb_stops_at_the_process_limit_and_kill_ends_it_all():
    budget = _budget(256, 16)
    script = """
        import os, time
        count = 0
        try:
            while count < 1000:
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                count += 1
        except OSError:
            pass
        print(count, flush=True)
        time.sleep(60)
        """
    with budget:
        process = _run(script, budget.spec)
        count = int(process.stdout.readline())
        assert count <= 15, count  # pids.max counts the process itself too
        assert len(budget._procs()) == count + 1
        budget.kill()
        assert process.wait(timeout=10) == -signal.SIGKILL
        assert budget._procs() == set()


def test_with_a_cgroup_there_is_no_address_space_limit():
    """A library may reserve far more address space than it uses (the CUDA build of torch
    reserves 3.2 GB at import): the cgroup counts memory used, so RLIMIT_AS stays off."""
    budget = _budget(512, 64)
    script = """
        import mmap, resource
        reserved = mmap.mmap(-1, 4 << 30, prot=0,  # PROT_NONE, MAP_NORESERVE: address space only
                             flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000)
        block = b"x" * (200 * 2**20)
        print(json.dumps([STEP, resource.getrlimit(resource.RLIMIT_AS)[0]]))
        """
    with budget:
        out, _ = _run(script, budget.spec).communicate(timeout=60)
    step, limit = json.loads(out)
    assert step[1] and limit == resource.RLIM_INFINITY, step


def test_stale_cgroups_of_a_dead_grading_process_are_removed(monkeypatch):
    budget = _budget(256, 16)
    budget.close()
    parents = {os.path.dirname(f) for f in budget.folders.values()}
    dead = subprocess.Popen(["true"])
    dead.wait()
    namespace = os.stat("/proc/self/ns/pid").st_ino
    stale = [os.path.join(p, f"course-grader-{namespace}-{dead.pid}-1") for p in parents]
    other_namespace = [os.path.join(p, f"course-grader-{namespace + 1}-{dead.pid}-1") for p in parents]
    for folder in stale + other_namespace:
        os.mkdir(folder)
    leftover = subprocess.Popen(["sleep", "60"])
    try:
        Path(stale[0], "cgroup.procs").write_text(str(leftover.pid))
        monkeypatch.setattr(limits, "_cleaned", set())
        limits.WorkerBudget.create(256, 16).close()
        assert not any(os.path.exists(f) for f in stale)
        assert leftover.wait(timeout=5) == -signal.SIGKILL  # a worker it left behind
        assert all(os.path.exists(f) for f in other_namespace)  # another PID namespace's: not ours to judge
    finally:
        leftover.kill()
        for folder in stale + other_namespace:
            limits._rmdir(folder)


def test_the_sandbox_report_names_the_budget():
    out = subprocess.run(sandbox.python_command("grader.isolation.sandbox"), cwd=sandbox.empty_folder(),
                         capture_output=True, text=True, timeout=60).stdout
    assert out.startswith("limits: ") and limits.describe() in out
    assert any(line.split()[1:2] == ["budget"] for line in out.splitlines()[1:]), out


def test_cgroup_v2_workers_go_below_our_cgroup_or_beside_it(tmp_path, monkeypatch):
    """On a model of the files (this machine's cgroup v2 holds no controllers): a cgroup
    that holds processes cannot hand controllers down, unless it is the root; then its
    parent, which hands them to it, takes the workers' cgroups beside it."""
    import errno

    root = tmp_path / "cgroup"

    def cgroup(path, offered, enabled):
        folder = root / path.lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cgroup.controllers").write_text(offered)
        (folder / "cgroup.subtree_control").write_text(enabled)

    def write(path, text):
        if path.endswith("cgroup.subtree_control"):
            if "session" in path:  # it holds the grader
                raise OSError(errno.EBUSY, "Device or resource busy")
            Path(path).write_text(" ".join(sorted(Path(path).read_text().split() + [w[1:] for w in text.split()])))

    monkeypatch.setattr(limits, "_write", write)
    mounts = [("cgroup2", "/", str(root), set())]
    everything = {"cpu", "memory", "pids"}
    cgroup("/", "cpu io memory pids", "cpu memory pids")
    cgroup("/user.slice", "cpu memory pids", "cpu memory pids")
    cgroup("/user.slice/session-1.scope", "cpu memory pids", "")
    assert limits._v2_parent(mounts, {"": "/user.slice/session-1.scope"}) == (str(root / "user.slice"), "", everything)
    cgroup("/", "cpu io memory pids", "")
    assert limits._v2_parent(mounts, {"": "/"}) == (str(root), "", everything)
    cgroup("/user.slice", "cpu", "cpu")
    folder, reason, _ = limits._v2_parent(mounts, {"": "/user.slice/session-1.scope"})
    assert folder is None and "holds processes" in reason
    assert limits._v2_parent([], {"": "/"})[0] is None
    # a hierarchy mounted from below its root (a container's view) shows only what is below
    assert limits._folder("/sys/fs/cgroup", "/docker/abc", "/docker/abc/grader") == "/sys/fs/cgroup/grader"
    assert limits._folder("/sys/fs/cgroup", "/docker/abc", "/docker/other") is None


# ---------------------------------------------------------------- the fallback: rlimits

def test_without_cgroups_the_budget_falls_back_to_rlimits_and_says_so(no_cgroups):
    budget = limits.WorkerBudget.create(512, 16)
    assert budget.mode == "rlimits" and budget.folders == {} and "switched off" in budget.note
    assert "rlimits only" in limits.describe()
    budget.kill()
    budget.close()
    assert budget.peak_memory_bytes() is None and not budget.out_of_memory()


def test_the_rlimit_fallback_bounds_allocation_not_reserved_address_space(no_cgroups):
    """With 4 GB of address space reserved before joining (as the CUDA build of torch does
    at import), 200 MB can still be allocated, and 1100 MB (more than the budget) cannot.
    The old fixed RLIMIT_AS (3 GB) refuses even the 200 MB."""
    budget = limits.WorkerBudget.create(512, 64)
    script = """
        import mmap, resource
        reserved = mmap.mmap(-1, 4 << 30, prot=0,  # PROT_NONE, MAP_NORESERVE: address space only
                             flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000)
        if sys.argv[2] == "old":
            resource.setrlimit(resource.RLIMIT_AS, (3072 * 2**20, 3072 * 2**20))
        else:
            STEP = limits.join(json.loads(sys.argv[3]))
        results = []
        for size in (200, 1100):
            try:
                block = b"x" * (size * 2**20)
                results.append(True)
            except MemoryError:
                results.append(False)
            block = None
        print(json.dumps([STEP, results]))
        """
    runs = {}
    for how in ("new", "old"):  # the first join (of no budget) does nothing: the real one comes later
        out, _ = _run(script, None, how, json.dumps(budget.spec)).communicate(timeout=60)
        runs[how] = json.loads(out)
    step, results = runs["new"]
    assert not step[1] and "address space" in step[2], step
    assert results == [True, False]
    assert runs["old"][1] == [False, False]


def test_the_rlimit_fallback_stops_a_fork_bomb(no_cgroups):
    budget = limits.WorkerBudget.create(256, 16)
    script = """
        import os, resource, time
        if os.geteuid() == 0:  # as the privileges step makes a worker: the limit is not for root
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
        limit = resource.getrlimit(resource.RLIMIT_NPROC)[0]
        kids = []
        try:
            while len(kids) < 1000:
                pid = os.fork()
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                kids.append(pid)
        except OSError:
            pass
        for pid in kids:
            os.kill(pid, 9)
        print(json.dumps([STEP, limit, len(kids)]))
        """
    out, _ = _run(script, budget.spec).communicate(timeout=60)
    step, limit, forked = json.loads(out)
    assert "at most" in step[2] and "processes" in step[2], step
    assert limit < 1000 and forked < limit, (limit, forked)


def test_the_address_space_limit_is_what_the_process_has_plus_the_budget():
    before = limits._vm_size()
    assert before > 0
    assert before + 100 * MB <= limits.address_space_limit(100 * MB) < before + 200 * MB
    assert limits.address_space_limit(100 * MB, baseline=before + 10**12) == before + 10**12 + 100 * MB


# ---------------------------------------------------------------- a forked worker's budget

LEARNER = textwrap.dedent('''
    import ctypes, os, subprocess, threading

    def hog(mb):
        return len(b"x" * (mb * 2**20))

    def huge_result():
        import numpy as np
        return np.zeros(80 * 2**20 // 8)

    def nested_user_namespace():
        """The exit status of a child that tried to make a user namespace: 0 if it could,
        else the errno (a child: a process with threads may not)."""
        pid = os.fork()
        if pid == 0:
            libc = ctypes.CDLL(None, use_errno=True)
            os._exit(0 if libc.unshare(0x10000000) == 0 else ctypes.get_errno())
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    def busy_libraries():
        import numpy as np
        import torch
        torch.set_num_threads(2)
        a = torch.randn(300, 300)
        seen = []
        thread = threading.Thread(target=lambda: seen.append(float(np.linalg.norm(np.ones(4)))))
        thread.start()
        thread.join()
        done = subprocess.run(["true"]).returncode
        return float((a @ a).abs().sum()) > 0, seen, done
''')


class BudgetedLauncher:
    """A fork server that hands each worker a budget (until worker_client.py makes one per session)."""

    def __init__(self, server, budget):
        self.server, self.budget = server, budget

    def kept_budget(self, preload=()):
        return None                         # no budget of its own: each worker joins the one given

    def spawn(self, sock, output_fd, cwd, budget=None):
        return self.server.spawn(sock, output_fd, cwd, self.budget.spec)


@pytest.fixture(scope="module")
def server():
    launcher = ForkServer(worker_env("/tmp"), ["torch"])
    yield launcher
    launcher.close()


def _session(tmp_path, launcher):
    folder = tmp_path / "work"
    folder.mkdir(exist_ok=True)
    (folder / "learner.py").write_text(LEARNER)
    config = {"folder": str(folder), "modules": ["learner"], "graded_module": "learner", "partials": {},
              "dependencies": {}, "forbidden": [], "memory_limit_mb": 0}
    session = WorkerSession(folder, config, 60, tmp_path / "output.txt", launcher)
    assert session.start() is None, session.output_tail()
    return session, StudentProxy(session, ["learner"], lambda module, name: []).learner


def test_a_forked_worker_joins_its_budget_and_the_limit_holds(server, tmp_path):
    from grader.isolation.worker_client import WorkerDied

    budget = _budget(300, 64)
    with budget:
        session, learner = _session(tmp_path, BudgetedLauncher(server, budget))
        with session:
            assert [s for s in session.sandbox if s[0] == "budget"][0][1], session.sandbox
            pid = session.worker_pid or session.process.pid
            assert pid in budget._procs()
            assert learner.hog(100) == 100 * MB
            with pytest.raises(WorkerDied, match="SIGKILL"):
                learner.hog(400)
        assert budget.out_of_memory()


@pytest.mark.parametrize("forked", [True, False])
def test_every_session_gives_its_worker_a_budget_and_says_when_it_ran_out(server, tmp_path, forked):
    """Forked or started from scratch, a worker is in a budget of its session's memory
    limit, and a worker the OOM killer ended is reported as out of memory; its cgroups go
    with the session. Passes once worker_client.WorkerSession makes a WorkerBudget per worker."""
    from grader.isolation.worker_client import WorkerDied

    _budget(16, 16).close()  # skips where there are no cgroups
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "learner.py").write_text(LEARNER)
    config = {"folder": str(folder), "modules": ["learner"], "graded_module": "learner", "partials": {},
              "dependencies": {}, "forbidden": [], "memory_limit_mb": 300}
    with WorkerSession(folder, config, 60, tmp_path / "output.txt", server if forked else None) as session:
        assert session.start() is None, session.output_tail()
        assert [s for s in session.sandbox if s[0] == "budget"][0][1], session.sandbox
        learner = StudentProxy(session, ["learner"], lambda module, name: []).learner
        assert learner.hog(100) == 100 * MB
        with pytest.raises(WorkerDied, match=r"ran out of memory \(the limit is 300 MB\)"):
            learner.hog(400)
    probe = limits.WorkerBudget.create(16, 16)
    probe.close()
    mine = f"course-grader-{os.stat('/proc/self/ns/pid').st_ino}-{os.getpid()}-"
    servers = {os.path.basename(f) for f in (server.budget.folders.values() if server.budget else ())}
    assert not [e for p in {os.path.dirname(f) for f in probe.folders.values()} for e in os.listdir(p)
                if e.startswith(mine) and e not in servers]   # the fork server's own budget lasts with it


# ---------------------------------------------------------------- no nested user namespaces

@pytest.mark.parametrize("skip", ["", "userns"])
def test_learner_code_cannot_make_a_user_namespace(tmp_path, monkeypatch, skip):
    """Stopped by the userns step: with GRADER_SANDBOX_SKIP=userns the same code can."""
    monkeypatch.setenv(sandbox.SKIP_ENV, skip)
    launcher = ForkServer(worker_env("/tmp"), [])
    try:
        session, learner = _session(tmp_path, launcher)
        with session:
            step = [s for s in session.sandbox if s[0] == "userns"][0]
            if skip:
                assert not step[1]
                made = learner.nested_user_namespace()
                if made != 0 and not ISOLATED:
                    pytest.skip(f"this machine refuses nested user namespaces anyway ({os.strerror(made)})")
                assert made == 0
            else:
                if not step[1] and not ISOLATED:
                    pytest.skip(f"the userns step does not apply here: {step[2]}")
                assert step[1], step
                assert learner.nested_user_namespace() == 1  # EPERM
    finally:
        launcher.close()


def test_a_result_larger_than_a_message_is_the_learners_error_and_the_worker_goes_on(server, tmp_path):
    """80 MB cannot cross (a message is at most 64 MB): the learner is told so, and the
    grader never reads it. Passes once worker.Worker.reply catches wire.MessageTooLarge."""
    from grader.isolation.worker_client import StudentError

    session, learner = _session(tmp_path, server)
    with session:
        with pytest.raises(StudentError, match="larger than 64 MB"):
            learner.huge_result()
        assert learner.hog(1) == MB


def test_numpy_torch_threads_and_subprocesses_still_work_under_the_filter(server, tmp_path):
    session, learner = _session(tmp_path, server)
    with session:
        assert learner.busy_libraries() == (True, [2.0], 0)


def test_workers_born_in_the_budget_their_fork_server_keeps(tmp_path):
    """A fork server made for a memory limit enters one budget, once, and forks its workers
    inside it (no cgroup move per worker); one worker after another: each out-of-memory is
    its own, the server survives it, and the next worker is served."""
    from grader.isolation.worker_client import WorkerDied

    _budget(16, 16).close()  # skips where there are no cgroups
    launcher = ForkServer(worker_env("/tmp"), ["torch"], 300)
    try:
        kept = launcher.kept_budget()
        assert kept is not None and kept.keeper == launcher._process.pid
        config = {"folder": "", "modules": ["learner"], "graded_module": "learner", "forbidden": [],
                  "memory_limit_mb": 300}
        for round_ in range(2):
            folder = tmp_path / f"work{round_}"
            folder.mkdir()
            (folder / "learner.py").write_text(LEARNER)
            config["folder"] = str(folder)
            with WorkerSession(folder, config, 60, tmp_path / f"out{round_}.txt", launcher) as session:
                assert session.start() is None, session.output_tail()
                assert session.budget is kept and "budget" in {s[0] for s in session.sandbox if s[1]}
                learner = StudentProxy(session, ["learner"], lambda module, name: []).learner
                assert learner.hog(100) == 100 * MB
                with pytest.raises(WorkerDied, match=r"ran out of memory \(the limit is 300 MB\)"):
                    learner.hog(400)
            assert kept._procs() == set()          # the session's processes are gone, the server stays
    finally:
        launcher.close()
