"""The reference host: a process that runs reference code for a worker's stand-ins.

A worker never holds reference code (see :mod:`grader.isolation.standins`). When its learner's code
calls a stand-in, the request crosses to the grader, which hands it to this process:
started and isolated like a worker, but it never loads a learner's file. It holds the
course modules with only the regions of what the graded exercise builds on filled in
(never the graded exercise itself), answers calls of those names only, and sends back
plain data: values, the advanced random state, and for calls inside the learner's
autograd graph an id under which the graph is kept for the backward pass.

An error says its type and message, never a traceback: reference source stays here.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import functools
from collections import OrderedDict
from contextlib import nullcontext
from typing import Any

from grader.isolation import wire
from grader.isolation.standins import replace_leaves, tensor_leaves

MAX_GRAPHS = 64                 # graphs kept for a backward pass, the oldest dropped first
ERROR_TEXT_LIMIT = 500
CALLBACK_KEY = "callback"       # the host's message that asks the worker, not an answer


class SourceImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Course modules by plain name, from source text the grader sent (no files)."""

    def __init__(self, sources: dict[str, str]):
        self.sources = sources

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.sources:
            return importlib.machinery.ModuleSpec(fullname, self, origin=f"<reference {fullname}>")
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__file__ = f"<reference {module.__name__}>"
        exec(compile(self.sources[module.__name__], module.__file__, "exec"), module.__dict__)


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    return isinstance(value, tuple) and all(_is_plain(v) for v in value)


class ReferenceHost:
    def __init__(self, channel: wire.Channel, config: dict):
        self.channel = channel
        self.allowed = {str(name) for name in config.get("allowed", [])}
        self.instances: dict[int, Any] = {}
        self.graphs: OrderedDict[int, tuple[list, list]] = OrderedDict()
        self.next_id = 1
        sys.meta_path.insert(0, SourceImporter(dict(config.get("sources", {}))))

    # ------------------------------------------------------------ serving
    def serve(self) -> None:
        self.channel.send({"ok": True, "value": None})
        while True:
            try:
                header, blobs = self.channel.recv()
            except EOFError:
                return
            if header.get("op") == "exit":
                return
            self.answer(header, blobs)

    def answer(self, header: dict, blobs: list[bytes]) -> None:
        out: list[bytes] = []
        try:
            fields = {key: self.decode(value, blobs) for key, value in header.items() if key != "op"}
            value = self.handle(header.get("op"), fields)
            reply = {"ok": True, "value": self.encode(value, out)}
        except BaseException as exc:  # noqa: BLE001 - every failure is an answer for the worker
            out = []
            try:
                message = str(exc)[:ERROR_TEXT_LIMIT]
            except Exception:  # noqa: BLE001
                message = ""
            reply = {"ok": False, "error": {"type": type(exc).__name__[:100], "message": message}}
        self.channel.send(reply, out)

    def handle(self, op: Any, fields: dict) -> Any:
        if op == "call":
            return self.call(fields["target"], fields["call"], fields.get("rng"), bool(fields.get("graph")))
        if op == "new":
            return self.new(str(fields["name"]), fields["call"], fields.get("rng"))
        if op == "backward":
            return self.backward(fields["graph"], fields["grads"])
        raise wire.WireError(f"unknown op {op!r}")

    # ------------------------------------------------------------ the learner's objects
    def decode(self, data: Any, blobs: list[bytes]) -> Any:
        return wire.decode(data, blobs, lambda handle, kind: learner_module_class()(self, handle, kind))

    def encode(self, value: Any, blobs: list[bytes]) -> Any:
        def learner_only(item: Any) -> dict:
            if "torch" in sys.modules and isinstance(item, learner_module_class()):
                return {"$handle": item._handle, "type": item._kind}
            return wire.refuse_other(item)

        return wire.encode(value, blobs, learner_only)

    def ask_worker(self, op: str, target: int | None = None, **fields: Any) -> Any:
        """Call back into the worker (through the grader) and serve the worker's own
        requests that come meanwhile (a stand-in inside the learner's layer)."""
        blobs: list[bytes] = []
        body = {"op": op, **{key: self.encode(value, blobs) for key, value in fields.items()}}
        if target is not None:
            body["target"] = {"handle": target}
        self.channel.send({CALLBACK_KEY: body}, blobs)
        while True:
            header, blobs = self.channel.recv()
            if "ok" in header:
                break
            self.answer(header, blobs)
        if header.get("ok") is not True:
            error = header.get("error") if isinstance(header.get("error"), dict) else {}
            raise LearnerError(f"{error.get('type', 'Error')}: {str(error.get('message', ''))[:ERROR_TEXT_LIMIT]}")
        return self.decode(header.get("value"), blobs)

    # ------------------------------------------------------------ ops
    def _named(self, name: str) -> Any:
        if name not in self.allowed:
            raise LookupError(f"{name} is not a reference piece this exercise builds on")
        module, _, attr = name.partition(".")
        return getattr(importlib.import_module(module), attr)

    def new(self, name: str, call: tuple, rng: Any) -> dict:
        torch = _set_rng(rng)
        cls = self._named(name)
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise TypeError(f"{name} is not a module class")
        args, kwargs, _, _ = call
        instance = cls(*args, **kwargs)
        handle = self._keep_instance(instance)
        persistent = set(instance.state_dict())
        learner = [(n, m) for n, m in instance.named_modules() if isinstance(m, learner_module_class())]
        return {
            "id": handle,
            "parameters": [(n, p.detach()) for n, p in instance.named_parameters()],
            "buffers": [(n, b.detach(), n in persistent) for n, b in instance.named_buffers()],
            "learner_modules": learner,
            "attributes": {k: v for k, v in vars(instance).items()
                           if not k.startswith("_") and k != "training" and _is_plain(v)},
            "training": instance.training,
            "rng": torch.get_rng_state(),
        }

    def _keep_instance(self, instance: Any) -> int:
        handle = self.next_id
        self.next_id += 1
        self.instances[handle] = instance
        return handle

    def call(self, target: dict, call: tuple, rng: Any, graph: bool) -> dict:
        torch = _set_rng(rng) if rng is not None else sys.modules.get("torch")
        args, kwargs, parameters, buffers = call
        if "id" in target:
            module = self.instances.get(target["id"])
            if module is None:
                raise LookupError("no such stand-in instance")
            module.train(bool(target.get("training", True)))
            state = {**buffers, **parameters}

            def fn(*a, **k):
                return torch.func.functional_call(module, state, tuple(a), k, strict=False)
        else:
            fn = self._named(str(target.get("name")))
        inputs = [t for t in tensor_leaves(call) if t.requires_grad] if graph else []
        with torch.enable_grad() if inputs else nullcontext():
            value = fn(*args, **kwargs)
        reply: dict = {"rng": torch.get_rng_state() if rng is not None else None, "graph": None}
        outputs = tensor_leaves(value)
        if inputs and any(o.requires_grad for o in outputs):
            reply["graph"] = self._keep_graph(outputs, inputs)
        reply["value"] = replace_leaves(value, [o.detach() for o in outputs]) if outputs else value
        return reply

    def _keep_graph(self, outputs: list, inputs: list) -> int:
        handle = self.next_id
        self.next_id += 1
        self.graphs[handle] = (outputs, inputs)
        while len(self.graphs) > MAX_GRAPHS:
            self.graphs.popitem(last=False)
        return handle

    def backward(self, handle: Any, grads: list) -> list:
        import torch

        if handle not in self.graphs:
            raise LookupError("the reference's graph for this call is gone (backward through a very old call?)")
        outputs, inputs = self.graphs[handle]
        pairs = [(o, g) for o, g in zip(outputs, grads) if g is not None and o.requires_grad]
        if not pairs:
            return [None] * len(inputs)
        found = torch.autograd.grad([o for o, _ in pairs], inputs, [g.to(o.dtype) for o, g in pairs],
                                    allow_unused=True, retain_graph=True)
        return [g.detach() if g is not None else None for g in found]


class LearnerError(Exception):
    """The learner's code, called back by reference code, raised."""


@functools.lru_cache(maxsize=None)
def learner_module_class() -> type:
    """The class of the learner's objects in this process (made once torch is needed:
    a numpy course never imports it)."""
    import torch

    class Callback(torch.autograd.Function):
        """The learner's module inside the reference's graph: its backward is the worker's."""

        @staticmethod
        def forward(ctx, module, args, kwargs, holder, *wanted):
            leaves = tensor_leaves((args, kwargs))
            marked = [t.detach().requires_grad_(t.requires_grad and t.is_floating_point()) for t in leaves]
            args, kwargs = replace_leaves((args, kwargs), marked)
            reply = module._host.ask_worker("graph_call", module._handle, args=list(args), kwargs=kwargs, graph=True)
            outputs = tensor_leaves(reply["value"])
            holder["structure"] = reply["value"]
            ctx.host, ctx.graph, ctx.count = module._host, reply.get("graph"), len(wanted)
            ctx.set_materialize_grads(False)
            ctx.mark_non_differentiable(*[o for o in outputs if not o.is_floating_point()])
            return tuple(outputs)

        @staticmethod
        def backward(ctx, *grads):
            if ctx.graph is None:
                return (None, None, None, None) + (None,) * ctx.count
            found = ctx.host.ask_worker("graph_backward", graph=ctx.graph, grads=list(grads))
            return (None, None, None, None) + tuple(found)

    class LearnerModule(torch.nn.Module):
        """One of the learner's objects, as reference code holds it: calling it, copying it
        or reading an attribute asks the worker, where the object lives."""

        def __init__(self, host: "ReferenceHost", handle: int, kind: str):
            super().__init__()
            object.__setattr__(self, "_host", host)
            object.__setattr__(self, "_handle", handle)
            object.__setattr__(self, "_kind", kind)

        def __getattr__(self, name: str) -> Any:
            if name.startswith("_"):
                return super().__getattr__(name)
            return self._host.ask_worker("get", self._handle, name=name)

        def __deepcopy__(self, memo: dict) -> "LearnerModule":
            return self._host.ask_worker("clone", self._handle)

        def forward(self, *args, **kwargs):
            leaves = tensor_leaves((args, kwargs))
            if not (torch.is_grad_enabled() and any(t.requires_grad for t in leaves)):
                reply = self._host.ask_worker("graph_call", self._handle, args=list(args), kwargs=kwargs, graph=False)
                return reply["value"]
            holder: dict = {}
            outputs = Callback.apply(self, args, kwargs, holder, *[t for t in leaves if t.requires_grad])
            return replace_leaves(holder["structure"], list(outputs))

    return LearnerModule


def _set_rng(rng: Any):
    import torch

    if isinstance(rng, torch.Tensor) and rng.dtype == torch.uint8:
        torch.set_rng_state(rng)
    return torch

