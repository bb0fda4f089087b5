"""Isolating a worker: what the learner's code can see, reach and leave behind.

Each step is a small function that runs in the worker's process after the fork and
before any learner code, and says whether it could be applied on this machine:

``budget``      first, while ``/sys`` is still there: the worker joins the cgroups the
                grader made for it, one budget of memory, processes and CPU for the worker
                and all it starts (:mod:`grader.isolation.limits`; rlimits where there are none).
``processes``   the worker is the first process (init) of a new PID namespace: when the
                grader kills it, the kernel kills everything it started, including
                processes that left its process group with ``setsid``; it cannot see or
                signal any process outside.
``network``     new network and IPC namespaces: only a loopback that is down, no abstract
                Unix sockets or System V IPC shared with anyone.
``filesystem``  a new mount namespace whose root holds only what a worker needs, read-only:
                the system directories (``/usr``, ``/etc``, ...), the Python installation
                and its site-packages, the ``grader`` package (not its siblings:
                ``solutions/``, ``suites/`` ... are absent), and the private copy of the
                submission; plus a fresh ``/proc``, a minimal ``/dev`` and private small
                ``/tmp`` and ``/dev/shm``. The grader's output folder, other submissions
                and everything else on the machine are simply not there.
``privileges``  ``PR_SET_NO_NEW_PRIVS``; as root, the worker becomes uid/gid 65534 with no
                supplementary groups (so no capabilities: it cannot undo the mounts), with
                at most 512 processes; as an ordinary user (inside a user namespace), every
                capability is dropped instead.
``userns``      no new user namespaces: a seccomp filter refuses ``unshare`` and ``clone``
                with ``CLONE_NEWUSER`` (inside one, the learner's code would hold every
                capability again, over its own namespaces), and makes ``clone3``, whose
                flags a filter cannot read, look absent, so that libc uses ``clone``.

As root all of them apply. As an ordinary user they need unprivileged user namespaces
(``unshare -U -r`` works); without them a step is reported as not available and
grading goes on without it. ``python -m grader.isolation.sandbox`` prints what applies here.

``GRADER_SANDBOX_SKIP=network,filesystem`` (names from above, or ``all``) switches
steps off; the grader's tests use it to show that each step is what stops its attack.

The interpreters that run as root before the sandbox applies (the fork server, a worker
started from scratch) start with :func:`python_command` in :func:`empty_folder`: nothing
in the instructor's working folder or in a submission can shadow a module they import.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import os
import resource
import signal
import stat
import struct
import sys
import sysconfig
import tempfile
from pathlib import Path

from grader.isolation import limits

STEPS = ("processes", "network", "filesystem", "privileges", "userns", limits.STEP)
SKIP_ENV = "GRADER_SANDBOX_SKIP"
SANDBOX_UID = 65534                  # "nobody"; every worker is in its own PID namespace
MAX_PROCESSES = 512
TMP_OPTIONS = "size=64m,nr_inodes=4096,mode=1777"
SHM_OPTIONS = "size=16m,nr_inodes=256,mode=1777"
DEVICES = ("null", "zero", "full", "random", "urandom")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
GRADER_DIR = Path(__file__).resolve().parent.parent   # the grader package
COURSE_ROOT = GRADER_DIR.parent

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 22, 24, 38
SYS_PIVOT_ROOT, SYS_CAPSET = 155, 126           # x86-64
_ARCH_SYSCALLS = {"aarch64": (41, 91)}
SYS_OPEN_TREE, SYS_MOVE_MOUNT = 428, 429        # the same on every architecture (Linux 5.2)
OPEN_TREE_CLONE, AT_RECURSIVE, MOVE_MOUNT_F_EMPTY_PATH, AT_FDCWD = 1, 0x8000, 4, -100
# seccomp: the audit architecture and (unshare, clone, clone3) of each architecture we filter
SECCOMP_ARCHES = {"x86_64": (0xC000003E, (272, 56, 435)), "aarch64": (0xC00000B7, (97, 220, 435))}
SECCOMP_MODE_FILTER, X32_SYSCALL_BIT = 2, 0x40000000
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
BPF_LD_W_ABS, BPF_JEQ, BPF_JGE, BPF_JSET, BPF_RET = 0x20, 0x15, 0x35, 0x45, 0x06

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

# set when this process (the fork server, or a scratch worker) entered a user namespace of its own
_state = {"userns": False}


# ---------------------------------------------------------------- system calls

def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), target.encode(), enc(fstype), flags, enc(data)), f"mount {target}")


def _prctl(option: int, arg: int = 0, arg2: int = 0) -> None:
    _check(_libc.prctl(option, arg, arg2, 0, 0), f"prctl {option}")


def _syscall_numbers() -> tuple[int, int]:
    return _ARCH_SYSCALLS.get(os.uname().machine, (SYS_PIVOT_ROOT, SYS_CAPSET))


def skipped() -> set[str]:
    names = {n.strip() for n in os.environ.get(SKIP_ENV, "").split(",") if n.strip()}
    return set(STEPS) if "all" in names else names


def _step(name: str, applied: bool, detail: str) -> list:
    return [name, applied, detail]


# ---------------------------------------------------------------- starting an interpreter

# Loads the grader package from its folder (argv[1]), then runs a module of it (argv[2])
# as __main__ with the rest of argv: the one folder added to sys.path is the grader's own.
_BOOTSTRAP = (
    "import sys, importlib.util as u, runpy\n"
    "folder, name = sys.argv[1], sys.argv[2]\n"
    "del sys.argv[1:3]\n"
    "spec = u.spec_from_file_location('grader', folder + '/__init__.py', submodule_search_locations=[folder])\n"
    "sys.modules['grader'] = module = u.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "runpy.run_module(name, run_name='__main__', alter_sys=True)\n"
)


def python_command(module: str, *args: str, user_site: bool = False) -> list[str]:
    """The command that runs ``python -m <module> <args>`` for a module of the grader
    without importing anything from the working folder or (unless ``user_site``, for a
    process of the learner's own) the user's site-packages: the working folder is not on
    sys.path (``-P``), nor is the user site (``-s``), and the
    grader package is loaded from its own folder (whether installed, editable or a plain
    checkout). Not ``-I``: it also ignores the environment, and with it PYTHONHASHSEED,
    which keeps the order of a learner's sets, and so a seeded training run, the same
    from one grading run to the next. The environment must be the grader's own
    (``worker_client.worker_env``), never the instructor's. Start it in :func:`empty_folder`."""
    flags = ["-P"] if user_site else ["-P", "-s"]
    return [sys.executable, *flags, "-c", _BOOTSTRAP, str(GRADER_DIR), module, *map(str, args)]


def empty_folder() -> str:
    """An empty folder, this user's and read-only (mode 555): the working folder of the
    interpreters started with :func:`python_command`, so that one that later puts its
    working folder on sys.path still finds nothing there. One per user, made on first
    use and kept (in the sticky temporary folder nobody else can replace it); if the name
    is taken by anything else, a private one for this process."""
    folder = os.path.join(tempfile.gettempdir(), f"course-grader-empty-{os.geteuid()}")
    try:
        os.mkdir(folder, 0o700)
        os.chmod(folder, 0o555)
    except FileExistsError:
        pass
    except OSError:
        return _private_empty_folder()
    try:
        info = os.lstat(folder)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and info.st_mode & 0o7777 == 0o555 \
                and not os.listdir(folder):
            return folder
    except OSError:
        pass
    return _private_empty_folder()


@functools.lru_cache(maxsize=None)
def _private_empty_folder() -> str:
    folder = tempfile.mkdtemp(prefix="course-grader-empty-")
    os.chmod(folder, 0o555)
    atexit.register(_remove_folder, folder)
    return folder


def _remove_folder(folder: str) -> None:
    try:
        os.rmdir(folder)
    except OSError:
        pass


# ---------------------------------------------------------------- the fork server's part

def enter_user_namespace() -> list | None:
    """As an ordinary user: become root of a user namespace of our own (no privilege
    outside it), so that the steps below can create namespaces and mounts. Called once
    by the fork server at start, and by a worker started from scratch."""
    if os.geteuid() == 0 or skipped() >= {"processes", "network", "filesystem"}:
        return None
    uid, gid = os.geteuid(), os.getegid()
    try:
        _unshare(CLONE_NEWUSER)
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    except OSError as exc:
        return _step("user namespace", False, f"not available ({exc.strerror or exc}); steps that need root are skipped")
    _state["userns"] = True
    return _step("user namespace", True, f"uid {uid} is root only inside it")


class PidNamespaces:
    """Forks each worker as the init of a new PID namespace straight from the fork
    server (one fork, as root). Where that is not allowed, ``usable`` is False and the
    worker makes its own namespace with one more fork (:func:`contain_processes`)."""

    def __init__(self):
        self.own = -1
        self.usable = False
        if "processes" in skipped() or _state["userns"]:
            return
        try:
            self.own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            _check(_libc.setns(self.own, CLONE_NEWPID), "setns")  # may we come back after an unshare?
            self.usable = True
        except OSError:
            pass

    def fork(self) -> tuple[int, bool]:
        """``os.fork()``, the child in a new PID namespace if possible; returns (pid, contained)."""
        contained = False
        if self.usable:
            try:
                _unshare(CLONE_NEWPID)
                contained = True
            except OSError:
                self.usable = False
        try:
            pid = os.fork()
        finally:
            if contained and os.getpid() != 1:  # the server, not the child: back to our own namespace
                try:
                    _check(_libc.setns(self.own, CLONE_NEWPID), "setns")
                except OSError:
                    self.usable = False
        if pid == 0 and self.own >= 0:
            os.close(self.own)
        return pid, contained


# ---------------------------------------------------------------- the worker's part

def _own_namespace(name: str, flag: int, otherwise: str) -> list | None:
    """Give this process a namespace of its own (``flag``): None when it has one, else the
    step that says why not and what holds ``otherwise``."""
    if name in skipped():
        return _step(name, False, "switched off")
    try:
        _unshare(flag)
    except OSError as exc:
        return _step(name, False, f"not available ({exc.strerror}); {otherwise}")
    return None


def contain_processes(contained: bool) -> list:
    """Make this process the init of a new PID namespace. If it is not one already, unshare
    and fork: the parent stays outside, waits, and ends as its child ended (the grader
    waits for it); this function returns only in the child."""
    name = "processes"
    if contained:
        return _step(name, True, "the worker is the init of its own PID namespace")
    refused = _own_namespace(name, CLONE_NEWPID, "only the worker's process group is killed")
    if refused is not None:
        return refused
    pid = os.fork()
    if pid:
        _relay(pid)
    os.setsid()  # the grader kills this process group (and the namespace with it) by pid
    return _step(name, True, "the worker is the init of its own PID namespace (one extra fork)")


def _relay(child: int) -> None:
    """Outside the namespace: hold nothing of the worker's, wait, end the same way."""
    os.closerange(0, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        code = 1
    if code < 0:
        if -code not in (signal.SIGKILL, signal.SIGSTOP):  # which cannot be handled (the OOM killer's)
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    os._exit(code & 0xFF)


def host_pid() -> int:
    """This process's pid as the grader sees it (read before /proc is replaced)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return os.getpid()


def isolate_network() -> list:
    name = "network"
    if name in skipped():
        return _step(name, False, "switched off")
    try:
        _unshare(CLONE_NEWNET | CLONE_NEWIPC)
    except OSError as exc:
        return _step(name, False, f"not available ({exc.strerror})")
    return _step(name, True, "new network namespace (loopback down) and IPC namespace")


@functools.lru_cache(maxsize=None)
def visible_paths() -> tuple[str, ...]:
    """What the worker's root holds besides /dev, /proc, /tmp and its submission: system
    directories, the Python installation, and the grader package alone. Never a folder
    that holds the course root (its solutions and suites), and never the current
    directory or other entries of sys.path (they may be the grader's working folder)."""
    paths = sysconfig.get_paths()
    python = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    python += [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths]
    try:
        import site

        python += site.getsitepackages()
    except (AttributeError, ImportError):  # pragma: no cover - virtualenv's old site.py
        pass
    wanted = [p for p in SYSTEM_DIRS if os.path.lexists(p)] + [os.path.realpath(p) for p in python]
    # the folder holding the grader package is the course root when grader/ is not installed
    course = str(COURSE_ROOT) if (COURSE_ROOT / "course.toml").exists() else None
    chosen: list[str] = []
    for path in sorted({os.path.abspath(p) for p in wanted}, key=len):
        if not os.path.lexists(path):
            continue
        if course and (course == path or course.startswith(path.rstrip("/") + "/")):
            continue  # it would show the course root
        if any(path == c or path.startswith(c.rstrip("/") + "/") for c in chosen if not os.path.islink(c)):
            continue
        chosen.append(path)
    chosen.append(str(GRADER_DIR))
    return tuple(chosen)


def _flags_of(path: str) -> int:
    """Mount flags a bind of ``path`` must keep (a user namespace may not clear them)."""
    flags = os.statvfs(path).f_flag
    kept = 0
    for st, ms in ((1, MS_RDONLY), (2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC),
                   (1024, MS_NOATIME), (2048, MS_NODIRATIME), (4096, MS_RELATIME)):
        if flags & st:
            kept |= ms
    return kept


def _bind(source: str, target: str) -> None:
    """A read-only bind (also of everything mounted below ``source``)."""
    _mount(source, target, None, MS_BIND | MS_REC)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | _flags_of(target))


def _make_root(folder: Path) -> None:
    """Build the worker's root in a tmpfs mounted over its own submission folder (a private
    place that exists in both ways of starting a worker), then pivot into it."""
    new_root = str(folder)
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    # a detached copy of the submission's mount, taken before the new root covers it
    original = _libc.syscall(SYS_OPEN_TREE, AT_FDCWD, new_root.encode(), OPEN_TREE_CLONE | AT_RECURSIVE)
    if original < 0:
        _check(-1, "open_tree")
    _mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=1024,mode=755")
    try:
        _populate(new_root, folder, original)
    except OSError:
        os.chdir("/")
        _libc.umount2(new_root.encode(), MNT_DETACH)  # back to the machine's view, unchanged
        os.chdir(new_root)
        raise
    finally:
        os.close(original)
    # pivot, drop the old root, and make the new one read-only
    os.chdir(new_root)
    try:
        _check(_libc.syscall(_syscall_numbers()[0], b".", b"."), "pivot_root")
    except OSError:
        os.chdir("/")
        _libc.umount2(new_root.encode(), MNT_DETACH)
        os.chdir(str(folder))
        raise
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")
    _libc.mount(None, b"/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    os.chdir(str(folder))


def _populate(new_root: str, folder: Path, original: int) -> None:

    def inside(path: str) -> str:
        return new_root + path

    # /dev: a few harmless devices, and a private /dev/shm
    os.makedirs(inside("/dev/shm"), exist_ok=True)
    _mount("tmpfs", inside("/dev"), "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,nr_inodes=64,mode=755")
    for device in DEVICES:
        if os.path.exists(f"/dev/{device}"):
            Path(inside(f"/dev/{device}")).touch()
            _mount(f"/dev/{device}", inside(f"/dev/{device}"), None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, inside(f"/dev/{name}"))
    os.makedirs(inside("/dev/shm"), exist_ok=True)
    _mount("tmpfs", inside("/dev/shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, SHM_OPTIONS)
    os.makedirs(inside("/tmp"), exist_ok=True)
    _mount("tmpfs", inside("/tmp"), "tmpfs", MS_NOSUID | MS_NODEV, TMP_OPTIONS)
    # a /proc of the worker's own PID namespace (as an ordinary user this may be refused)
    os.makedirs(inside("/proc"), exist_ok=True)
    try:
        _mount("proc", inside("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass  # no /proc at all rather than the machine's
    # after the private /tmp, /dev and /proc, since the grader or Python may lie below them
    # (a clone in /tmp, a virtualenv in /tmp)
    for path in visible_paths():
        if os.path.islink(path):
            os.makedirs(os.path.dirname(inside(path)), exist_ok=True)
            os.symlink(os.readlink(path), inside(path))
        elif os.path.isdir(path):
            os.makedirs(inside(path), exist_ok=True)
            _bind(path, inside(path))
    # last, as it may lie below /tmp: the private copy of the submission, read-only
    submission = inside(str(folder))
    os.makedirs(submission, exist_ok=True)
    _check(_libc.syscall(SYS_MOVE_MOUNT, original, b"", AT_FDCWD, submission.encode(), MOVE_MOUNT_F_EMPTY_PATH),
           "move_mount")
    _mount(None, submission, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | _flags_of(submission))


def isolate_filesystem(folder: Path) -> list:
    name = "filesystem"
    refused = _own_namespace(name, CLONE_NEWNS, "the worker sees the machine's files")
    if refused is not None:
        return refused
    try:
        _make_root(Path(folder))
    except OSError as exc:
        return _step(name, False, f"could not build the worker's root ({exc}); the worker sees the machine's files")
    return _step(name, True, "only the system, Python, the grader package and the submission copy, read-only")


def drop_privileges(folder: Path, filesystem: bool) -> list:
    name = "privileges"
    if name in skipped():
        return _step(name, False, "switched off")
    try:
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError as exc:
        return _step(name, False, f"not available ({exc.strerror})")
    if os.geteuid() == 0 and not _state["userns"]:
        blocked = [str(p) for p in (folder, *folder.parents) if not p.stat().st_mode & 0o001]
        if not filesystem and blocked:  # uid 65534 could not even reach the submission copy
            return _step(name, False, f"not applied: without the filesystem step uid {SANDBOX_UID} "
                                      f"cannot reach {blocked[0]}; no new privileges only")
        try:
            try:
                os.setgroups([])
            except PermissionError:  # a user namespace that denies setgroups
                pass
            soft = resource.getrlimit(resource.RLIMIT_NPROC)[0]   # the budget's may be lower
            cap = MAX_PROCESSES if soft == resource.RLIM_INFINITY else min(soft, MAX_PROCESSES)
            resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
            os.setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
            os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
            return _step(name, True, f"uid and gid {SANDBOX_UID}, no capabilities, no new privileges")
        except OSError:  # root of a user namespace where 65534 is not mapped
            _state["userns"] = True
    if _state["userns"]:
        try:
            _drop_capabilities()
        except OSError as exc:
            return _step(name, False, f"capabilities could not be dropped ({exc.strerror}); no new privileges only")
        return _step(name, True, "every capability dropped, no new privileges")
    return _step(name, True, "an ordinary user already; no new privileges")


def worker_uid() -> int | None:
    """The uid the worker runs learner code as (whose processes RLIMIT_NPROC counts), or
    None if it stays root (to which RLIMIT_NPROC does not apply)."""
    if os.geteuid() == 0 and not _state["userns"]:
        return None if "privileges" in skipped() else SANDBOX_UID
    return os.getuid()


def _drop_capabilities() -> None:
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break  # past the last capability this kernel knows
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)    # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()                   # effective, permitted, inheritable: all empty
    _check(_libc.syscall(_syscall_numbers()[1], header, data), "capset")


def _seccomp_program() -> bytes | None:
    """The filter of the ``userns`` step, as classic BPF over ``struct seccomp_data``
    (nr at offset 0, arch at 4, the low half of the first argument at 16 on these
    little-endian machines); None on an architecture it does not know."""
    arch = SECCOMP_ARCHES.get(os.uname().machine)
    if arch is None:
        return None
    audit_arch, (unshare, clone, clone3) = arch
    allow, eperm = SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | 1
    enosys = SECCOMP_RET_ERRNO | 38
    program = [                                  # index: jumps count the instructions skipped
        (BPF_LD_W_ABS, 0, 0, 4),                 # 0  A = arch
        (BPF_JEQ, 0, 10, audit_arch),            # 1  another ABI (i386 through int 0x80): 12
        (BPF_LD_W_ABS, 0, 0, 0),                 # 2  A = syscall number
        (BPF_JGE, 8, 0, X32_SYSCALL_BIT),        # 3  the x32 ABI: 12
        (BPF_JEQ, 7, 0, clone3),                 # 4  clone3 (flags behind a pointer): 12
        (BPF_JEQ, 2, 0, unshare),                # 5  unshare: look at its flags, 8
        (BPF_JEQ, 1, 0, clone),                  # 6  clone: likewise
        (BPF_RET, 0, 0, allow),                  # 7  anything else
        (BPF_LD_W_ABS, 0, 0, 16),                # 8  A = flags (first argument, low half)
        (BPF_JSET, 0, 1, CLONE_NEWUSER),         # 9  a new user namespace: 10, else 11
        (BPF_RET, 0, 0, eperm),                  # 10
        (BPF_RET, 0, 0, allow),                  # 11
        (BPF_RET, 0, 0, enosys),                 # 12 as if the kernel had no such call
    ]
    return b"".join(struct.pack("=HBBI", code, jt, jf, k) for code, jt, jf, k in program)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def block_user_namespaces() -> list:
    """No new user namespaces from here on, for this process and all it starts. Needs
    no-new-privileges (the privileges step) or root; the filter cannot be removed."""
    name = "userns"
    if name in skipped():
        return _step(name, False, "switched off")
    program = _seccomp_program()
    if program is None:
        return _step(name, False, f"not available on {os.uname().machine}")
    code = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(code))
    # the worker has one thread here (a fork's child, or a scratch worker before its
    # imports), and a filter applies to the thread that installs it and to what it starts
    try:
        _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
    except OSError as exc:
        return _step(name, False, f"not available ({exc.strerror}); learner code may make user namespaces")
    return _step(name, True, "no new user namespaces (seccomp: unshare and clone with CLONE_NEWUSER refused)")


def enter(folder: Path, contained: bool = False, budget: dict | None = None) -> tuple[int, list]:
    """Every step, in order, in the worker before it runs learner code. ``contained``:
    the fork server already made this process the init of a new PID namespace.
    ``budget``: :attr:`grader.isolation.limits.WorkerBudget.spec`, joined first (None: no budget
    step). Returns this process's pid as the grader sees it and the report of each step."""
    report = []
    if budget is not None:
        report.append(limits.join(budget))   # while /sys is there; a fork below stays inside
    if not contained and not _state["userns"]:
        userns = enter_user_namespace()      # a worker started from scratch by an ordinary user
        if userns is not None:
            report.append(userns)
    report.append(contain_processes(contained))
    pid = host_pid()
    report.append(isolate_network())
    report.append(isolate_filesystem(Path(folder)))
    report.append(drop_privileges(Path(folder), report[-1][1]))
    report.append(block_user_namespaces())
    return pid, report


def share_with_worker(folder: Path) -> None:
    """The grader's side, as root: the worker runs as another user, so its private copy of
    the submission (and nothing else) must be readable by others."""
    if os.geteuid() != 0 or "privileges" in skipped():
        return
    folder = Path(folder)
    for path in [folder, *folder.iterdir()]:
        try:
            mode = path.lstat().st_mode
            wanted = mode | (0o055 if path.is_dir() else 0o044)
            if wanted != mode and not path.is_symlink():
                path.chmod(wanted & 0o7777)
        except OSError:
            pass


def describe(report: list) -> str:
    return "; ".join(f"{name}: {'yes' if applied else 'no'} ({detail})" for name, applied, detail in report)


def main() -> None:
    """Print which steps apply on this machine (a throwaway worker-like child tries them)."""
    import json

    budget = limits.WorkerBudget.create(1024, 64)
    with budget, tempfile.TemporaryDirectory() as tmp:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            root = os.geteuid() == 0
            try:
                enter_user_namespace()
                namespaces = PidNamespaces()
                child, contained = namespaces.fork()
                if child:
                    os.waitpid(child, 0)
                    os._exit(0)
                os.chdir(tmp)
                _, report = enter(Path(tmp), contained, budget.spec)
                if not root:
                    report.insert(0, _step("user namespace", _state["userns"], "needed as an ordinary user"))
                os.write(write, json.dumps(report).encode())
            except BaseException as exc:  # noqa: BLE001 - reported, not raised
                os.write(write, json.dumps([["error", False, repr(exc)]]).encode())
            os._exit(0)
        os.close(write)
        data = b""
        while chunk := os.read(read, 65536):
            data += chunk
        os.waitpid(pid, 0)
    print(f"limits: {limits.describe()}")
    for name, applied, detail in json.loads(data or b"[]"):
        print(f"{'yes' if applied else 'NO ':3} {name:15} {detail}")


if __name__ == "__main__":  # run as grader.isolation.sandbox, whose state grader.isolation.limits reads, not as a copy
    from grader.isolation import sandbox

    sandbox.main()
