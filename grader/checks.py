"""The vocabulary hidden and visible suites are written in.

A suite is a plain Python module of functions decorated with :func:`check`. Each
function takes some of these arguments, by name:

- ``student``: the learner's modules (``student.rnn.rnn_forward(...)``). In the
  grader this is a proxy into a separate worker process; under plain pytest it
  is the imported modules themselves. Checks are written the same for both.
- ``ref``: the reference modules (``ref.rnn.rnn_forward(...)``), hidden suites only.
- ``rng``: a ``numpy.random.Generator`` seeded from the check's name, so the
  same submission always sees the same inputs.

A check passes when it returns; it fails by raising :class:`CheckFailed`
(the ``expect_*`` helpers do that with a message written for the learner).
The check's docstring is its title in the feedback; its code is never shown.
"""

from __future__ import annotations

import copy
import hashlib
import re
import sys
import threading
import weakref
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from grader.isolation.wire import Handle
from grader.vjp import vector_jacobian_product

__all__ = [
    "check",
    "CheckOutcome",
    "exercise_score",
    "CheckFailed",
    "expect",
    "expect_close",
    "expect_equal",
    "expect_shape",
    "numerical_gradient",
    "numerical_gradients",
    "vjp",
    "expect_gradients_close",
    "plain_state",
    "arguments_after",
    "describe",
    "to_numpy",
    "seeded_rng",
    "reference_once",
    "checks_in",
]


class CheckFailed(AssertionError):
    """A check's verdict on the learner's code, with a message meant for the learner."""


KINDS = ("values", "property")


def check(exercise: str, *, weight: float = 1.0, kind: str = "values") -> Callable[[Callable], Callable]:
    """Mark a function as a check of ``exercise`` (``module.name``).

    ``weight`` is the check's share of the exercise's points relative to its siblings.
    ``kind="property"`` marks a check that a stub could pass without computing anything
    (the dtype, the mode, no gradient recorded, consistency between two calls): it earns
    its points only once a ``"values"`` check of the same exercise passes.
    """

    if exercise.count(".") != 1:
        raise ValueError(f"check exercise must look like 'module.name', got {exercise!r}")
    if weight <= 0:
        raise ValueError("check weight must be positive")
    if kind not in KINDS:
        raise ValueError(f"check kind must be one of {KINDS}, got {kind!r}")

    def mark(fn: Callable) -> Callable:
        fn.__check_exercise__ = exercise
        fn.__check_weight__ = float(weight)
        fn.__check_kind__ = kind
        return fn

    return mark


@dataclass
class CheckOutcome:
    """What one check said about the learner's code."""

    title: str
    weight: float
    passed: bool
    feedback: str = ""
    kind: str = "values"

    @classmethod
    def of(cls, fn: Callable, passed: bool, feedback: str = "") -> "CheckOutcome":
        return cls(check_title(fn), fn.__check_weight__, passed, feedback, getattr(fn, "__check_kind__", "values"))


PROPERTY_WAITS = "counts once a check of the values passes"
NOT_WRITTEN = "not written yet"
# the message of the error a stub raises, as grader.course.source.stub_line writes it (not imported
# here: a notebook release ships every grader module the runner imports, and that one's
# docstring shows solution markers); tests/test_quiet_feedback.py keeps the two matched
_STUB_MESSAGE = re.compile(r"^(?P<id>\w+\.\w+) is not written yet; `course hint (?P=id)` gives a hint$")


def stub_exercise(type_name: str, message: Any) -> str | None:
    """The exercise whose stub raised an error of this type and message (it is not
    written yet), or None."""
    if type_name != "NotImplementedError" or not isinstance(message, str):
        return None
    found = _STUB_MESSAGE.match(message)
    return found["id"] if found else None


def credited(outcomes: list[CheckOutcome]) -> list[CheckOutcome]:
    """The passed checks that earn their points: a property pays only beside right values."""
    values_pass = any(o.passed and o.kind == "values" for o in outcomes)
    return [o for o in outcomes if o.passed and (values_pass or o.kind == "values")]


def shown_title(outcome: CheckOutcome, outcomes: list[CheckOutcome]) -> str:
    """The check's title as feedback shows it: a passed property waiting for values says so."""
    waits = outcome.passed and not any(o is outcome for o in credited(outcomes))
    return outcome.title + (f" ({PROPERTY_WAITS})" if waits else "")


def stand_in_note(stood_in: list[str]) -> str:
    """Why the feedback of an exercise came from running it beside reference pieces."""
    names = ", ".join(stood_in)
    return (f"graded with the reference {names} in place of yours, which does not pass its own checks "
            "(yet): a bug there costs only its own points")


def exercise_score(outcomes: list[CheckOutcome], points: float) -> float:
    """The exercise's ``points`` shared among its checks by weight, for those credited."""
    total = sum(o.weight for o in outcomes)
    earned = sum(o.weight for o in credited(outcomes))
    return round(points * earned / total, 2) if total else 0.0


def checks_in(module) -> list[Callable]:
    """The checks defined in a suite module, in source order."""
    found = [obj for obj in vars(module).values() if callable(obj) and hasattr(obj, "__check_exercise__")]
    return sorted(found, key=lambda fn: fn.__code__.co_firstlineno)


def check_title(fn: Callable) -> str:
    doc = (fn.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else fn.__name__.replace("_", " ")


def seeded_rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


# ---------------------------------------------------------------- reference work, once per run

ONCE_ENTRIES = 256          # per reference; the oldest is dropped first
_once: "weakref.WeakKeyDictionary[Any, OrderedDict]" = weakref.WeakKeyDictionary()
_once_lock = threading.Lock()


def reference_once(ref: Any, rng: np.random.Generator, compute: Callable[..., Any], *inputs: Any) -> Any:
    """``compute(ref, rng, *inputs)``, worked out once per process for every submission it grades.

    For a check's reference side that costs more than the learner's: a search for a
    telling random case, the outputs of a family of reference models. ``compute`` may
    draw from ``rng`` and from torch's global generator; everything else it reads must
    be ``ref`` or among ``inputs`` (hashable plain values). So it may not be a closure,
    and what it returns must be plain data (numbers, strings, arrays, tensors without a
    graph, and lists, tuples and dicts of them): nothing of the learner's can outlive a
    submission, and no autograd graph is shared between checks.

    A later call from the same random states gets a copy of the value and finds ``rng``
    and torch's generator where ``compute`` left them: the check goes on exactly as if it
    had computed the value itself."""
    if getattr(compute, "__closure__", None):
        raise TypeError(f"reference_once: {compute.__qualname__} is a closure; pass what it reads as inputs")
    torch = sys.modules.get("torch")
    key = (compute.__module__, compute.__qualname__, compute.__code__.co_firstlineno, inputs,
           repr(rng.bit_generator.state), _torch_rng_digest(torch))
    with _once_lock:
        memo = _once.setdefault(ref, OrderedDict())
        found = memo.get(key)
        if found is not None:
            memo.move_to_end(key)
    if found is None:
        value = compute(ref, rng, *inputs)
        _expect_plain(value, compute.__qualname__)
        found = (copy.deepcopy(value), rng.bit_generator.state,
                 torch.get_rng_state() if torch is not None else None)
        with _once_lock:
            memo[key] = found
            while len(memo) > ONCE_ENTRIES:
                memo.popitem(last=False)
        return value
    value, rng.bit_generator.state, torch_state = found
    if torch_state is not None:
        torch.set_rng_state(torch_state)
    return copy.deepcopy(value)


def _torch_rng_digest(torch: Any) -> bytes | None:
    if torch is None:
        return None
    return hashlib.blake2b(torch.get_rng_state().numpy().tobytes(), digest_size=16).digest()


def _expect_plain(value: Any, where: str) -> None:
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.ndarray, np.generic)):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _expect_plain(item, where)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _expect_plain(key, where)
            _expect_plain(item, where)
        return
    tensor = _torch_tensor(value)
    if tensor is not None and tensor.grad_fn is None and not tensor.requires_grad:
        return
    raise TypeError(f"reference_once: {where} returned {type(value).__name__}, which is not plain data "
                    "(a tensor in a graph, a model or an object of the learner's cannot be kept across submissions)")


# ---------------------------------------------------------------- describing values

def to_numpy(value: Any) -> Any:
    """Tensors become numpy arrays; everything else is returned unchanged."""
    tensor = _torch_tensor(value)
    return tensor.detach().cpu().numpy() if tensor is not None else value


def _torch_tensor(value: Any):
    """``value`` if it is a torch tensor, else None. Without torch imported nothing is one:
    so checks of numpy exercises never pay for importing it."""
    torch = sys.modules.get("torch")
    return value if torch is not None and isinstance(value, torch.Tensor) else None


def _kind(value: Any) -> str:
    tensor = _torch_tensor(value)
    if tensor is not None:
        device = "" if tensor.device.type == "cpu" else f" on {tensor.device.type}"
        return f"tensor {str(tensor.dtype).replace('torch.', '')} {tuple(tensor.shape)}{device}"
    if isinstance(value, np.ndarray):
        return f"array {value.dtype} {value.shape}"
    return type(value).__name__


def _as_numpy_for_display(tensor) -> np.ndarray:
    """A tensor's values as numpy; a dtype numpy lacks (bfloat16, float8, complex32) as
    float32 or complex64, for display only."""
    tensor = tensor.detach()
    try:
        return tensor.cpu().numpy()
    except (TypeError, RuntimeError):
        import torch

        return tensor.to("cpu", torch.complex64 if tensor.is_complex() else torch.float32).numpy()


def _with_values(kind: str, arr: np.ndarray, most: int) -> str:
    if arr.size > most:
        return kind
    body = np.array2string(arr, precision=4, separator=", ", suppress_small=False)
    return f"{kind} = {' '.join(body.split())}"


def _describe_tensor(tensor, kind: str, most: int) -> str:
    if tensor.device.type == "meta":
        return f"{kind} (no values)"
    if tensor.numel() > most:
        return kind
    try:
        return _with_values(kind, _as_numpy_for_display(tensor), most)
    except Exception:  # values that cannot be read here (a sparse or quantized tensor, ...)
        return kind


def describe(value: Any, *, small: int = 12, limit: int = 300) -> str:
    """A short, learner-friendly description of a value: its kind and shape, and
    its numbers when there are few of them. Inside tuples and lists only tiny
    arrays show their numbers, and the whole text stays under ``limit`` characters.
    It never fails: a value it cannot look into is described by its type."""
    try:
        text = _describe(value, small, 0)
    except Exception:  # a learner's odd value must cost a check, never the grader's report of it
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _describe(value: Any, small: int, depth: int) -> str:
    if isinstance(value, Handle):
        return repr(value)
    kind = _kind(value)
    most = small if depth == 0 else 4      # how many numbers are shown
    tensor = _torch_tensor(value)
    if tensor is not None:
        return _describe_tensor(tensor, kind, most)
    if isinstance(value, np.ndarray):
        return _with_values(kind, value, most)
    if isinstance(value, (tuple, list)):
        shown = 6 if depth == 0 else 3
        if depth >= 2:
            return f"{type(value).__name__} of {len(value)}"
        inner = ", ".join(_describe(v, small, depth + 1) for v in value[:shown])
        more = f", ... ({len(value)} items)" if len(value) > shown else ""
        open_, close = ("(", ")") if isinstance(value, tuple) else ("[", "]")
        return f"{open_}{inner}{more}{close}"
    if isinstance(value, (int, float, bool, str)) or value is None:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"<{type(value).__name__} object>"


# ---------------------------------------------------------------- expectations

def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def expect_tuple(result: Any, names: tuple[str, ...], fn: str) -> tuple:
    """``result`` as a tuple of ``len(names)`` parts, or a failure saying what ``fn`` returned instead."""
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        raise CheckFailed(f"{fn} should return a tuple ({', '.join(names)}), but it returned {describe(result)}.")
    return tuple(result)


def _as_array(value: Any, what: str) -> np.ndarray:
    arr = to_numpy(value)
    if isinstance(arr, (bool, int, float, np.generic)):
        return np.asarray(arr)
    if not isinstance(arr, np.ndarray):
        raise CheckFailed(f"{what} should be an array or a tensor, but it is {describe(value)}.")
    return arr


def expect_shape(actual: Any, shape: tuple, *, what: str = "the result") -> None:
    arr = _as_array(actual, what)
    if tuple(arr.shape) != tuple(shape):
        raise CheckFailed(f"{what} has shape {tuple(arr.shape)}; expected shape {tuple(shape)}.")


def expect_close(
    actual: Any,
    expected: Any,
    *,
    what: str = "the result",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    same_dtype: bool = False,
) -> None:
    """``actual`` must have ``expected``'s shape and values (within tolerance).

    With ``same_dtype`` the dtype must match too (e.g. float32 in, float32 out).
    """
    exp = _as_array(expected, "the expected value")
    act = _as_array(actual, what)
    if act.shape != exp.shape:
        raise CheckFailed(f"{what} has shape {act.shape}; expected shape {exp.shape}.")
    if same_dtype and act.dtype != exp.dtype:
        raise CheckFailed(f"{what} has dtype {act.dtype}; expected {exp.dtype} (keep the caller's dtype).")
    if act.dtype.kind not in "biufc":
        raise CheckFailed(f"{what} has non-numeric dtype {act.dtype}.")
    act64 = act.astype(np.complex128 if act.dtype.kind == "c" else np.float64)
    exp64 = exp.astype(np.complex128 if exp.dtype.kind == "c" else np.float64)
    nan_act, nan_exp = np.isnan(act64), np.isnan(exp64)
    if (nan_act & ~nan_exp).any():
        where = tuple(int(i) for i in np.argwhere(nan_act & ~nan_exp)[0])
        raise CheckFailed(f"{what} contains NaN (first at index {where}); expected {describe(expected)}.")
    ok = np.isclose(act64, exp64, rtol=rtol, atol=atol, equal_nan=True)
    if not ok.all():
        diff = np.where(ok, 0.0, np.abs(act64 - exp64))
        diff = np.nan_to_num(diff, nan=np.inf)
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        got, want = act64[worst], exp64[worst]
        count = int((~ok).sum())
        lines = [
            f"{count} of {ok.size} entries of {what} differ from the expected value.",
            f"  largest difference at index {tuple(int(i) for i in worst)}: got {got:.10g}, expected {want:.10g} "
            f"(off by {abs(got - want):.3g}; allowed {atol:.1g} + {rtol:.1g} * |expected|)",
        ]
        if exp.size <= 12:
            lines.append(f"  got:      {describe(actual)}")
            lines.append(f"  expected: {describe(expected)}")
        raise CheckFailed("\n".join(lines))


def expect_equal(actual: Any, expected: Any, *, what: str = "the result") -> None:
    """Exact equality, for integers, booleans, strings and integer/bool arrays."""
    act, exp = to_numpy(actual), to_numpy(expected)
    if isinstance(exp, np.ndarray):
        act_arr = _as_array(actual, what)
        if act_arr.shape != exp.shape:
            raise CheckFailed(f"{what} has shape {act_arr.shape}; expected shape {exp.shape}.")
        if not np.array_equal(act_arr, exp):
            bad = np.argwhere(act_arr != exp)
            where = tuple(int(i) for i in bad[0]) if len(bad) else ()
            raise CheckFailed(
                f"{len(bad)} of {exp.size} entries of {what} differ from the expected value "
                f"(first at index {where}: got {act_arr[where].item()!r}, expected {exp[where].item()!r})."
            )
        return
    if type(act) is not type(exp) and not (isinstance(act, (int, float)) and isinstance(exp, (int, float))):
        raise CheckFailed(f"{what} is {describe(actual)}; expected {describe(expected)}.")
    if act != exp:
        raise CheckFailed(f"{what} is {describe(actual)}; expected {describe(expected)}.")


def numerical_gradient(f: Callable[[], Any], x: np.ndarray, df: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of ``sum(f() * df)`` with respect to ``x``.

    ``f`` takes no arguments and reads ``x``, which is perturbed in place and
    restored entry by entry. Use float64: float32 has too few digits for this.
    """
    return _differences(central_difference_probes(f, x, h), np.shape(x), df, h)


def central_difference_probes(f: Callable[[], Any], x: np.ndarray, h: float = 1e-5) -> Iterator[tuple]:
    """``f()`` as float64 arrays with each entry of ``x`` in turn moved by +h, then by -h
    (in place, and put back after): the probes of a numerical gradient, one pair per entry."""
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = np.asarray(to_numpy(f()), dtype=np.float64)
        flat[i] = old - h
        minus = np.asarray(to_numpy(f()), dtype=np.float64)
        flat[i] = old
        yield plus, minus


def _differences(probes: Iterable[tuple], shape: tuple, df: np.ndarray, h: float) -> np.ndarray:
    grad = np.zeros(shape, dtype=np.float64)
    for i, (plus, minus) in enumerate(probes):
        grad.reshape(-1)[i] = float(np.sum((np.asarray(plus) - np.asarray(minus)) * df) / (2 * h))
    return grad


def numerical_gradients(student: Any, fn: Callable, args: tuple | list, df: np.ndarray, which: Any,
                        outputs: tuple[int, ...] = (0,), h: float = 1e-5) -> list[np.ndarray]:
    """Central-difference gradients of ``sum(f(args) * df)`` with respect to ``args[k]`` for
    each ``k`` in ``which``, where ``f`` joins the raveled outputs ``outputs`` of
    ``fn(*args)``: :func:`numerical_gradient` of a function's result, with the same numbers.

    In the grader, the probes of each input run in the worker in one request
    (``student.fixtures.central_difference_outputs``, with :func:`central_difference_probes`)
    and the differences are taken here; if that request fails, the probes are made one call
    at a time, so that the learner's error is reported as theirs. Under plain pytest ``fn``
    runs here."""
    args = list(args)
    flat_df = np.ravel(df)
    grads = []
    for k in which:
        probes = None
        if hasattr(fn, "value"):            # the learner's function, in the worker
            try:
                probes = student.fixtures.central_difference_outputs(fn.value(), args, k, list(outputs), h)
            except Exception:   # the plain calls below report the learner's error as theirs
                probes = None
        if probes is None:
            probes = central_difference_probes(lambda: joined_outputs(fn(*args), outputs), args[k], h)
        grads.append(_differences(probes, np.shape(args[k]), flat_df, h))
    return grads


def joined_outputs(result: Any, outputs: tuple[int, ...] | list[int]) -> np.ndarray:
    """The entries ``outputs`` of a function's ``result``, raveled into one float64 array."""
    return np.concatenate([np.ravel(np.asarray(to_numpy(result[k]), dtype=np.float64)) for k in outputs])


# ---------------------------------------------------------------- torch

def vjp(fn: Callable, args: tuple | list, upstream: Any, *, kwargs: dict | None = None,
        wrt: list[int] | None = None, output: int | None = None) -> tuple:
    """Gradients of the learner's (or the reference's) torch code, as plain tensors.

    Calls ``fn(*args, **kwargs)`` where it lives (in the worker for ``student``, here
    for ``ref``) and backpropagates ``upstream`` from its output (element ``output``
    of a tuple result). Returns ``(output, input_grads, parameter_grads)``: one
    gradient per position in ``wrt`` (default: every floating-point tensor argument),
    and, when ``fn`` is an ``nn.Module``, its parameters' gradients by name. A gradient
    is None when none flows (the learner detached the graph).
    """
    kwargs = dict(kwargs or {})
    wrt = list(wrt) if wrt is not None else None
    if hasattr(type(fn), "_grader_vjp"):
        return fn._grader_vjp(tuple(args), kwargs, upstream, wrt, output)
    return vector_jacobian_product(fn, list(args), kwargs, upstream, wrt, output)


def expect_gradients_close(actual: Any, expected: Any, names: tuple[str, ...] | list[str], **tolerance: Any) -> None:
    """Gradients (sequences, or dicts by name as ``vjp`` returns them) must match;
    a missing gradient fails with the usual causes named."""
    if isinstance(expected, dict):
        names = list(expected)
        actual = [actual.get(n) if isinstance(actual, dict) else None for n in names]
        expected = [expected[n] for n in names]
    for name, got, want in zip(names, actual, expected):
        if want is None:
            continue
        if got is None:
            raise CheckFailed(f"no gradient reaches {name}: something between it and the output cuts the graph "
                              "(.detach(), .data, .item(), numpy, torch.no_grad, or building a new tensor from values).")
        expect_close(got, want, what=f"the gradient of {name}", **tolerance)


def arguments_after(student: Any, fn: Callable, *args: Any, **kwargs: Any) -> tuple:
    """``fn(*args, **kwargs)``'s result, and its positional arguments as the call left them:
    for checks that the learner's code does not modify its inputs. In the grader, the
    learner's code runs on copies in the worker, so the caller's objects here never change:
    the call is made once through a fixture that sends back the arguments it passed, then
    once plainly, last, so that feedback names the learner's function and reports an error
    as theirs. Under plain pytest ``fn`` runs here, on ``args`` themselves."""
    if not hasattr(fn, "value"):            # plain pytest: the learner's function itself
        return fn(*args, **kwargs), args
    after = args
    try:
        _, after = student.fixtures.arguments_after_call(fn.value(), list(args), dict(kwargs))
    except Exception:   # the learner's error: the plain call below reports it as theirs
        pass
    return fn(*args, **kwargs), tuple(after)


def plain_state(module: Any) -> dict:
    """A module's ``state_dict()`` as a plain dict of tensors (what can cross to a
    worker, e.g. for ``student_module.load_state_dict(plain_state(reference_module))``)."""
    return {key: value.detach().clone() for key, value in dict(module.state_dict()).items()}


def relative_error(a: Any, b: Any) -> float:
    a = np.asarray(to_numpy(a), dtype=np.float64)
    b = np.asarray(to_numpy(b), dtype=np.float64)
    denom = np.maximum(1e-8, np.abs(a) + np.abs(b))
    return float(np.max(np.abs(a - b) / denom)) if a.size else 0.0

