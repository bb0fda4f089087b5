"""The worker: the only process that runs a learner's code.

Started by the grader once per exercise (forked from :mod:`grader.isolation.forkserver`, or on its
own as ``python -m grader.isolation.worker --fd N``), it talks
to the grader over the socket it inherits as fd N, and never writes a verdict itself:
it only answers requests (call this function, read that attribute) with plain data
(see :mod:`grader.isolation.wire`). Objects that are not plain data stay here as numbered handles.

Course modules are loaded by :class:`CourseImporter` from the submission folder, with
the reference versions of the exercises the graded one builds on put in their place.
"""

from __future__ import annotations

import argparse
import json
import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import resource
import signal
import socket
import sys
import traceback
import types
from pathlib import Path
from typing import Any

from grader.isolation import standins, wire
from grader.isolation.reference_host import ReferenceHost
from grader.vjp import vector_jacobian_product  # bound before any learner code runs

ERROR_TEXT_LIMIT = 2000
FIXTURES_MODULE = "grader.fixtures"    # the one grader module a check may call into here


# ---------------------------------------------------------------- course modules

class CourseImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Loads course modules by plain name (``import rnn``) from the submission.

    Names in ``stand_ins`` (``{module: {name: "function" | "class"}}``: what the graded
    exercise builds on and the learner's version failed) are bound to stand-ins that call
    the reference in another process (:mod:`grader.isolation.standins`). A module other than the
    graded one that is missing or fails to import becomes its stub (``stubs``: the text
    learners are handed) with every name it holds of ``builds_on`` standing in, so a broken
    earlier module does not sink a later exercise. No reference code is ever loaded here.
    """

    def __init__(self, folder: Path, graded_module: str | None, stubs: dict[str, str],
                 stand_ins: dict[str, dict[str, str]], builds_on: dict[str, dict[str, str]],
                 module_names: list[str], link: standins.Link):
        self.folder = folder
        self.graded_module = graded_module
        self.stubs = stubs
        self.stand_ins = stand_ins
        self.builds_on = builds_on
        self.module_names = set(module_names)
        self.link = link
        self.notes: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.module_names:
            origin = str(self.folder / f"{fullname}.py")
            return importlib.machinery.ModuleSpec(fullname, self, origin=origin)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__name__
        path = self.folder / f"{name}.py"
        module.__file__ = str(path)
        try:
            if not path.exists():
                raise ModuleNotFoundError(f"{name}.py is missing from the submission")
            code = compile(path.read_bytes(), str(path), "exec")
            exec(code, module.__dict__)
        except BaseException as exc:  # SystemExit at import too: it costs only this module
            if name == self.graded_module or name not in self.stubs:
                raise
            self.notes.append(f"{name}.py could not be used ({type(exc).__name__}); its stub stood in for it, "
                              "with the reference for what this exercise builds on")
            for key in [k for k in module.__dict__ if not k.startswith("__")]:
                del module.__dict__[key]
            exec(compile(self.stubs[name], f"<stub {name}>", "exec"), module.__dict__)
            self._stand_in(module, self.builds_on.get(name, {}))
            return
        self._stand_in(module, self.stand_ins.get(name, {}))

    def _stand_in(self, module: types.ModuleType, kinds: dict[str, str]) -> None:
        for attr, kind in kinds.items():
            make = standins.make_module_class if kind == "class" else standins.make_function
            setattr(module, attr, make(self.link, module.__name__, attr))


# ---------------------------------------------------------------- forbidden calls

class ForbiddenCall(Exception):
    """A forbidden library callable was called from the learner's code."""


class Tripwires:
    """Replaces forbidden library callables with wrappers that refuse a call made directly
    from the learner's files, outside the definitions of the module's other exercises
    (the library itself may still use them, and so may the learner's own, already graded
    earlier pieces). A refused call raises :class:`ForbiddenCall` in the learner's code, so
    the verdict never rests on the note kept in ``used``, which learner code could edit."""

    def __init__(self, names: list[str], learner_files: dict[str, str], others: dict[str, set[str]]):
        self.learner_files = learner_files      # file name -> module name
        self.others = others                    # module name -> its exercises other than the graded one
        self.used: set[str] = set()
        self.pending: dict[str, list[str]] = {}
        for name in names:
            self.pending.setdefault(name.split(".")[0], []).append(name)
        for package in list(self.pending):
            if package in sys.modules:
                self._arm(package)
        if self.pending:
            sys.meta_path.insert(0, _AfterImport(self))

    def _arm(self, package: str) -> None:
        for dotted in self.pending.pop(package, []):
            self._patch(dotted)

    def _refuses(self, code: types.CodeType) -> bool:
        module = self.learner_files.get(code.co_filename)
        if module is None:
            return False
        return code.co_qualname.split(".")[0] not in self.others.get(module, ())

    def _patch(self, dotted: str) -> None:
        parts = dotted.split(".")
        owner, obj = None, sys.modules[parts[0]]
        for part in parts[1:]:
            owner, obj = obj, getattr(obj, part, None)
            if obj is None:
                return
        refuses, record = self._refuses, self.used.add
        message = f"{dotted} is one of the calls this exercise asks you to write yourself"

        def trip() -> None:
            record(dotted)
            raise ForbiddenCall(message)

        if isinstance(obj, type):
            original_init = obj.__init__

            @functools.wraps(original_init)
            def init(self_, *args, **kwargs):
                if refuses(sys._getframe(1).f_code):
                    trip()
                return original_init(self_, *args, **kwargs)

            obj.__init__ = init
        else:
            @functools.wraps(obj)
            def wrapper(*args, **kwargs):
                if refuses(sys._getframe(1).f_code):
                    trip()
                return obj(*args, **kwargs)

            setattr(owner, parts[-1], wrapper)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Arms tripwires on a package right after it is first imported."""

    def __init__(self, tripwires: Tripwires):
        self.tripwires = tripwires
        self.busy = False

    def find_spec(self, fullname, path=None, target=None):
        if self.busy or fullname not in self.tripwires.pending:
            return None
        self.busy = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self.busy = False
        if spec is None or spec.loader is None:
            return None
        loader, tripwires = spec.loader, self.tripwires
        original = loader.exec_module

        def exec_module(module):
            original(module)
            tripwires._arm(fullname)

        loader.exec_module = exec_module
        return spec


# ---------------------------------------------------------------- serving requests

class Worker:
    def __init__(self, sock: socket.socket, hello: dict | None = None):
        self.hello = hello or {"pid": os.getpid(), "sandbox": []}
        self.channel = wire.Channel(sock)
        self.handles: dict[int, Any] = {}
        self.next_handle = 1
        self.tripwires: Tripwires | None = None
        self.learner_files: dict[str, str] = {}
        self.link = standins.Link(self)         # to the reference, for the stand-ins

    # values --------------------------------------------------------
    def _keep(self, value: Any) -> dict:
        handle_id = self.next_handle
        self.next_handle += 1
        self.handles[handle_id] = value
        return {"$handle": handle_id, "type": type(value).__name__[:100]}

    def _encode_value(self, value: Any, blobs: list[bytes]) -> Any:
        return standins.encode_lenient(value, blobs, self._keep)

    def _decode(self, data: Any, blobs: list[bytes]) -> Any:
        def resolve(handle_id: int, _type: str):
            if handle_id not in self.handles:
                raise wire.WireError(f"unknown handle {handle_id}")
            return self.handles[handle_id]

        return wire.decode(data, blobs, resolve)

    def _error(self, exc: BaseException) -> dict:
        frames = []
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename in self.learner_files:
                frames.append([os.path.basename(frame.filename), frame.lineno, frame.name, (frame.line or "")[:200]])
        try:
            message = str(exc)
        except Exception:  # a learner's exception whose __str__ fails
            message = "<message could not be shown>"
        return {"type": type(exc).__name__[:100], "message": message[:ERROR_TEXT_LIMIT], "frames": frames[-8:]}

    def reply(self, value: Any = None, error: BaseException | None = None, **extra) -> None:
        blobs: list[bytes] = []
        header: dict[str, Any] = dict(extra)
        if self.tripwires is not None:
            header["forbidden"] = sorted(self.tripwires.used)
        if error is None:
            try:
                header["value"] = self._encode_value(value, blobs)
                header["ok"] = True
            except Exception as exc:
                blobs = []
                header["ok"] = False
                header["error"] = {"type": "UnsendableResult",
                                   "message": f"the result cannot be graded: {exc}"[:ERROR_TEXT_LIMIT], "frames": []}
        else:
            header["ok"] = False
            header["error"] = self._error(error)
        try:
            self.channel.send(header, blobs)
        except wire.MessageTooLarge as exc:  # refused before anything was sent
            header.pop("value", None)
            header["ok"] = False
            header["error"] = {"type": "UnsendableResult", "frames": [],
                               "message": f"the result is larger than {exc.limit // 2**20} MB "
                                          f"({exc.size / 2**20:.0f} MB), so it cannot be graded"}
            self.channel.send(header, [])

    # setup ---------------------------------------------------------
    def setup(self, config: dict) -> None:
        folder = Path(config["folder"])
        self.learner_files = {str(p): p.stem for p in folder.glob("*.py")}
        self.learner_files.update({str(folder / f"{name}.py"): name for name in config["modules"]})
        sys.path.insert(0, str(folder))
        exercises = {module: set(names) for module, names in config.get("exercises", {}).items()}
        graded = config.get("graded") or ""
        graded_module, _, graded_name = graded.partition(".")
        others = {module: names - ({graded_name} if module == graded_module else set())
                  for module, names in exercises.items()}
        self.tripwires = Tripwires(config.get("forbidden", []), self.learner_files, others)
        self.importer = CourseImporter(
            folder, config["graded_module"], config.get("stubs", {}), config.get("stand_ins", {}),
            config.get("builds_on", {}), config["modules"], self.link,
        )
        sys.meta_path.insert(0, self.importer)
        try:
            if config["graded_module"] is not None:  # None: a capstone imports what it assembles, later
                importlib.import_module(config["graded_module"])
        except BaseException as exc:
            self.reply(error=exc, stage="import", notes=self.importer.notes)
            return
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(1)
        self.reply(None, stage="import", notes=self.importer.notes)

    # requests ------------------------------------------------------
    def target(self, spec: dict) -> Any:
        if "handle" in spec:
            if spec["handle"] not in self.handles:
                raise wire.WireError("unknown handle")
            return self.handles[spec["handle"]]
        module = spec["module"]
        if module == FIXTURES_MODULE:
            return importlib.import_module(module)
        if module not in self.importer.module_names:
            raise wire.WireError(f"{module} is not a course module")
        return importlib.import_module(module)

    def handle(self, header: dict, blobs: list[bytes]) -> bool:
        op = header.get("op")
        if op == "exit":
            return False
        if op == "release":
            for handle_id in header.get("handles", []):
                self.handles.pop(handle_id, None)
            self.reply(None)
            return True
        try:
            if op in standins.CALLBACK_OPS:  # the reference host, running a stand-in, calls back
                target = self.target(header["target"]) if "target" in header else None
                fields = {key: self._decode(header[key], blobs) for key in ("args", "kwargs", "grads") if key in header}
                fields["graph"] = header.get("graph")
                self.reply(standins.serve_callback(self.link, op, target, fields))
                return True
            obj = self.target(header.get("target", {}))
            name = header.get("name")
            if op == "get":
                result = getattr(obj, name) if name else obj
            elif op in ("call", "vjp"):
                fn = getattr(obj, name) if name else obj
                args = self._decode(header.get("args", []), blobs)
                kwargs = self._decode(header.get("kwargs", {"$dict": []}), blobs)
                if op == "call":
                    result = fn(*args, **kwargs)
                else:  # the call and a backward pass from its output
                    upstream = self._decode(header.get("upstream"), blobs)
                    result = vector_jacobian_product(fn, args, kwargs, upstream, header.get("wrt"), header.get("output"))
            elif op == "set":
                setattr(obj, name, self._decode(header.get("value"), blobs))
                result = None
            elif op == "getitem":
                result = obj[self._decode(header.get("key"), blobs)]
            else:
                raise wire.WireError(f"unknown op {op!r}")
        except BaseException as exc:  # the learner's SystemExit is an answer, not our exit
            self.reply(error=exc)
            return True
        self.reply(result)
        return True

    def serve(self) -> None:
        # who this is and how it is isolated, told before any learner code runs
        self.channel.send({"hello": True, **self.hello})
        config, _ = self.channel.recv()
        apply_limits(config)
        if config.get("role") == "reference":  # reference code only, for another worker's stand-ins
            ReferenceHost(self.channel, config).serve()
            return
        self.setup(config)
        while True:
            try:
                header, blobs = self.channel.recv()
            except EOFError:
                return
            if not self.handle(header, blobs):
                return


def apply_limits(config: dict) -> None:
    # memory: the worker's budget (grader.isolation.limits), joined before the sandbox
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    file_size = 64 * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def run(fd: int, hello: dict | None = None) -> None:
    """Serve the grader on socket ``fd`` until it is done, then end the process.
    ``hello``: the worker's pid as the grader sees it and the sandbox report."""
    sock = socket.socket(fileno=fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    try:
        Worker(sock, hello).serve()
    finally:
        sock.close()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="grader worker (started by the grader; not for direct use)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--folder", type=Path, default=None, help="the submission copy (default: here)")
    parser.add_argument("--budget", type=json.loads, default=None, help="limits.WorkerBudget.spec, as JSON")
    args = parser.parse_args(argv)
    from grader.isolation import sandbox

    folder = args.folder or Path.cwd()
    os.chdir(folder)  # started in an empty folder (sandbox.python_command): nothing was imported from here
    host_pid, report = sandbox.enter(folder, budget=args.budget)
    run(args.fd, {"pid": host_pid, "sandbox": report})


if __name__ == "__main__":
    main()
