"""One budget per worker: memory, processes and CPU shared by everything it starts.

A worker may start processes of its own (``subprocess``, ``os.fork``). Limits of one
process cannot hold those: under ``RLIMIT_AS`` four children of 1.2 GB each held 5 GB,
and 32 busy children took 32 shares of the CPU from a classmate's worker. So the
grader makes a cgroup for each worker (:class:`WorkerBudget`), and the worker joins it
right after the fork, before :mod:`grader.isolation.sandbox` hides ``/sys`` (:func:`join`):

``memory``  one limit for the worker and all its processes, with no swap; past it the
            kernel's OOM killer ends one of them, and the grader can tell
            (:meth:`WorkerBudget.out_of_memory`).
``pids``    at most ``max_processes`` processes and threads in all.
``cpu``     every worker has the same weight, however many processes it starts: they
            share it.

cgroup v2 is used where the grader's cgroup (or its parent) hands these controllers
down, else cgroup v1 (a hierarchy per controller). A controller that neither offers
falls back to a limit of the worker's own process, which bounds each of its processes
but not their sum: ``RLIMIT_AS`` (the address space the process had after its imports,
plus the memory budget, so that libraries that reserve address space without using it,
like the CUDA build of torch, do not eat the budget) and ``RLIMIT_NPROC`` (processes
of the worker's user, a few more than it has). ``GRADER_SANDBOX_SKIP=budget`` forces
that fallback; ``python -m grader.isolation.sandbox`` prints what applies here.

A fork server keeps one budget for the workers it forks (:func:`enter_as_keeper`): it
moves into the cgroups once, and each worker is born inside, since moving every worker
cost several milliseconds (the kernel waits for an RCU grace period on a cgroup move).
Its workers take the budget in turn, each killed at the end of its exercise; they are the
OOM killer's first choice, so the server survives them.

A cgroup is named ``course-grader-<pid namespace>-<pid>-<n>`` after the grading process
that made it. It is removed when its worker is closed; those of grading processes that
died are removed by the next grading process that makes one.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import re
import resource
import signal
import threading
import time

STEP = "budget"
WORKER_PROCESSES = 64             # processes and threads of a worker, all it starts included
PREFIX = "course-grader-"
CONTROLLERS = ("memory", "pids", "cpu")
CPU_SHARES = 1024                 # cgroup v1: the default weight, the same for every worker
CPU_WEIGHT = 100                  # cgroup v2: likewise
REMOVE_SECONDS = 2.0              # how long close() waits for the last processes to leave

log = logging.getLogger(__name__)
_counter = itertools.count(1)
_lock = threading.Lock()
_cleaned: set[str] = set()        # parent folders already rid of stale cgroups by this process
_broken: dict[str, str] = {}      # parent folder -> why making a cgroup there failed


# ---------------------------------------------------------------- small helpers

def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def _write(path: str, text: str) -> None:
    """One write(2) of ``text``: cgroup files take a value per write."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _status(field: str, pid: str = "self") -> list[str]:
    try:
        for line in _read(f"/proc/{pid}/status").splitlines():
            if line.startswith(field + ":"):
                return line.split()[1:]
    except OSError:
        pass
    return []


def _vm_size() -> int:
    """This process's address space, in bytes (0 if /proc cannot tell)."""
    value = _status("VmSize")
    return int(value[0]) * 1024 if value else 0


def _pid_namespace() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _unescape(text: str) -> str:
    """Mount points in mountinfo write a space as \\040."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _mb(size: int) -> str:
    return f"{size / 2**20:.0f} MB"


# ---------------------------------------------------------------- where cgroups can go

def _own_cgroups() -> dict[str, str]:
    """Controller -> this process's cgroup path in its hierarchy ("" for cgroup v2)."""
    found: dict[str, str] = {}
    try:
        text = _read("/proc/self/cgroup")
    except OSError:
        return found
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        number, names, path = parts
        if number == "0" and names == "":
            found[""] = path
        for name in names.split(","):
            if name:
                found[name] = path
    return found


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(type, root, mount point, options) of every cgroup file system mounted here."""
    found = []
    try:
        text = _read("/proc/self/mountinfo")
    except OSError:
        return found
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        found.append((tail[0], _unescape(fields[3]), _unescape(fields[4]), set(tail[2].split(","))))
    return found


def _folder(point: str, root: str, path: str) -> str | None:
    """Where cgroup ``path`` is, in a hierarchy whose ``root`` is mounted at ``point``."""
    if root != "/" and not (path == root or path.startswith(root.rstrip("/") + "/")):
        return None  # a cgroup this mount does not show
    rel = path[len(root):] if root != "/" else path
    return os.path.join(point, rel.lstrip("/")).rstrip("/") or "/"


def _v2_parent(mounts, own) -> tuple[str | None, str, set[str]]:
    """A cgroup v2 folder whose children get memory and pids (and cpu, if offered): this
    process's own cgroup if it hands them down (or can be made to: only a cgroup without
    processes, or the root, can), else its parent, which hands them to ours and so can
    to siblings of ours. Returns (folder, why there is none, the controllers handed down)."""
    if "" not in own:
        return None, "no cgroup v2 here", set()
    for kind, root, point, _options in mounts:
        if kind != "cgroup2":
            continue
        here = _folder(point, root, own[""])
        if here is None:
            continue
        candidates = [here] + ([os.path.dirname(here)] if here.rstrip("/") != point.rstrip("/") else [])
        reason = "cgroup v2 offers no memory and pids controllers here"
        for index, folder in enumerate(candidates):
            try:
                offered = set(_read(os.path.join(folder, "cgroup.controllers")).split())
                enabled = set(_read(os.path.join(folder, "cgroup.subtree_control")).split())
            except OSError:
                continue
            if not {"memory", "pids"} <= offered:
                continue
            wanted = {c for c in CONTROLLERS if c in offered}
            if index == 0 and wanted - enabled:
                try:  # refused when the cgroup holds processes and is not the root
                    _write(os.path.join(folder, "cgroup.subtree_control"),
                           " ".join("+" + c for c in sorted(wanted - enabled)))
                    enabled = set(_read(os.path.join(folder, "cgroup.subtree_control")).split())
                except OSError as exc:
                    reason = (f"cgroup v2: {folder} holds processes, so it cannot hand controllers to "
                              f"cgroups of its own ({exc.strerror})")
            if {"memory", "pids"} <= enabled and os.access(folder, os.W_OK):
                return folder, "", enabled & set(CONTROLLERS)
            if {"memory", "pids"} <= enabled:
                reason = f"cgroup v2: no permission to make cgroups in {folder}"
        return None, reason, set()
    return None, "no cgroup v2 here", set()


@functools.lru_cache(maxsize=None)
def _places() -> tuple[str, dict[str, str], str]:
    """How worker cgroups are made here: ("cgroup v2" | "cgroup v1" | "rlimits",
    {controller: parent folder}, why controllers are missing)."""
    mounts, own = _mounts(), _own_cgroups()
    parent, v2_reason, handed = _v2_parent(mounts, own)
    if parent is not None:
        why = "" if "cpu" in handed else "cgroup v2 hands no cpu controller down"
        return "cgroup v2", {c: parent for c in CONTROLLERS if c in handed}, why
    parents, reasons = {}, []
    for controller in CONTROLLERS:
        mount = next((m for m in mounts if m[0] == "cgroup" and controller in m[3]), None)
        folder = _folder(mount[2], mount[1], own[controller]) if mount and controller in own else None
        if folder is None:
            reasons.append(f"no cgroup v1 {controller} controller")
        elif not os.access(folder, os.W_OK):
            reasons.append(f"no permission to make cgroups in {folder}")
        else:
            parents[controller] = folder
    if parents:
        return "cgroup v1", parents, "; ".join(reasons)
    return "rlimits", {}, "; ".join(reasons) if any(m[0] == "cgroup" for m in mounts) else v2_reason


def _skipped() -> bool:
    from grader.isolation import sandbox

    return STEP in sandbox.skipped()


def describe() -> str:
    """Which of cgroup v2, cgroup v1 or rlimits bound a worker here, in one line."""
    if _skipped():
        return "rlimits only: cgroups switched off (GRADER_SANDBOX_SKIP)"
    mode, parents, reason = _places()
    usable = {c: p for c, p in parents.items() if p not in _broken}
    missing = [c for c in CONTROLLERS if c not in usable]
    if not usable:
        why = reason or "; ".join(sorted(set(_broken.values())))
        return f"rlimits only (address space and process count per process): {why}"
    if mode == "cgroup v2":
        text = f"cgroup v2 under {next(iter(usable.values()))}: {', '.join(usable)}"
    else:
        text = "cgroup v1: " + ", ".join(f"{c} under {p}" for c, p in usable.items())
    if missing:
        text += f"; rlimits for {', '.join(missing)} ({reason or 'not available'})"
    return text


# ---------------------------------------------------------------- the grader's side

class WorkerBudget:
    """The cgroups of one worker, from the grader's side. ``spec`` travels to the worker,
    which joins them (:func:`join`); ``close`` kills what is left and removes them."""

    def __init__(self, memory_mb: int, max_processes: int, mode: str, folders: dict[str, str], note: str):
        self.memory_mb = int(memory_mb)
        self.max_processes = int(max_processes)
        self.mode = mode                     # "cgroup v2", "cgroup v1" or "rlimits"
        self.folders = folders               # controller -> this worker's cgroup folder
        self.note = note                     # why a controller falls back to an rlimit
        self.baseline = _vm_size()           # see address_space_limit
        self.keeper: int | None = None       # a fork server living inside (see enter_as_keeper): never killed
        self._closed = False
        self._final: tuple[int | None, bool] | None = None
        self._oom_before = 0

    @classmethod
    def create(cls, memory_mb: int, max_processes: int) -> "WorkerBudget":
        """A budget for one worker. Never fails: where a controller's cgroup cannot be
        made, the worker falls back to an rlimit for it, and ``note`` says why."""
        mode, parents, note = ("rlimits", {}, "switched off") if _skipped() else _places()
        wanted = [c for c in CONTROLLERS if c != "memory" or memory_mb > 0]
        folders: dict[str, str] = {}
        with _lock:
            for parent in {parents[c] for c in wanted if c in parents} - set(_broken):
                if parent not in _cleaned:
                    _cleaned.add(parent)
                    _remove_stale(parent)
            name = f"{PREFIX}{_pid_namespace()}-{os.getpid()}-{next(_counter)}"
        for controller in wanted:
            parent = parents.get(controller)
            if parent is None or parent in _broken:
                continue
            folder = os.path.join(parent, name)
            try:
                if folder not in folders.values():
                    os.mkdir(folder, 0o755)
                _configure(mode, controller, folder, memory_mb, max_processes)
            except OSError as exc:
                _broken[parent] = f"cannot make cgroups in {parent} ({exc.strerror or exc})"
                log.warning("worker budget: %s; rlimits instead", _broken[parent])
                if folder not in folders.values():
                    _rmdir(folder)
                continue
            folders[controller] = folder
        if not folders:
            mode = "rlimits"
        notes = [note] + [_broken[parents[c]] for c in wanted if parents.get(c) in _broken]
        return cls(memory_mb, max_processes, mode, folders, "; ".join(n for n in notes if n))

    @property
    def spec(self) -> dict:
        """Plain data for the worker's side (:func:`join`)."""
        return {"memory_mb": self.memory_mb, "max_processes": self.max_processes, "mode": self.mode,
                "cgroups": dict(self.folders), "note": self.note, "baseline": self.baseline}

    def begin(self) -> None:
        """A new worker in a budget that workers take in turn (a fork server's): its
        out-of-memory and peak figures start from here."""
        self._oom_before = self._oom_kills()
        folder = self.folders.get("memory")
        if folder is not None:
            try:
                _write(os.path.join(folder, "memory.max_usage_in_bytes"), "0")
            except OSError:
                pass

    def _procs(self) -> set[int]:
        pids: set[int] = set()
        for folder in set(self.folders.values()):
            try:
                pids.update(int(p) for p in _read(os.path.join(folder, "cgroup.procs")).split())
            except (OSError, ValueError):
                pass
        return pids - {self.keeper}

    def kill(self) -> None:
        """SIGKILL every process in the budget's cgroups (nothing without cgroups), but
        the fork server that keeps it."""
        for folder in set(self.folders.values()) if self.keeper is None else ():
            try:  # cgroup v2 (Linux 5.14): the kernel kills them all, forks in flight too
                _write(os.path.join(folder, "cgroup.kill"), "1")
            except OSError:
                pass
        for _ in range(50):
            pids = self._procs()
            if not pids:
                return
            # a pidfd holds on to the very process: a pid reused in between is not killed
            handles = []
            for pid in pids:
                try:
                    handles.append((pid, os.pidfd_open(pid)))
                except OSError:
                    pass
            still = self._procs()
            for pid, fd in handles:
                try:
                    if pid in still:
                        signal.pidfd_send_signal(fd, signal.SIGKILL)
                except OSError:
                    pass
                finally:
                    os.close(fd)
            time.sleep(0.001)

    def close(self) -> None:
        """Kill what is left, then remove the cgroups (the figures stay readable)."""
        if self._closed:
            return
        self._final = (self.peak_memory_bytes(), self.out_of_memory())
        self._closed = True
        self.kill()
        deadline = time.monotonic() + REMOVE_SECONDS
        for folder in sorted(set(self.folders.values())):
            while not _rmdir(folder) and time.monotonic() < deadline:
                self.kill()  # a process that was still forking, or one on its way out
                time.sleep(0.005)
            if os.path.isdir(folder):
                log.warning("worker budget: could not remove %s; the next grading run will", folder)

    def peak_memory_bytes(self) -> int | None:
        """The most memory the worker's processes held at once, where the cgroup tells."""
        if self._final is not None:
            return self._final[0]
        folder = self.folders.get("memory")
        for name in ("memory.peak", "memory.max_usage_in_bytes"):
            try:
                return int(_read(os.path.join(folder, name)))
            except (OSError, ValueError, TypeError):
                continue
        return None

    def out_of_memory(self) -> bool:
        """Whether the OOM killer ended a process of the worker (cgroups only)."""
        if self._final is not None:
            return self._final[1]
        return self._oom_kills() > self._oom_before

    def _oom_kills(self) -> int:
        folder = self.folders.get("memory")
        for name in ("memory.events", "memory.oom_control"):
            try:
                text = _read(os.path.join(folder, name))
            except (OSError, TypeError):
                continue
            counts = dict(line.split()[:2] for line in text.splitlines() if len(line.split()) >= 2)
            return int(counts.get("oom_kill", 0))
        return 0

    def __enter__(self) -> "WorkerBudget":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _configure(mode: str, controller: str, folder: str, memory_mb: int, max_processes: int) -> None:
    def put(name: str, value: str, optional: bool = False) -> None:
        try:
            _write(os.path.join(folder, name), value)
        except OSError:
            if not optional:
                raise

    memory = str(int(memory_mb) * 2**20)
    if mode == "cgroup v2":
        if controller == "memory":
            put("memory.max", memory)
            put("memory.swap.max", "0", optional=True)     # absent without swap accounting
            put("memory.oom.group", "1", optional=True)    # out of memory: the whole worker ends
        elif controller == "pids":
            put("pids.max", str(max_processes))
        else:
            put("cpu.weight", str(CPU_WEIGHT), optional=True)
        return
    if controller == "memory":
        put("memory.limit_in_bytes", memory)
        put("memory.memsw.limit_in_bytes", memory, optional=True)   # memory plus swap: so no swap
        put("memory.swappiness", "0", optional=True)
    elif controller == "pids":
        put("pids.max", str(max_processes))
    else:
        put("cpu.shares", str(CPU_SHARES))


def _rmdir(folder: str) -> bool:
    try:
        os.rmdir(folder)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _remove_stale(parent: str) -> None:
    """Remove cgroups left by grading processes of this PID namespace that died (and any
    with this process's pid: it has made none yet, so they are a dead one's)."""
    pattern = re.compile(re.escape(f"{PREFIX}{_pid_namespace()}-") + r"(\d+)-\d+$")
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry)
        if not match:
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and _alive(pid):
            continue
        stale = WorkerBudget(0, 0, "stale", {"memory": os.path.join(parent, entry)}, "")
        stale._final = (None, False)
        stale.close()


# ---------------------------------------------------------------- the worker's side

def address_space_limit(memory_bytes: int, baseline: int = 0) -> int:
    """An RLIMIT_AS that bounds what the code allocates, not what libraries reserve: the
    address space this process already has (after the fork server's imports; or
    ``baseline``, the grader's, when the imports are yet to come) plus ``memory_bytes``."""
    return max(_vm_size(), int(baseline)) + int(memory_bytes)


def _tasks_of(uid: int) -> int:
    """Processes and threads of user ``uid`` (what RLIMIT_NPROC counts). A process's
    /proc folder belongs to its user, and its stat line holds its thread count: cheaper
    than reading every status file (the fallback pays this for every worker)."""
    total = 0
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return 0
    for entry in entries:
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/stat", "rb") as fh:
                total += int(fh.read().rsplit(b")", 1)[1].split()[17])   # num_threads, field 20
        except (OSError, ValueError, IndexError):
            continue
    return total


def _set_limit(which: int, value: int) -> int:
    """Lower ``which`` to ``value`` (never above its hard limit); returns the limit set."""
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    if soft != resource.RLIM_INFINITY and soft < value:
        return soft
    resource.setrlimit(which, (value, value))  # the hard limit too: the learner cannot raise it
    return value


def enter_as_keeper(spec: dict) -> bool:
    """In a fork server, once, after its imports (their memory stays charged where it was):
    move into the budget's cgroups, so that every worker it forks is born inside. Moving
    each worker instead cost several milliseconds: the kernel waits for an RCU grace
    period on a cgroup move. False where that cannot be done: each worker then joins a
    budget of its own."""
    folders = sorted(set((spec.get("cgroups") or {}).values()))
    try:
        for folder in folders:
            _write(os.path.join(folder, "cgroup.procs"), "0")
    except OSError:
        return False
    return bool(folders)


def leave_keeper() -> None:
    """In a worker forked by a keeping server: the OOM killer picks the worker's processes
    first (the server, the largest process, must survive its workers)."""
    try:
        _write("/proc/self/oom_score_adj", "1000")   # raising it needs no privilege
    except OSError:
        pass


def join(spec: dict | None) -> list:
    """In the worker, right after the fork and before the sandbox: move this process into
    the budget's cgroups (its children follow it), unless it was born there
    (``born_inside``: forked by a server that keeps the budget), and put rlimits in place
    of the controllers that have none. Returns the sandbox report's step."""
    from grader.isolation import sandbox

    if not isinstance(spec, dict):
        return [STEP, False, "no budget was given: no limit on memory or processes"]
    memory = int(spec.get("memory_mb", 0)) * 2**20
    processes = int(spec.get("max_processes", 0))
    folders = {c: f for c, f in (spec.get("cgroups") or {}).items() if c in CONTROLLERS and isinstance(f, str)}
    joined, problems = set(folders.values()) if spec.get("born_inside") else set(), []
    for folder in sorted(set(folders.values()) - joined):
        try:
            _write(os.path.join(folder, "cgroup.procs"), "0")   # 0: this process
            joined.add(folder)
        except OSError as exc:
            problems.append(f"could not join {folder} ({exc.strerror})")
    covered = {c for c, f in folders.items() if f in joined}
    parts = []
    if memory and "memory" in covered:
        parts.append(f"memory {_mb(memory)} (no swap)")
    if processes and "pids" in covered:
        parts.append(f"{processes} processes")
    if "cpu" in covered:
        parts.append("an equal share of the CPU")
    text = f"{spec.get('mode')}: " + ", ".join(parts) + " for the worker and all it starts" if covered else ""
    fallback = []
    if memory and "memory" not in covered:
        limit = _set_limit(resource.RLIMIT_AS, address_space_limit(memory, spec.get("baseline", 0)))
        fallback.append(f"address space {_mb(limit)} per process ({_mb(memory)} above its imports)")
    if processes and "pids" not in covered:
        uid = sandbox.worker_uid()
        if uid is None:
            fallback.append("processes not limited (the worker keeps root)")
        else:
            limit = _set_limit(resource.RLIMIT_NPROC, _tasks_of(uid) + processes)
            fallback.append(f"at most {limit} processes of uid {uid}")
    if fallback:
        why = "; ".join(n for n in [spec.get("note", ""), *problems] if n) or "no cgroups"
        text = (text + "; " if text else "") + "rlimits: " + ", ".join(fallback) + f" ({why})"
        if "cpu" not in covered:
            text += "; no CPU share"
    wanted = {"pids", "cpu"} | ({"memory"} if memory else set())
    applied = wanted <= covered
    return [STEP, applied, text or "nothing to limit"]
