"""What the grader refuses in a learner's source, found statically, before anything runs.

Two scans. :func:`forbidden_in_sources`: the library calls an exercise asks the learner to
write themselves (``forbidden`` in course.toml), in that exercise's definition.
:func:`refused_constructs`: dynamic access no exercise needs (eval, imports of the
interpreter's machinery, dunder attributes, frames, attributes by computed names, a
library's private or backdoor namespaces, patching a library), anywhere in the module.

Both resolve names through imports (``import torch.nn as nn`` ... ``nn.RNN`` is
``torch.nn.RNN``). For the first, the source is a list of texts: one learner file for
`course grade`, the cells a notebook's kernel has run (a notebook has no file) for the
nbgrader test cells. Imports count from every text; the definition is the last one of
that name, which is the one in use.

This module imports nothing from the grader: `course nbgrader` ships it, as it is, into
every assignment.
"""

from __future__ import annotations

import ast
import functools
import re
import warnings
from dataclasses import dataclass


def _parsed_cells(sources: list[str]) -> list[tuple[ast.Module, dict[str, str]]]:
    """Each source's tree and import aliases; a broken cell defines nothing the kernel
    could have run, so it is left out."""
    return [cell for cell in map(_parsed, sources) if cell is not None]


@functools.lru_cache(maxsize=16)
def _parsed(source: str) -> tuple[ast.Module, dict[str, str]] | None:
    """A module's tree and import aliases, worked out once for all of its exercises (both
    are only read)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    return tree, _import_aliases(tree)


def _import_aliases(tree: ast.Module) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def forbidden_in_sources(sources: list[str], definition: str, forbidden: tuple[str, ...] | list[str]) -> set[str]:
    """The entries of ``forbidden`` that the last top-level ``definition`` in ``sources``
    (texts in the order they ran) mentions."""
    if not forbidden:
        return set()
    cells = _parsed_cells(sources)
    targets = [node for tree, _ in cells for node in tree.body if getattr(node, "name", None) == definition]
    if not targets:
        return set()
    aliases = {name: full for _, cell_aliases in cells for name, full in cell_aliases.items()}
    found = set()
    for node in ast.walk(targets[-1]):
        if isinstance(node, (ast.Attribute, ast.Name)):
            name = _dotted(node)
            if name is None:
                continue
            head, _, rest = name.partition(".")
            full = aliases.get(head, head) + ("." + rest if rest else "")
            for banned in forbidden:
                if full == banned or full.startswith(banned + "."):
                    found.add(banned)
    return found


# ================================================================ the static scan of a whole module
#
# A submission runs in the same process as the grader's worker. Python lets code that
# runs there reach almost anything by name: the worker's modules, the frames of its
# callers, a library's operators under other names. No exercise needs any of that, so
# the grader refuses it before running anything. The scan is one layer among several
# (the worker's tripwires and the sandbox are the others): it follows names through
# imports and plain assignments, not through every value a program can compute, which
# is why the generic doors (dunder attributes, frames, attributes by computed name,
# eval) are shut everywhere and not only on library objects.


@dataclass(frozen=True)
class Refusal:
    """One construct the grader refuses, where it is and why."""

    line: int                   # 1-based
    construct: str              # as the learner wrote it: "eval(...)", "torch._C", ".__globals__"
    reason: str                 # one sentence for the learner
    definition: str | None      # the top-level def or class that holds it; None at module level

    def message(self) -> str:
        return f"line {self.line}: {self.construct} is not allowed in a submission: {self.reason}"


# ---------------------------------------------------------------- what is refused, and why

_RUNS_TEXT = "it runs text as code, which the grader cannot check"
_NAMESPACE = "it hands over a whole namespace, from which anything in this process can be reached or replaced"
_BY_NAME = "it imports or runs modules chosen by a name computed at run time"
_INSPECTS = "it inspects the running interpreter (frames, objects, code), which holds the grader's own state"
_FROM_BYTES = "it builds objects or code from bytes, which the grader cannot check"
_PROCESSES = "it starts other processes or talks to the operating system, outside what the grader watches"
_THREADS = "it runs code in the background, racing the grader's own work in this process"
_LATER = "it runs code later, at moments the grader does not choose"
_PATCHES_BY_NAME = "it replaces objects by name and steers test runs, which is the grader's job"
_TORCH_BACKDOOR = ("it reaches torch's operators or compiler by another route than the functions the exercise "
                   "lets you use")

REFUSED_BUILTINS: dict[str, str] = {
    "eval": _RUNS_TEXT,
    "exec": _RUNS_TEXT,
    "compile": "it turns text into code, which the grader cannot check",
    "__import__": _BY_NAME,
    "globals": _NAMESPACE,
    "locals": _NAMESPACE,
    "vars": _NAMESPACE,
    "breakpoint": "it starts a debugger, which can read and change any frame of the grader",
    "input": "it waits for typed input, which never comes while grading",
}

# Modules and namespaces, matched on whole dotted components from the start of an import
# or of an access chain: "torch.ops" refuses torch.ops.aten.x and `from torch import ops`.
REFUSED_NAMESPACES: dict[str, str] = {
    "grader": "it is the grader's own code, which a submission may not reach into",
    "solutions": "it is the course's reference code",
    "suites": "it is the course's checks",
    "__main__": "it is the grader's worker program",
    "importlib": _BY_NAME, "imp": _BY_NAME, "pkgutil": _BY_NAME, "zipimport": _BY_NAME,
    "runpy": _BY_NAME, "modulefinder": _BY_NAME, "pydoc": _BY_NAME, "site": _BY_NAME,
    "builtins": "it holds eval, exec and __import__ under other names",
    "gc": _INSPECTS, "inspect": _INSPECTS, "traceback": _INSPECTS, "dis": _INSPECTS,
    "faulthandler": _INSPECTS, "pdb": _INSPECTS, "bdb": _INSPECTS,
    "ctypes": "it reads and writes the process's memory directly",
    "cffi": "it reads and writes the process's memory directly",
    "mmap": "it reads and writes memory and files below Python",
    "marshal": _FROM_BYTES, "pickle": _FROM_BYTES, "dill": _FROM_BYTES, "cloudpickle": _FROM_BYTES,
    "shelve": _FROM_BYTES,
    "copyreg": "it changes how every object is copied and pickled, the grader's included",
    "code": _RUNS_TEXT, "codeop": _RUNS_TEXT, "timeit": _RUNS_TEXT, "doctest": _RUNS_TEXT,
    "cProfile": _RUNS_TEXT, "profile": _RUNS_TEXT,
    "subprocess": _PROCESSES, "multiprocessing": _PROCESSES, "concurrent": _PROCESSES, "pty": _PROCESSES,
    "posix": _PROCESSES, "nt": _PROCESSES,
    # threading: no exercise needs a thread, and one left running could change this
    # process's state (patch a module, edit a record) while the grader's checks run
    "threading": _THREADS, "asyncio": _THREADS,
    "signal": "it changes how the process answers the grader's time limit and stop signals",
    "resource": "it changes the limits the grader set on this process",
    "socket": "it opens network connections", "ssl": "it opens network connections",
    # weakref: finalizers and callbacks run learner code when objects die, as atexit does at exit
    "atexit": _LATER, "weakref": _LATER,
    "unittest": _PATCHES_BY_NAME, "pytest": _PATCHES_BY_NAME,
    "logging.config": "it builds objects from dotted names written in a configuration",
    "typing.get_type_hints": "it evaluates annotations written as text",
    "torch.ops": _TORCH_BACKDOOR, "torch.library": _TORCH_BACKDOOR, "torch.classes": _TORCH_BACKDOOR,
    "torch.overrides": _TORCH_BACKDOOR, "torch.utils.cpp_extension": _TORCH_BACKDOOR,
    "torch.jit": _TORCH_BACKDOOR, "torch.compile": _TORCH_BACKDOOR, "torch.compiler": _TORCH_BACKDOOR,
    "torch.fx": _TORCH_BACKDOOR, "torch.export": _TORCH_BACKDOOR,
    "torch.hub": "it downloads and runs code", "torch.package": _FROM_BYTES,
    "torch.multiprocessing": _PROCESSES,
    "numpy.ctypeslib": "it reads and writes the process's memory directly",
    "numpy.f2py": "it compiles and loads code", "numpy.distutils": "it compiles and loads code",
}

# Modules of which a submission may use a few attributes only (the rest reach the interpreter
# or the operating system).
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "sys": frozenset({"maxsize", "float_info", "int_info", "version_info", "version", "platform", "byteorder",
                      "stdout", "stderr", "exc_info", "exit", "argv", "getsizeof", "getrecursionlimit"}),
    "os": frozenset({"path", "sep", "linesep", "pathsep", "curdir", "pardir", "extsep", "name", "getcwd",
                     "getenv", "environ", "cpu_count", "listdir", "scandir", "walk", "fspath", "PathLike",
                     "makedirs"}),
    "types": frozenset({"SimpleNamespace"}),
}
ALLOWED_ATTRIBUTE_REASONS = {
    "sys": "it reaches the interpreter's internals (modules, frames, hooks), which hold the grader's own state",
    "os": "it changes the process, its environment or its files below Python, outside what the grader watches",
    "types": "it builds functions, code and modules by hand",
}
ENVIRON_READS = frozenset({"get", "copy", "keys", "items", "values"})    # os.environ may be read, not written

# Other modules hold these as plain attributes (torch.sys, torch.os, dataclasses.inspect):
# reached that way they are refused as if imported.
INTERPRETER_MODULES = frozenset({"sys", "os", "builtins", "importlib", "inspect", "gc", "ctypes", "threading",
                                 "subprocess", "multiprocessing", "pickle", "marshal", "traceback", "weakref",
                                 "copyreg"})
_CHAIN_STARTS = INTERPRETER_MODULES | {"torch", "numpy"}     # F.torch.ops is torch.ops
# Modules often bound by `from X import Y` (`from torch import nn`): like `import X`, they
# may not be handed around as values.
FROM_IMPORTED_MODULES = frozenset({"torch.nn", "torch.nn.functional", "torch.nn.init", "torch.autograd",
                                   "torch.linalg", "torch.fft", "torch.special", "torch.optim", "numpy.linalg",
                                   "numpy.random"})

# Dunder attributes honest code uses: names, the class of self (for a repr), calling the
# parent's __init__, a few protocol methods. All others reach the interpreter's internals.
ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__qualname__", "__class__", "__doc__", "__call__", "__len__",
                             "__repr__", "__str__", "__iter__", "__next__", "__getitem__", "__enter__", "__exit__",
                             "__version__"})
ALLOWED_DUNDER_NAMES = frozenset({"__name__", "__file__", "__doc__", "__debug__", "__class__", "__all__",
                                  "__slots__", "__version__"})
ALLOWED_DUNDER_TEXTS = ALLOWED_DUNDERS | ALLOWED_DUNDER_NAMES | {"__main__", "__future__"}
_INTERNALS = "it reaches the interpreter's internals, which no exercise needs"
DUNDER_REASONS: dict[str, str] = {
    "__globals__": "it hands over the namespace of the module that defined a function, the grader's included",
    "__builtins__": "it holds eval, exec and __import__ under other names",
    "__code__": "it reads or replaces a function's compiled code",
    "__closure__": "it reads the variables a function keeps from where it was defined",
    "__dict__": _NAMESPACE,
    "__subclasses__": "it lists every class in the process, the grader's included",
    "__getattribute__": "it reaches attributes by a name computed at run time",
    "__setattr__": "it sets attributes by a name computed at run time, around the grader's checks",
    "__loader__": "it is the grader's importer of course modules",
    "__spec__": "it leads to the grader's importer of course modules",
    "__import__": _BY_NAME,
}
# Frames, tracebacks, generators and code objects: how a program reads its callers' variables.
INTROSPECTION_ATTRIBUTES = frozenset({"f_globals", "f_locals", "f_back", "f_code", "f_builtins", "f_trace",
                                      "tb_frame", "tb_next", "gi_frame", "gi_code", "cr_frame", "cr_code",
                                      "ag_frame", "ag_code", "co_code", "co_consts", "co_names"})
_FRAMES = "it reads frames or compiled code, where the grader's own variables live"

NAME_GETTERS = frozenset({"getattr", "setattr", "delattr"})
OPERATOR_GETTERS = frozenset({"operator.attrgetter", "operator.methodcaller"})
_COMPUTED_NAME = "it reaches an attribute by a name computed at run time, which the grader cannot check"
_PRIVATE = "it reaches a library's private internals, around the functions the exercise lets you use"
_PRIVATE_MODULE = "it is an interpreter-internal module, which no exercise needs"
_ESCAPE = "it hides from the grader what is reached through the module"
_PATCH_LIBRARY = "it changes a library for all the code in this process, the grader's checks included"
_PATCH_COURSE = "it changes another course module, which is graded on its own"
_ENVIRONMENT = "it changes the process's environment, which the grader set"
_PATCH_CLASS = "it changes the inner workings of an object or a class"
_TOO_LONG = "it is longer than the grader can check"
_TOO_DEEP = "it is nested more deeply than the grader can check"

MAX_CHAIN = 64      # attribute accesses, calls and subscripts in one expression; honest code has a few
_CALL, _ITEM = "()", "[]"
_DUNDER_TEXT = re.compile(r"(?<!\w)__(\w+?)__(?!\w)")
_INTROSPECTION_TEXT = re.compile(r"(?<!\w)(" + "|".join(sorted(INTROSPECTION_ATTRIBUTES)) + r")(?!\w)")


def refused_constructs(source: str, course_modules: frozenset[str] = frozenset()) -> list[Refusal]:
    """Everything in ``source`` (one learner module) that the grader refuses, in line order.
    A source that does not parse yields []: the import error is reported elsewhere."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # a learner's "\d" is not the grader's warning to print
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    except (RecursionError, MemoryError):
        # compile() may still accept what ast.parse cannot build: refuse rather than wave it through
        return [Refusal(1, "code nested this deeply", _TOO_DEEP, None)]
    return _Scan(tree, frozenset(course_modules)).run()


# ---------------------------------------------------------------- names bound by imports

@dataclass(frozen=True)
class _Binding:
    full: str           # the dotted name it stands for: "torch.nn.functional"
    course: bool        # a course module or a name from one
    module: bool        # certainly a module (bound by `import X`)


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _bindings(tree: ast.Module, course_modules: frozenset[str]) -> dict[str, _Binding]:
    """Names bound by imports anywhere in the module, then names assigned from them
    (``ops = torch.ops``, ``T = torch.Tensor``), to a fixed point. Flow is ignored: a
    name bound by an import anywhere stands for it everywhere."""
    bound: dict[str, _Binding] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                full = alias.name if alias.asname else name
                bound[name] = _Binding(full, name.split(".")[0] in course_modules, True)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    full = f"{node.module}.{alias.name}"
                    bound[alias.asname or alias.name] = _Binding(full, node.module in course_modules,
                                                                 full in FROM_IMPORTED_MODULES)
    pairs = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            pairs += [pair for target in node.targets for pair in _assigned_pairs(target, node.value)]
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            pairs += _assigned_pairs(node.target, node.value)
    changed = True
    while changed:
        changed = False
        for name, value in pairs:
            root, parts = _spine(value)
            if isinstance(root, ast.Name) and root.id in bound and parts is not None and _CALL not in parts \
                    and _ITEM not in parts and name not in bound:
                binding = bound[root.id]
                bound[name] = _Binding(".".join([binding.full, *parts]), binding.course, binding.module and not parts)
                changed = True
    return bound


def _assigned_pairs(target: ast.AST, value: ast.AST) -> list[tuple[str, ast.AST]]:
    if isinstance(target, ast.Name):
        return [(target.id, value)]
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
            and len(target.elts) == len(value.elts):
        return [pair for t, v in zip(target.elts, value.elts) for pair in _assigned_pairs(t, v)]
    return []


# ---------------------------------------------------------------- access chains

def _literal_getattr(node: ast.AST) -> tuple[ast.AST, str] | None:
    """``getattr(obj, "name")`` (with or without a default) is ``obj.name``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
            and len(node.args) in (2, 3) and not node.keywords \
            and not any(isinstance(a, ast.Starred) for a in node.args) \
            and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
        return node.args[0], node.args[1].value
    return None


def _hop(node: ast.AST) -> tuple[ast.AST, str] | None:
    if isinstance(node, ast.Attribute):
        return node.value, node.attr
    return _literal_getattr(node)


def _step(node: ast.AST) -> tuple[ast.AST, str] | None:
    """One step into an access chain: the node inside and the step's name, "()" for a
    call, "[]" for a subscript."""
    hop = _hop(node)
    if hop is not None:
        return hop
    if isinstance(node, ast.Call):
        return node.func, _CALL
    if isinstance(node, ast.Subscript):
        return node.value, _ITEM
    return None


def _spine(node: ast.AST) -> tuple[ast.AST, list[str] | None]:
    """The root of an access chain and its steps from the root: ``torch.zeros(3)._version``
    is (torch, ["zeros", "()", "_version"]). The steps are None past MAX_CHAIN."""
    parts: list[str] = []
    while (step := _step(node)) is not None:
        if len(parts) == MAX_CHAIN:
            return node, None
        node, part = step
        parts.append(part)
    return node, parts[::-1]


def _spine_nodes(node: ast.AST) -> list[ast.AST]:
    """The nodes of the chain inside ``node``, ``node`` itself left out (at most MAX_CHAIN)."""
    found = []
    while len(found) < MAX_CHAIN and (step := _step(node)) is not None:
        node = step[0]
        found.append(node)
    return found


def _shown(root: ast.AST, parts: list[str]) -> str:
    """A chain as the learner wrote it, calls and subscripts elided: ``torch.zeros(...)._version``."""
    text = root.id if isinstance(root, ast.Name) else "(...)"
    for part in parts:
        text += "(...)" if part == _CALL else "[...]" if part == _ITEM else f".{part}"
    return text


def _namespace_problem(parts: list[str], course: bool) -> tuple[int, str] | None:
    """The first step of a resolved dotted chain that reaches a refused namespace, and why:
    (index of that step, reason). ``course``: the chain starts at a course module, whose
    own private names (``attention._helper``) are the learner's."""
    problems: list[tuple[int, str]] = []
    for i, part in enumerate(parts):
        if part in (_CALL, _ITEM):
            continue
        if _private_step(part, i, course):
            problems.append((i, _PRIVATE))
        if i > 0 and part not in _CHAIN_STARTS:
            continue
        if i > 0 and part in INTERPRETER_MODULES and part not in ALLOWED_ATTRIBUTES:
            problems.append((i, REFUSED_NAMESPACES[part]))
        for namespace, reason in REFUSED_NAMESPACES.items():
            steps = namespace.split(".")
            if parts[i:i + len(steps)] == steps:
                problems.append((i + len(steps) - 1, reason))
        if part in ALLOWED_ATTRIBUTES and (i == 0 or part in INTERPRETER_MODULES):
            problems += _allowlist_problem(parts, i)
    return min(problems) if problems else None


def _private_step(part: str, index: int, course: bool) -> bool:
    """A private name (a leading underscore, not a dunder) past the root of a chain. A course
    module's own private names, one step from it (``attention._helper``), are the learner's."""
    return part.startswith("_") and not _is_dunder(part) and (index > 1 or index == 1 and not course)


def _allowlist_problem(parts: list[str], start: int) -> list[tuple[int, str]]:
    module, rest = parts[start], parts[start + 1:]
    if not rest or rest[0] in (_CALL, _ITEM):
        return []
    if rest[0] not in ALLOWED_ATTRIBUTES[module]:
        return [(start + 1, ALLOWED_ATTRIBUTE_REASONS[module])]
    if module == "os" and rest[0] == "environ" and len(rest) > 1 and rest[1] not in (_CALL, _ITEM) \
            and rest[1] not in ENVIRON_READS:
        return [(start + 2, _ENVIRONMENT)]
    return []


# ---------------------------------------------------------------- the scan

@dataclass(frozen=True)
class _Where:
    parent: ast.AST | None
    definition: str | None      # the top-level def or class
    in_method: bool             # inside a def whose first parameter is self


class _Scan:
    """Applies every rule to every node, inner nodes first, so that one bad chain
    (``torch.ops.aten._softmax``) is refused once, at its first bad step."""

    def __init__(self, tree: ast.Module, course_modules: frozenset[str]):
        self.tree = tree
        self.course_modules = course_modules
        self.bound = _bindings(tree, course_modules)
        self.refusals: list[tuple[int, int, Refusal]] = []
        self.refused: set[int] = set()      # ids of refused nodes: a chain through one is not refused again

    def run(self) -> list[Refusal]:
        for node, where in reversed(self._nodes()):
            if not hasattr(node, "lineno"):
                continue
            if any(id(inner) in self.refused for inner in _spine_nodes(node)):
                self.refused.add(id(node))
                continue
            for rule in _RULES:
                found = rule(self, node, where)
                if found is not None:
                    construct, reason = found
                    refusal = Refusal(node.lineno, construct, reason, where.definition)
                    self.refusals.append((node.lineno, node.col_offset, refusal))
                    self.refused.add(id(node))
                    break
        seen, result = set(), []
        for _, _, refusal in sorted(self.refusals, key=lambda item: item[:2]):
            if (refusal.line, refusal.construct) not in seen:
                seen.add((refusal.line, refusal.construct))
                result.append(refusal)
        return result

    def _nodes(self) -> list[tuple[ast.AST, _Where]]:
        """Every node with where it is (without recursion: a submission may nest deeply)."""
        order: list[tuple[ast.AST, _Where]] = []
        queue = [(self.tree, _Where(None, None, False))]
        while queue:
            node, where = queue.pop()
            order.append((node, where))
            for child in ast.iter_child_nodes(node):
                definition, in_method = where.definition, where.in_method
                if node is self.tree and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    definition = child.name
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    positional = child.args.posonlyargs + child.args.args
                    in_method = in_method or bool(positional) and positional[0].arg == "self"
                queue.append((child, _Where(node, definition, in_method)))
        return order        # depth first, parents before children: reversed, children come first

    def resolve(self, root: ast.AST, parts: list[str]) -> tuple[list[str], _Binding] | None:
        """The dotted chain from an imported name: ``F._canonical_mask`` is
        (["torch", "nn", "functional", "_canonical_mask"], F's binding)."""
        if isinstance(root, ast.Name) and root.id in self.bound:
            binding = self.bound[root.id]
            return binding.full.split(".") + parts, binding
        return None


# ---------------------------------------------------------------- the rules
#
# Each rule looks at one node and returns (construct, reason) when it refuses it.

def _refused_import(scan: _Scan, node: ast.AST, where: _Where) -> tuple[str, str] | None:
    """import importlib, from torch import ops, from torch._C import _nn, from os import system,
    from sys import *."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            problem = None if parts[0] in scan.course_modules else _import_problem(parts, False)
            if problem is not None:
                return f"import {alias.name}", problem
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        module = node.module.split(".")
        course = node.module in scan.course_modules
        for alias in node.names:
            if alias.name == "*":
                problem = None if course else _import_problem(module, False)
                if problem is None and node.module in ALLOWED_ATTRIBUTES:
                    problem = ALLOWED_ATTRIBUTE_REASONS[node.module]
            else:
                problem = _import_problem(module + [alias.name], course)
            if problem is not None:
                return f"from {node.module} import {alias.name}", problem
    return None


def _import_problem(parts: list[str], course: bool) -> str | None:
    if parts[0].startswith("_") and parts[0] != "__future__" and parts[0] not in REFUSED_NAMESPACES:
        return _PRIVATE_MODULE      # _thread, _ctypes, _posixsubprocess: the machinery below the public modules
    problem = _namespace_problem(parts, course)
    return problem[1] if problem else None


def _refused_store(scan: _Scan, node: ast.AST, where: _Where) -> tuple[str, str] | None:
    """torch.softmax = f, np.allclose = f, nn.Module.forward = f, del F.softmax,
    os.environ["X"] = "1", x.__class__ = Liar, type(x).__eq__ = f."""
    if not isinstance(node, (ast.Attribute, ast.Subscript)) or not isinstance(node.ctx, (ast.Store, ast.Del)):
        return None
    root, parts = _spine(node)
    if parts is None:
        return "an access chain this long", _TOO_LONG
    reason = _patch_reason(scan, root, parts)
    if reason is None:
        return None
    text = _shown(root, parts)
    return (f"del {text}" if isinstance(node.ctx, ast.Del) else f"{text} = ..."), reason


def _patch_reason(scan: _Scan, root: ast.AST, parts: list[str]) -> str | None:
    """Why writing into this chain patches something shared, or None: an imported module
    or what it holds, a class reached through type(x) or a dunder."""
    if any(_is_dunder(part) for part in parts):
        return _PATCH_CLASS
    resolved = scan.resolve(root, parts)
    if resolved is not None:
        full, binding = resolved
        if binding.course:
            return _PATCH_COURSE
        return _ENVIRONMENT if full[:2] == ["os", "environ"] else _PATCH_LIBRARY
    if isinstance(root, ast.Name) and root.id == "type" and parts[:1] == [_CALL]:
        return _PATCH_CLASS
    return None


def _refused_attribute(scan: _Scan, node: ast.AST, where: _Where) -> tuple[str, str] | None:
    """f.__globals__, frame.f_back, torch._C, F._canonical_mask, torch.ops.aten, sys.modules,
    getattr(torch, "_C")."""
    hop = _hop(node)
    if hop is None:
        return None
    attr = hop[1]
    root, parts = _spine(node)
    if parts is None:
        return "an access chain this long", _TOO_LONG
    shown = f".{attr}" if isinstance(node, ast.Attribute) else f'getattr(..., "{attr}")'
    if _is_dunder(attr) and attr not in ALLOWED_DUNDERS:
        return shown, DUNDER_REASONS.get(attr, _INTERNALS)
    if attr in INTROSPECTION_ATTRIBUTES:
        return shown, _FRAMES
    resolved = scan.resolve(root, parts)
    if resolved is None:
        return None
    full, binding = resolved
    problem = _namespace_problem(full, binding.course)
    own = len(full) - len(parts)        # the steps that the import itself names, refused at the import
    if problem is None or problem[0] < own:
        return None
    index, reason = problem
    written = _shown(root, parts[:index - own + 1])
    meant = _shown(ast.Name(full[0]), full[1:index + 1])
    return (written if written == meant else f"{written} ({meant})"), reason


def _refused_call(scan: _Scan, node: ast.AST, where: _Where) -> tuple[str, str] | None:
    """getattr(obj, name), setattr(torch, "softmax", f), operator.attrgetter(name); but
    getattr(self, f"layer{i}") and setattr(self, name, layer) in a method are honest."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name) and func.id in NAME_GETTERS and func.id not in scan.bound:
        return _refused_name_getter(scan, node, func.id, where)
    if _operator_getter(scan, node):
        root, parts = _spine(func)
        for arg in node.args:
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)) or node.keywords:
                return f"{_shown(root, parts)} with a computed name", _COMPUTED_NAME
            for attr in arg.value.split("."):
                if _is_dunder(attr) and attr not in ALLOWED_DUNDERS or attr in INTROSPECTION_ATTRIBUTES:
                    return f'{_shown(root, parts)}("{arg.value}")', DUNDER_REASONS.get(attr, _INTERNALS)
    return None


def _operator_getter(scan: _Scan, node: ast.AST | None) -> bool:
    """operator.attrgetter(...) or operator.methodcaller(...), however imported."""
    if not isinstance(node, ast.Call):
        return False
    root, parts = _spine(node.func)
    resolved = scan.resolve(root, parts or [])
    return resolved is not None and ".".join(resolved[0]) in OPERATOR_GETTERS


def _refused_name_getter(scan: _Scan, node: ast.Call, name: str, where: _Where) -> tuple[str, str] | None:
    args = node.args
    literal = len(args) >= 2 and not node.keywords and not any(isinstance(a, ast.Starred) for a in args) \
        and isinstance(args[1], ast.Constant) and isinstance(args[1].value, str)
    if not literal:
        # honest code builds self.layer0, self.layer1 ... in a loop, and reads them back
        on_self = bool(args) and isinstance(args[0], ast.Name) and args[0].id == "self" and where.in_method
        if name in ("getattr", "setattr") and on_self:
            return None
        return f"{name} with a computed name", _COMPUTED_NAME
    if name == "getattr":
        return None                 # getattr(obj, "x") is obj.x, which _refused_attribute judges
    attr = args[1].value
    if _is_dunder(attr) or attr in INTROSPECTION_ATTRIBUTES:
        return f'{name}(..., "{attr}")', _PATCH_CLASS
    root, parts = _spine(args[0])
    if parts is None:
        return "an access chain this long", _TOO_LONG
    reason = _patch_reason(scan, root, parts)
    return None if reason is None else (f"{name}({_shown(root, parts)}, ...)", reason)


def _refused_name(scan: _Scan, node: ast.AST, where: _Where) -> tuple[str, str] | None:
    """eval(...), exec, globals(), __builtins__, __loader__, getattr handed around, and an
    imported module handed around as a value ([torch], f(np))."""
    if not isinstance(node, ast.Name):
        return None
    name, parent = node.id, where.parent
    called = isinstance(parent, ast.Call) and parent.func is node
    if name in scan.bound:          # the learner's own import: not the builtin of that name
        binding = scan.bound[name]
        if binding.module and isinstance(node.ctx, ast.Load) and _handed_around(node, parent):
            return f"the module {name} as a value", _ESCAPE
        return None
    if name in REFUSED_BUILTINS:
        return (f"{name}(...)" if called else name), REFUSED_BUILTINS[name]
    if name in NAME_GETTERS and not called:
        return f"{name} as a value", _COMPUTED_NAME
    if _is_dunder(name) and name not in ALLOWED_DUNDER_NAMES:
        return name, DUNDER_REASONS.get(name, _INTERNALS)
    return None


def _handed_around(node: ast.Name, parent: ast.AST | None) -> bool:
    """A module's name used otherwise than in ``torch.x`` or as the first argument of getattr,
    hasattr, setattr, delattr or vars (whose calls the other rules judge): ``[torch]``, ``f(np)``."""
    if isinstance(parent, ast.Attribute):
        return parent.value is not node
    return not (_judged_call(parent) and bool(parent.args) and parent.args[0] is node)


def _judged_call(node: ast.AST | None) -> bool:
    """A call whose arguments name an attribute, which the call's own rule judges."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
        and node.func.id in NAME_GETTERS | {"hasattr", "vars"}


def _refused_text(scan: _Scan, node: ast.AST, where: _Where) -> tuple[str, str] | None:
    """"{0.__globals__}".format(f), operator.attrgetter("__globals__"), "f_back": a string
    that names a refused attribute is how it is reached by name."""
    if not isinstance(node, ast.Constant) or not isinstance(node.value, (str, bytes)):
        return None
    if _judged_call(where.parent) or _operator_getter(scan, where.parent):
        return None         # getattr(g, "__globals__"): the call is refused, and named, once
    text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
    for match in _DUNDER_TEXT.finditer(text):
        if match.group(0) not in ALLOWED_DUNDER_TEXTS:
            return f'"{match.group(0)}" in a string', DUNDER_REASONS.get(match.group(0), _INTERNALS)
    match = _INTROSPECTION_TEXT.search(text)
    if match:
        return f'"{match.group(0)}" in a string', _FRAMES
    return None


def _refused_pattern(scan: _Scan, node: ast.AST, where: _Where) -> tuple[str, str] | None:
    """case object(__globals__=g): a class pattern reads the attributes it names."""
    if not isinstance(node, ast.MatchClass):
        return None
    for attr in node.kwd_attrs:
        if _is_dunder(attr) and attr not in ALLOWED_DUNDERS:
            return f"case ...({attr}=...)", DUNDER_REASONS.get(attr, _INTERNALS)
        if attr in INTROSPECTION_ATTRIBUTES:
            return f"case ...({attr}=...)", _FRAMES
    return None


# in this order: an assignment to torch._C is refused as patching, not as a private name
_RULES = (_refused_import, _refused_store, _refused_attribute, _refused_call, _refused_name, _refused_text,
          _refused_pattern)
