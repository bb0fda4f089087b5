"""Reference stand-ins as the worker sees them: names bound to calls into another process.

Where the learner's version of an earlier exercise failed its checks, the exercise being
graded gets the reference version in its place (``builds_on`` in course.toml). The worker
runs the learner's code, so it must never hold reference code: what it holds instead is a
stand-in, a function or an ``nn.Module`` class of the same name whose every call travels,
as plain data (:mod:`grader.isolation.wire`), to the grader, which relays it to the reference host
(:mod:`grader.isolation.reference_host`), a process that runs reference code and nothing else.

A class stand-in is a real ``nn.Module``: its parameters and buffers live here, with the
reference's names and initial values, so optimisers, ``state_dict`` and ``.double()`` work
on it as on the reference; its ``forward`` sends the current values along. When gradients
are needed, the call is one :class:`torch.autograd.Function` whose backward asks the host
for the vector-Jacobian product of the same call. The torch random state travels with each
call and comes back advanced, so dropout and initialisation draw what they would in-process.

This module is shared by both sides: :func:`tensor_leaves` fixes the one order in which the
worker and the host list the tensors of a call.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from grader.isolation import wire

REQUEST_KEY = "reference"     # a worker's message that asks the reference host, not a reply


class StandInError(Exception):
    """The reference stand-in could not answer (its own error, or the call could not cross)."""


def _torch():
    return sys.modules.get("torch")


def tensor_leaves(value: Any) -> list:
    """The torch tensors in ``value``, in the order :func:`grader.isolation.wire.encode` meets them."""
    torch = _torch()
    found: list = []

    def walk(item: Any) -> None:
        if torch is not None and isinstance(item, torch.Tensor):
            found.append(item)
        elif isinstance(item, (tuple, list)):
            for element in item:
                walk(element)
        elif isinstance(item, dict):
            for key, element in item.items():
                walk(key)
                walk(element)

    walk(value)
    return found


def replace_leaves(value: Any, leaves: list) -> Any:
    """``value`` with its tensors replaced, in :func:`tensor_leaves` order, by ``leaves``."""
    torch = _torch()
    remaining = iter(leaves)

    def walk(item: Any) -> Any:
        if torch is not None and isinstance(item, torch.Tensor):
            return next(remaining)
        if isinstance(item, tuple):
            return tuple(walk(element) for element in item)
        if isinstance(item, list):
            return [walk(element) for element in item]
        if isinstance(item, dict):
            return {walk(key): walk(element) for key, element in item.items()}
        return item

    return walk(value)


def encode_lenient(value: Any, blobs: list[bytes], on_other: Callable[[Any], dict], depth: int = 0) -> Any:
    """Like :func:`grader.isolation.wire.encode`, but lenient with subclasses of plain types (a
    learner's ndarray view, an ``OrderedDict`` from ``state_dict()``, a tensor subclass)."""
    import numpy as np

    if depth > wire.MAX_DEPTH:
        raise wire.WireError("the value is nested too deeply")
    if isinstance(value, tuple) and type(value) is not tuple and depth > 0:
        # a namedtuple inside a result (a cache read by field name) stays the learner's own,
        # as a handle, so that it comes back to their code as it was; a result that is one
        # is still the tuple a check unpacks
        return on_other(value)
    if isinstance(value, tuple):
        return {"$tuple": [encode_lenient(v, blobs, on_other, depth + 1) for v in value]}
    if isinstance(value, list):
        return [encode_lenient(v, blobs, on_other, depth + 1) for v in value]
    if isinstance(value, dict) and type(value) is not dict:
        return {"$dict": [[encode_lenient(k, blobs, on_other, depth + 1), encode_lenient(v, blobs, on_other, depth + 1)]
                          for k, v in value.items()]}
    if isinstance(value, np.ndarray) and type(value) is not np.ndarray:
        value = np.asarray(value)
    torch = _torch()
    if torch is not None and isinstance(value, torch.Tensor) and type(value) not in (torch.Tensor, torch.nn.Parameter):
        value = torch.Tensor._make_subclass(torch.Tensor, value.detach(), value.requires_grad)
    return wire.encode(value, blobs, on_other)


class Link:
    """The worker's way to the reference host: one request out, one answer back, over the
    worker's channel to the grader (which is waiting on it, since a stand-in is only ever
    called while the worker serves a request of the grader's, or imports).

    The learner's objects in a request (their layer handed to a reference ``Encoder``)
    cross as the worker's handles; while the host works on the request it may call back
    (run that layer, copy it, read an attribute): those requests are served here, by the
    worker, until the answer comes."""

    def __init__(self, worker: Any):
        self.worker = worker
        self.graphs = _Graphs()

    def ask(self, op: str, **fields: Any) -> Any:
        worker = self.worker
        blobs: list[bytes] = []
        try:
            body = {"op": op, **{key: encode_lenient(value, blobs, worker._keep) for key, value in fields.items()}}
        except wire.WireError as exc:
            raise StandInError(str(exc)) from None
        worker.channel.send({REQUEST_KEY: body}, blobs)
        while True:
            header, blobs = worker.channel.recv()
            if "ok" in header:
                break
            worker.handle(header, blobs)   # the host calls back into the learner's objects
        if header.get("ok") is not True:
            error = header.get("error") if isinstance(header.get("error"), dict) else {}
            raise StandInError(f"{error.get('type', 'Error')}: {error.get('message', '')}")
        try:
            return worker._decode(header.get("value"), blobs)
        except wire.WireError as exc:
            raise StandInError(str(exc)) from None


# ---------------------------------------------------------------- calls back from the host

class _Graphs:
    """Graphs of the learner's code run on the host's behalf, kept for the host's backward.
    Gradients of the learner's parameters found there are collected for the stand-in call
    whose backward is under way (a stack: such calls nest)."""

    LIMIT = 64

    def __init__(self):
        self.kept: dict[int, tuple[list, list, list]] = {}
        self.next_id = 1
        self.collecting: list[dict[int, Any]] = []

    def call(self, fn: Callable, args: list, kwargs: dict, graph: bool) -> dict:
        torch = _torch()
        if torch is None:  # numpy code: no graph to keep
            return {"graph": None, "value": fn(*args, **kwargs)}
        inputs = [t for t in tensor_leaves((args, kwargs)) if t.requires_grad] if graph else []
        owner = fn if isinstance(fn, torch.nn.Module) else None
        params = [p for p in owner.parameters() if p.requires_grad] if owner is not None and graph else []
        with torch.enable_grad() if graph else torch.no_grad():
            value = fn(*args, **kwargs)
        outputs = tensor_leaves(value)
        reply = {"graph": None}
        if graph and (inputs or params) and any(o.requires_grad for o in outputs):
            handle = self.next_id
            self.next_id += 1
            self.kept[handle] = (outputs, inputs, params)
            while len(self.kept) > self.LIMIT:
                del self.kept[min(self.kept)]
            reply["graph"] = handle
        reply["value"] = replace_leaves(value, [o.detach() for o in outputs]) if outputs else value
        return reply

    def backward(self, handle: Any, grads: list) -> list:
        torch = _torch()
        if handle not in self.kept:
            raise LookupError("the graph of this call is gone")
        outputs, inputs, params = self.kept[handle]
        pairs = [(o, g) for o, g in zip(outputs, grads) if g is not None and o.requires_grad]
        if not pairs:
            return [None] * len(inputs)
        found = torch.autograd.grad([o for o, _ in pairs], inputs + params, [g.to(o.dtype) for o, g in pairs],
                                    allow_unused=True, retain_graph=True)
        if self.collecting:
            sink = self.collecting[-1]
            for param, grad in zip(params, found[len(inputs):]):
                if grad is not None:
                    sink[id(param)] = grad if id(param) not in sink else sink[id(param)] + grad
        return [g.detach() if g is not None else None for g in found[:len(inputs)]]


CALLBACK_OPS = ("clone", "graph_call", "graph_backward")


def serve_callback(link: Link, op: str, target: Any, fields: dict) -> Any:
    """One call back from the reference host: ``clone`` (a deep copy of a learner's object),
    ``graph_call`` (run it, keeping the graph), ``graph_backward``."""
    if op == "clone":
        import copy

        return copy.deepcopy(target)
    if op == "graph_call":
        return link.graphs.call(target, list(fields.get("args", [])), dict(fields.get("kwargs", {})),
                                bool(fields.get("graph")))
    if op == "graph_backward":
        return link.graphs.backward(fields.get("graph"), list(fields.get("grads", [])))
    raise wire.WireError(f"unknown op {op!r}")


# ---------------------------------------------------------------- calls

def _rng_state() -> Any:
    torch = _torch()
    return torch.get_rng_state() if torch is not None else None


def _restore_rng(state: Any) -> None:
    torch = _torch()
    if torch is not None and isinstance(state, torch.Tensor) and state.dtype == torch.uint8:
        torch.set_rng_state(state)


def _needs_graph(leaves: list) -> bool:
    torch = _torch()
    return torch is not None and torch.is_grad_enabled() and any(t.requires_grad for t in leaves)


def run(link: Link, target: dict, call: tuple, learner_params: list = ()) -> Any:
    """The reference's answer to ``call`` = ``(args, kwargs, parameters, buffers)`` on
    ``target`` (``{"name": "module.fn"}`` or ``{"id": n}`` for a class stand-in).
    ``learner_params``: parameters of the learner's modules the stand-in holds (the host
    runs those modules by calling back), whose gradients the call must give too."""
    leaves = tensor_leaves(call)
    uses_torch = bool(leaves) or "id" in target
    if not _needs_graph(leaves + list(learner_params)):
        plain = replace_leaves(call, [t.detach() for t in leaves]) if leaves else call
        reply = link.ask("call", target=target, call=plain, rng=_rng_state() if uses_torch else None, graph=False)
        _restore_rng(reply.get("rng"))
        return reply["value"]
    holder: dict = {"learner_params": len(learner_params)}
    wanted = [t for t in leaves if t.requires_grad] + list(learner_params)
    outputs = _Remote.apply(link, target, call, holder, *wanted)
    return replace_leaves(holder["structure"], list(outputs))


def _make_remote():
    torch = _torch()

    class Remote(torch.autograd.Function):
        """One reference call inside the learner's graph: forward and backward in the host."""

        @staticmethod
        def forward(ctx, link, target, call, holder, *wanted):
            leaves = tensor_leaves(call)
            marked = [t.detach().requires_grad_(t.requires_grad and t.is_floating_point()) for t in leaves]
            reply = link.ask("call", target=target, call=replace_leaves(call, marked), rng=_rng_state(), graph=True)
            _restore_rng(reply.get("rng"))
            outputs = tensor_leaves(reply["value"])
            holder["structure"] = reply["value"]
            own = holder["learner_params"]
            ctx.link, ctx.graph = link, reply.get("graph")
            ctx.sent, ctx.own = len(wanted) - own, [id(p) for p in wanted[len(wanted) - own:]]
            ctx.set_materialize_grads(False)
            ctx.mark_non_differentiable(*[o for o in outputs if not o.is_floating_point()])
            return tuple(outputs)

        @staticmethod
        def backward(ctx, *grads):
            none = (None, None, None, None)
            if ctx.graph is None:
                return none + (None,) * (ctx.sent + len(ctx.own))
            ctx.link.graphs.collecting.append({})
            try:
                sent = ctx.link.ask("backward", graph=ctx.graph, grads=list(grads))
            finally:
                collected = ctx.link.graphs.collecting.pop()
            return none + tuple(sent) + tuple(collected.get(key) for key in ctx.own)

    return Remote


class _Remote:
    """The autograd Function, made once torch is there (a numpy course never imports it)."""

    _made = None

    @classmethod
    def apply(cls, *args):
        if cls._made is None:
            cls._made = _make_remote()
        return cls._made.apply(*args)


# ---------------------------------------------------------------- stand-ins

def make_function(link: Link, module: str, name: str) -> Callable:
    qualified = f"{module}.{name}"

    def stand_in(*args, **kwargs):
        return run(link, {"name": qualified}, (list(args), kwargs, {}, {}))

    stand_in.__name__ = stand_in.__qualname__ = name
    stand_in.__module__ = module
    stand_in.__doc__ = f"The reference {qualified}, standing in for yours (it runs in another process)."
    return stand_in


def make_module_class(link: Link, module: str, name: str) -> type:
    """An ``nn.Module`` class whose instances are made and run by the reference host."""
    torch = _torch()
    qualified = f"{module}.{name}"

    class StandIn(torch.nn.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()
            made = link.ask("new", name=qualified, call=(list(args), kwargs, {}, {}), rng=_rng_state())
            if not isinstance(made, dict):
                raise StandInError(f"the reference {qualified} could not be made")
            _restore_rng(made.get("rng"))
            object.__setattr__(self, "_stand_in_id", made["id"])
            for path, value in made["parameters"]:
                _owner(self, path).register_parameter(path.rsplit(".", 1)[-1], torch.nn.Parameter(value))
            for path, value, persistent in made["buffers"]:
                _owner(self, path).register_buffer(path.rsplit(".", 1)[-1], value, persistent=bool(persistent))
            for path, learner_object in made["learner_modules"]:  # the learner's, as the host holds them
                _adopt(self, path, learner_object)
            for key, value in made["attributes"].items():
                if not hasattr(self, key):
                    setattr(self, key, value)
            self.train(bool(made["training"]))
            object.__setattr__(self, "_host_state", {name for name, *_ in made["parameters"] + made["buffers"]})

        def forward(self, *args, **kwargs):
            host = self._host_state
            parameters = {n: p for n, p in self.named_parameters() if n in host}
            buffers = {n: b for n, b in self.named_buffers() if n in host}
            learner = [p for n, p in self.named_parameters() if n not in host and p.requires_grad]
            return run(link, {"id": self._stand_in_id, "training": self.training},
                       (list(args), kwargs, parameters, buffers), learner)

    StandIn.__name__ = StandIn.__qualname__ = name
    StandIn.__module__ = module
    StandIn.__doc__ = f"The reference {qualified}, standing in for yours (it runs in another process)."
    return StandIn


def _adopt(root, path: str, child) -> None:
    """Make ``child`` the submodule at ``path`` of ``root``."""
    owner, last = _owner(root, path), path.rsplit(".", 1)[-1]
    if isinstance(owner, _torch().nn.ModuleList) and last.isdigit() and int(last) == len(owner):
        owner.append(child)
    else:
        owner.add_module(last, child)


def _owner(root, path: str):
    """The container module that holds ``path``'s last part, made on the way
    (an ``nn.ModuleList`` where the children are numbered)."""
    torch = _torch()
    owner = root
    parts = path.split(".")
    for index, part in enumerate(parts[:-1]):
        child = owner._modules.get(part)
        if child is None:
            child = torch.nn.ModuleList() if parts[index + 1].isdigit() else torch.nn.Module()
            if isinstance(owner, torch.nn.ModuleList) and part.isdigit() and int(part) == len(owner):
                owner.append(child)
            else:
                owner.add_module(part, child)
        owner = child
    return owner
