"""The static scan refuses the dynamic access no exercise needs, and nothing honest.

One test per family of refused constructs, each with the attacks of the campaign that
showed a submission can hide forbidden calls and reach the grader's internals: every one
is refused with a message that names the construct and its line, and with the top-level
definition that holds it. Then the other side: the reference, every variant of the hidden
suites, the example class, the stubs and the idioms of honest code yield no refusal.
"""

import ast
import importlib
import sys
import textwrap
import zipfile

import pytest

from grader.course.manifest import load_manifest
from grader.course.source import replace_definition
from grader.engine.forbidden import Refusal, forbidden_in_sources, refused_constructs
from tests.support import EXERCISES, ROOT, SOLUTIONS

COURSE = load_manifest(ROOT / "course.toml")
COURSE_MODULES = frozenset(COURSE.module_names)


def scan(source: str) -> list[Refusal]:
    return refused_constructs(textwrap.dedent(source), COURSE_MODULES)


def assert_refused(source: str, line: int, construct: str, definition: str | None) -> Refusal:
    """``source`` is refused at ``line``, for ``construct``, inside ``definition``."""
    refusals = scan(source)
    found = [r for r in refusals if r.line == line and r.construct == construct]
    assert found, f"expected {construct!r} on line {line}, got {[r.message() for r in refusals]}"
    refusal = found[0]
    assert refusal.definition == definition
    assert refusal.message().startswith(f"line {line}: {construct} is not allowed in a submission: it")
    assert refusal.reason and "\n" not in refusal.reason
    return refusal


def case(source: str, line: int, construct: str, definition: str | None = None, *, id: str):
    return pytest.param(source, line, construct, definition, id=id)


# ---------------------------------------------------------------- what is refused

CODE_FROM_TEXT = [
    case('''
        import torch
        def softmax(x, dim=-1):
            f = eval('lambda t: getattr(torch, "soft" + "max")(t, dim)')
            return f(x)
        ''', 4, "eval(...)", "softmax", id="eval-hides-a-listed-function"),
    case('''
        def softmax(x, dim=-1):
            exec("import torch; y = torch.softmax(x, dim)")
        ''', 3, "exec(...)", "softmax", id="exec"),
    case('code = compile("1", "f", "eval")\n', 1, "compile(...)", id="compile"),
    case('os = __import__("os")\n', 1, "__import__(...)", id="dunder-import"),
    case('''
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            return globals()["_reference"]
        ''', 3, "globals(...)", "rnn_step_forward", id="globals"),
    case('import torch\nsoftmax = vars(torch)["soft" + "max"]\n', 2, "vars(...)", id="vars"),
    case('def f():\n    return locals()\n', 2, "locals(...)", "f", id="locals"),
    case('run = exec\n', 1, "exec", id="exec-as-a-value"),
    case('breakpoint()\n', 1, "breakpoint(...)", id="breakpoint"),
    case('answer = input()\n', 1, "input(...)", id="input"),
]


@pytest.mark.parametrize("source, line, construct, definition", CODE_FROM_TEXT)
def test_code_from_text_and_whole_namespaces_are_refused(source, line, construct, definition):
    assert_refused(source, line, construct, definition)


IMPORTS = [
    case('from grader.checks import expect_equal\n', 1, "from grader.checks import expect_equal", id="grader"),
    case('def f():\n    import grader.isolation.worker\n', 2, "import grader.isolation.worker", "f", id="grader-in-a-function"),
    case('import importlib as il\nm = il.import_module("grader")\n', 1, "import importlib", id="importlib"),
    case('import gc\n', 1, "import gc", id="gc"),
    case('from inspect import currentframe\n', 1, "from inspect import currentframe", id="inspect"),
    case('import ctypes\n', 1, "import ctypes", id="ctypes"),
    case('from builtins import eval\n', 1, "from builtins import eval", id="builtins"),
    case('import marshal, pickle\n', 1, "import marshal", id="marshal"),
    case('import dill\n', 1, "import dill", id="dill"),
    case('import dis\n', 1, "import dis", id="dis"),
    case('import code\n', 1, "import code", id="code"),
    case('import runpy\n', 1, "import runpy", id="runpy"),
    case('import traceback\n', 1, "import traceback", id="traceback"),
    case('import subprocess\n', 1, "import subprocess", id="subprocess"),
    case('from multiprocessing import Process\n', 1, "from multiprocessing import Process", id="multiprocessing"),
    case('import threading\n', 1, "import threading", id="threading"),
    case('import signal\n', 1, "import signal", id="signal"),
    case('import resource\n', 1, "import resource", id="resource"),
    case('import socket\n', 1, "import socket", id="socket"),
    case('import atexit\n', 1, "import atexit", id="atexit"),
    case('import weakref\n', 1, "import weakref", id="weakref"),
    case('from unittest import mock\n', 1, "from unittest import mock", id="unittest-mock"),
    case('import __main__\n', 1, "import __main__", id="the-worker-program"),
    case('import _thread\n', 1, "import _thread", id="interpreter-internal-module"),
    case('from ctypes import *\n', 1, "from ctypes import *", id="star-import"),
    case('from types import FunctionType\n', 1, "from types import FunctionType", id="types"),
]


@pytest.mark.parametrize("source, line, construct, definition", IMPORTS)
def test_imports_of_the_interpreters_machinery_are_refused(source, line, construct, definition):
    assert_refused(source, line, construct, definition)


SYS_AND_OS = [
    case('import sys\nsys.modules["grader.checks"].expect_equal = print\n', 2, "sys.modules", id="sys-modules"),
    case('from sys import modules\n', 1, "from sys import modules", id="from-sys-import-modules"),
    case('''
        import sys
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            frame = sys._getframe(1)
        ''', 4, "sys._getframe", "rnn_step_forward", id="sys-getframe"),
    case('import sys\nsys.settrace(print)\n', 2, "sys.settrace", id="sys-settrace"),
    case('import sys\nsys.meta_path.insert(0, None)\n', 2, "sys.meta_path", id="sys-meta-path"),
    case('from sys import *\n', 1, "from sys import *", id="from-sys-import-star"),
    case('import os\nos.system("kill -9 1")\n', 2, "os.system", id="os-system"),
    case('import os\ndef f():\n    os._exit(0)\n', 3, "os._exit", "f", id="os-exit"),
    case('import os\ndef f():\n    os.setsid()\n', 3, "os.setsid", "f", id="os-setsid"),
    case('from os import fork\n', 1, "from os import fork", id="from-os-import-fork"),
    case('import os\nos.environ.update(GRADER_SANDBOX_SKIP="all")\n', 2, "os.environ.update", id="environ-update"),
    # reached through a library that imported them
    case('import torch\nm = torch.sys.modules\n', 2, "torch.sys.modules", id="torch-sys-modules"),
    case('import torch\ntorch.os.system("ls")\n', 2, "torch.os.system", id="torch-os-system"),
    case('import torch.nn.functional as F\nF.importlib.import_module("grader")\n', 2,
         "F.importlib (torch.nn.functional.importlib)", id="functional-importlib"),
]


@pytest.mark.parametrize("source, line, construct, definition", SYS_AND_OS)
def test_sys_and_os_beyond_a_short_allowlist_are_refused(source, line, construct, definition):
    assert_refused(source, line, construct, definition)


DUNDERS = [
    case('''
        import numpy as np
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            ref = np.zeros.__class__.__init__.__globals__
        ''', 4, ".__globals__", "rnn_step_forward", id="globals-of-a-function"),
    case('def f(g):\n    return g.__code__\n', 2, ".__code__", "f", id="code"),
    case('def f(g):\n    return g.__closure__[0].cell_contents\n', 2, ".__closure__", "f", id="closure"),
    case('classes = object.__subclasses__()\n', 1, ".__subclasses__", id="subclasses"),
    case('import torch\nsoftmax = torch.__dict__["softmax"]\n', 2, ".__dict__", id="dict"),
    case('def f(g):\n    return object.__getattribute__(g, "x")\n', 2, ".__getattribute__", "f", id="getattribute"),
    case('def f(e):\n    return e.__traceback__\n', 2, ".__traceback__", "f", id="traceback"),
    case('builtins = __builtins__\n', 1, "__builtins__", id="builtins-name"),
    case('importer = __loader__.stubs\n', 1, "__loader__", id="the-grader-s-importer"),
    case('importer = __spec__.loader\n', 1, "__spec__", id="spec"),
    case('''
        class Layer:
            def forward(self, g):
                match g:
                    case object(__globals__=found):
                        return found
        ''', 5, "case ...(__globals__=...)", "Layer", id="class-pattern"),
]


@pytest.mark.parametrize("source, line, construct, definition", DUNDERS)
def test_dunder_attributes_beyond_a_short_allowlist_are_refused(source, line, construct, definition):
    assert_refused(source, line, construct, definition)


FRAMES = [
    case('''
        import sys
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            try:
                raise ValueError
            except ValueError:
                frame = sys.exc_info()[2].tb_frame
        ''', 7, ".tb_frame", "rnn_step_forward", id="traceback-frame"),
    case('def f(frame):\n    return frame.f_back.f_locals\n', 2, ".f_back", "f", id="caller-frame"),
    case('def f():\n    g = (i for i in [0])\n    return g.gi_frame\n', 3, ".gi_frame", "f", id="generator-frame"),
    case('def f(code):\n    return code.co_consts\n', 2, ".co_consts", "f", id="code-constants"),
]


@pytest.mark.parametrize("source, line, construct, definition", FRAMES)
def test_frames_and_code_objects_are_refused(source, line, construct, definition):
    assert_refused(source, line, construct, definition)


STRINGS = [
    case('def f(g):\n    return "{0.__globals__}".format(g)\n', 2, '"__globals__" in a string', "f", id="format"),
    case('def f(g):\n    return "{0.__code__.co_consts}".format(g)\n', 2, '"__code__" in a string', "f",
         id="format-code"),
    case('NAME = b"__globals__"\n', 1, '"__globals__" in a string', id="bytes"),
    case('FIELD = "{0.f_back}"\n', 1, '"f_back" in a string', id="frame-attribute"),
]


@pytest.mark.parametrize("source, line, construct, definition", STRINGS)
def test_strings_that_name_a_refused_attribute_are_refused(source, line, construct, definition):
    assert_refused(source, line, construct, definition)


COMPUTED_NAMES = [
    case('''
        import torch
        def softmax(x, dim=-1):
            return getattr(torch, "soft" + "max")(x, dim)
        ''', 4, "getattr with a computed name", "softmax", id="getattr-on-a-library"),
    case('''
        class MultiHeadAttention:
            def forward(self, x, name):
                return getattr(self.inner, name)(x)
        ''', 4, "getattr with a computed name", "MultiHeadAttention", id="getattr-on-an-attribute-of-self"),
    case('def f(obj, name):\n    return getattr(obj, name)\n', 2, "getattr with a computed name", "f",
         id="getattr-outside-a-method"),
    case('def f(obj, name):\n    setattr(obj, name, None)\n', 2, "setattr with a computed name", "f", id="setattr"),
    case('def f(self, name):\n    delattr(self, name)\n', 2, "delattr with a computed name", "f", id="delattr"),
    case('def f(g):\n    return getattr(g, "__globals__")\n', 2, 'getattr(..., "__globals__")', "f",
         id="getattr-with-a-refused-literal"),
    case('import functools\nfetch = functools.reduce(getattr, ["a", "b"], None)\n', 2, "getattr as a value",
         id="getattr-as-a-value"),
    case('from operator import attrgetter\ndef f(g, n):\n    return attrgetter(n)(g)\n', 3,
         "attrgetter with a computed name", "f", id="attrgetter-computed"),
    case('import operator\ndef f(g):\n    return operator.attrgetter("__globals__")(g)\n', 3,
         'operator.attrgetter("__globals__")', "f", id="attrgetter-literal"),
]


@pytest.mark.parametrize("source, line, construct, definition", COMPUTED_NAMES)
def test_attributes_reached_by_a_computed_name_are_refused(source, line, construct, definition):
    assert_refused(source, line, construct, definition)


PRIVATE = [
    case('''
        import torch as t
        def gelu(x):
            return t._C._nn.gelu(x)
        ''', 4, "t._C (torch._C)", "gelu", id="alias-of-torch"),
    case('from torch._C import _nn\n', 1, "from torch._C import _nn", id="from-private-module"),
    case('import torch._refs\n', 1, "import torch._refs", id="import-private-module"),
    case('''
        import torch.nn.functional as F
        def causal_mask(size, device=None):
            return F._canonical_mask(None, "m", None, "o", torch.float32)
        ''', 4, "F._canonical_mask (torch.nn.functional._canonical_mask)", "causal_mask", id="functional"),
    case('import numpy as np\nmodule = np._core.multiarray\n', 2, "np._core (numpy._core)", id="numpy"),
    case('import torch\ndef f(x, Liar):\n    return torch.Tensor._make_subclass(Liar, x)\n', 3,
         "torch.Tensor._make_subclass", "f", id="tensor-private-method"),
    case('import torch\ndef softmax(x, dim=-1):\n    return getattr(torch, "_softmax")(x, dim, False)\n', 3,
         "torch._softmax", "softmax", id="getattr-with-a-private-literal"),
    case('import torch\nversion = torch.zeros(1)._version\n', 2, "torch.zeros(...)._version", id="through-a-call"),
    # a course module's private names are the learner's; what its names hold is not
    case('from attention import softmax\nlink = softmax._link\n', 2, "softmax._link (attention.softmax._link)",
         id="inside-a-course-name"),
]


@pytest.mark.parametrize("source, line, construct, definition", PRIVATE)
def test_private_namespaces_of_libraries_are_refused(source, line, construct, definition):
    assert_refused(source, line, construct, definition)


BACKDOORS = [
    case('''
        import torch
        def softmax(x, dim=-1):
            return torch.ops.aten._softmax(x, dim, False)
        ''', 4, "torch.ops", "softmax", id="aten-softmax"),
    case('''
        import torch
        from torch import nn
        class LayerNorm(nn.Module):
            def forward(self, x):
                return torch.ops.aten.layer_norm(x, [x.shape[-1]])
        ''', 6, "torch.ops", "LayerNorm", id="aten-layer-norm"),
    case('from torch import ops\n', 1, "from torch import ops", id="from-torch-import-ops"),
    case('import torch.nn.functional as F\ngelu = F.torch.ops.aten.gelu\n', 2,
         "F.torch.ops (torch.nn.functional.torch.ops)", id="torch-reached-through-functional"),
    case('from torch.library import Library\n', 1, "from torch.library import Library", id="library"),
    case('import torch\n@torch.jit.script\ndef f(x):\n    return x\n', 2, "torch.jit", "f", id="jit"),
    case('import torch\nfast = torch.compile(print)\n', 2, "torch.compile", id="compile"),
    case('import torch.fx\n', 1, "import torch.fx", id="fx"),
    case('from torch.utils.cpp_extension import load_inline\n', 1,
         "from torch.utils.cpp_extension import load_inline", id="cpp-extension"),
    case('from torch.overrides import TorchFunctionMode\n', 1, "from torch.overrides import TorchFunctionMode",
         id="overrides"),
    case('import typing\nhints = typing.get_type_hints(print)\n', 2, "typing.get_type_hints", id="type-hints"),
]


@pytest.mark.parametrize("source, line, construct, definition", BACKDOORS)
def test_backdoor_namespaces_are_refused(source, line, construct, definition):
    assert_refused(source, line, construct, definition)


PATCHES = [
    case('import torch\ntorch.softmax = lambda x, dim=-1: x\n', 2, "torch.softmax = ...", id="torch-function"),
    case('import numpy as np\nnp.allclose = lambda *a, **k: True\n', 2, "np.allclose = ...", id="numpy-comparison"),
    case('import torch\ntorch.Tensor.__eq__ = lambda *a: True\n', 2, "torch.Tensor.__eq__ = ...", id="tensor-method"),
    case('from torch import nn\nnn.Module.forward = lambda *a: None\n', 2, "nn.Module.forward = ...",
         id="module-forward"),
    case('import torch.nn.functional as F\ndef f():\n    F.softmax += 0\n', 3, "F.softmax = ...", "f",
         id="augmented"),
    case('import torch\ndel torch.softmax\n', 2, "del torch.softmax", id="del"),
    case('import torch\nsetattr(torch, "softmax", print)\n', 2, "setattr(torch, ...)", id="setattr"),
    case('import torch\nT = torch.Tensor\nT.eq = lambda *a: True\n', 3, "T.eq = ...", id="through-an-alias"),
    case('import os\nos.environ["GRADER_SANDBOX_SKIP"] = "all"\n', 2, "os.environ[...] = ...", id="environment"),
    case('import attention\nattention.softmax = lambda x, dim=-1: x\n', 2, "attention.softmax = ...",
         id="a-course-module"),
    case('def f(x):\n    type(x).__eq__ = lambda *a: True\n', 2, "type(...).__eq__ = ...", "f", id="type-of"),
    case('def f(x, Liar):\n    x.__class__ = Liar\n', 2, "x.__class__ = ...", "f", id="class-of-a-value"),
]


@pytest.mark.parametrize("source, line, construct, definition", PATCHES)
def test_patching_an_imported_module_or_a_class_is_refused(source, line, construct, definition):
    refusal = assert_refused(source, line, construct, definition)
    assert "changes" in refusal.reason


MODULES_AS_VALUES = [
    case('import torch\nmodules = [torch]\nsoftmax = modules[0]._softmax\n', 2, "the module torch as a value",
         id="in-a-list"),
    case('import numpy as np\ndef private(m):\n    return m._core\nprivate(np)\n', 4, "the module np as a value",
         id="as-an-argument"),
    case('from torch import nn\nns = {"n": nn}\n', 2, "the module nn as a value", id="from-imported"),
]


@pytest.mark.parametrize("source, line, construct, definition", MODULES_AS_VALUES)
def test_an_imported_module_handed_around_as_a_value_is_refused(source, line, construct, definition):
    assert_refused(source, line, construct, definition)


def test_code_too_long_or_too_deep_to_check_is_refused():
    assert_refused("x = y" + ".a" * 100 + "\n", 1, "an access chain this long", None)
    assert_refused("x = y" + ".a" * 30000 + "\n", 1, "code nested this deeply", None)


def test_a_bad_chain_is_refused_once_at_its_first_bad_step():
    refusals = scan("import torch\ny = torch.ops.aten._softmax(torch.zeros(2), 0, False)\n")
    assert [r.construct for r in refusals] == ["torch.ops"]
    refusals = scan("def f(g):\n    return g.__globals__.__builtins__.eval\n")
    assert [r.construct for r in refusals] == [".__globals__"]


def test_refusals_come_in_line_order_with_the_definition_that_holds_them():
    refusals = scan('''
        import gc

        class Encoder:
            def forward(self, x):
                return x.__dict__

        def helper(f):
            return eval(f)

        HOOK = globals()
    ''')
    assert [(r.line, r.construct, r.definition) for r in refusals] == [
        (2, "import gc", None), (6, ".__dict__", "Encoder"), (9, "eval(...)", "helper"), (11, "globals(...)", None)]
    assert refusals[1].message() == ("line 6: .__dict__ is not allowed in a submission: it hands over a whole "
                                     "namespace, from which anything in this process can be reached or replaced")


def test_a_source_that_does_not_parse_yields_nothing():
    assert scan("def broken(:\n    eval('1')\n") == []
    assert scan("x = 1\x00\n") == []
    assert scan("") == []


# ---------------------------------------------------------------- what is not

HONEST = '''
    """A learner's module: its docstring may name __init__ and "__main__"."""
    from __future__ import annotations

    import copy
    import functools
    import itertools
    import math
    import os
    import sys
    import warnings
    from collections import OrderedDict, defaultdict
    from dataclasses import dataclass, field
    from types import SimpleNamespace
    from typing import Optional

    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn

    from attention import softmax
    from masking import causal_mask

    __all__ = ["Stack"]


    @dataclass
    class Config:
        d_model: int = 8
        sizes: list = field(default_factory=list)
        note: Optional[str] = None


    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x * grad


    class Stack(nn.Module):
        def __init__(self, n=3):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(n)])
            for i in range(n):
                setattr(self, f"layer{i}", nn.Linear(4, 4))
            self._cache = {}
            self.__mangled = 1
            self.register_buffer("pe", torch.zeros(3))

        def forward(self, x):
            for i in range(len(self.layers)):
                x = getattr(self, f"layer{i}")(x)
            with torch.no_grad():
                outer = torch.einsum("bi,bj->bij", x, x)
            return Square.apply(F.relu(x)) + self._cache.get("x", 0) + outer.sum()

        def __repr__(self):
            return f"{self.__class__.__name__}(n={len(self.layers)}), {type(self).__name__}"

        def __len__(self):
            return len(self.layers)


    def everything_else(net):
        twin = copy.deepcopy(net)
        a = np.random.default_rng(0).standard_normal((3, 3))
        total = np.trace(a) + math.sqrt(2.0) + torch.trace(torch.eye(2))
        if not np.allclose(a, a):
            warnings.warn("odd")
        print(f"{total:.3f}", file=sys.stderr)
        home = os.environ.get("HOME", "") + os.getenv("X", "") + os.path.join("a", "b")
        weights = functools.partial(softmax, dim=-1)
        pairs = list(itertools.product([1, 2], repeat=2))
        tables = OrderedDict(), defaultdict(list), SimpleNamespace(a=1)
        with open("notes.txt", "w") as notes:
            notes.write(str(torch.__version__) + str(sys.maxsize) + str(sys.float_info.epsilon))
        if hasattr(net, "layers") and getattr(net, "layers", None) is not None:
            act = getattr(F, "gelu")
        t = torch.zeros(3)
        t[0] = 1.0
        t += causal_mask(3).sum()
        net.weight = None
        return twin, home, weights, pairs, tables, act, sys.version_info >= (3, 11)


    if __name__ == "__main__":
        print(everything_else(Stack()))
'''


def test_honest_idioms_yield_nothing():
    assert scan(HONEST) == []


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.py")), ids=lambda p: p.stem)
def test_the_reference_yields_nothing(path):
    assert scan(path.read_text()) == []


@pytest.mark.parametrize("path", sorted(EXERCISES.glob("*.py")), ids=lambda p: p.stem)
def test_the_stubs_yield_nothing(path):
    assert scan(path.read_text()) == []


def _variants():
    """Every variant of tests/variants (RIGHT and WRONG: a wrong one is an honest mistake and
    must lose points for its mistake, not for a refusal), as the whole module it is graded in:
    the reference with the variant's definitions swapped in, its helpers included."""
    cases = []
    for module in COURSE.module_names + ["capstone"]:
        variants = importlib.import_module(f"tests.variants.{module}")
        for kind in ("RIGHT", "WRONG"):
            for exercise_id, named in getattr(variants, kind).items():
                for name, source in named.items():
                    replacements = source if isinstance(source, dict) else {exercise_id: source}
                    cases.append(pytest.param(replacements, id=f"{kind.lower()}-{exercise_id}-{name}"))
    return cases


@pytest.mark.parametrize("replacements", _variants())
def test_every_variant_yields_nothing(replacements):
    for exercise_id, source in replacements.items():
        module, name = exercise_id.split(".")
        submitted = replace_definition((SOLUTIONS / f"{module}.py").read_text(), name, source)
        assert scan(submitted) == [], exercise_id


def _example_files():
    files = {}
    for folder in sorted((ROOT / "examples" / "class").iterdir()):
        if folder.suffix == ".zip":
            with zipfile.ZipFile(folder) as zf:
                files.update({f"{folder.name}:{n}": zf.read(n).decode() for n in zf.namelist() if n.endswith(".py")})
        else:
            files.update({f"{folder.name}/{p.name}": p.read_text() for p in sorted(folder.glob("*.py"))})
    return files


EXAMPLES = _example_files()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_example_class_yields_nothing(name):
    assert scan(EXAMPLES[name]) == []


def test_the_example_class_holds_ada_s_complete_submission():
    assert {f"ada_complete/{m}.py" for m in COURSE.module_names} <= set(EXAMPLES)


# ---------------------------------------------------------------- the rest of the module

def test_forbidden_calls_still_resolve_import_aliases():
    source = ("from torch.nn import functional as F\nimport torch as t\n"
              "def softmax(x):\n    return F.softmax(t.exp(x))\n")
    found = forbidden_in_sources([source], "softmax", ["torch.nn.functional.softmax", "torch.exp", "torch.log"])
    assert found == {"torch.nn.functional.softmax", "torch.exp"}


def test_the_module_imports_only_the_standard_library():
    """`course nbgrader` ships grader/engine/forbidden.py as it is into every assignment."""
    tree = ast.parse((ROOT / "grader" / "engine" / "forbidden.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
