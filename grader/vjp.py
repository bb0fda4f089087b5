"""One vector-Jacobian product, computed the same way wherever the code runs.

A check that wants the gradients of the learner's torch code cannot run autograd on
tensors that crossed the process boundary (they arrive as plain data, with no graph).
So the worker runs this function next to the learner's code and sends back only the
resulting tensors; for the reference, and under plain pytest, the grader runs the
very same function locally (see :func:`grader.checks.vjp`).
"""

from __future__ import annotations

from typing import Any, Callable


def vector_jacobian_product(fn: Callable, args: list, kwargs: dict, upstream: Any,
                            wrt: list[int] | None = None, output: int | None = None) -> tuple:
    """Call ``fn(*args, **kwargs)`` and backpropagate ``upstream`` from its output.

    ``wrt`` lists the positions of the tensor arguments to differentiate (default:
    every floating-point tensor); ``output`` picks one element when ``fn`` returns a
    tuple. When ``fn`` is an ``nn.Module`` (or one of its bound methods) the gradients
    of its trainable parameters come back too.

    Returns ``(output, input_grads, parameter_grads)``: the output, detached; a tuple
    with one gradient (or None when none flows) per ``wrt`` position; a dict from
    parameter name to gradient (or None).
    """
    import torch

    args = list(args)
    if wrt is None:
        wrt = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_floating_point()]
    for i in wrt:
        if not (isinstance(args[i], torch.Tensor) and args[i].is_floating_point()):
            raise TypeError(f"argument {i} is not a floating-point tensor, so it has no gradient")
        args[i] = args[i].detach().clone().requires_grad_(True)
    owner = fn if isinstance(fn, torch.nn.Module) else getattr(fn, "__self__", None)
    params = ({n: p for n, p in owner.named_parameters() if p.requires_grad}
              if isinstance(owner, torch.nn.Module) else {})

    with torch.enable_grad():
        result = fn(*args, **kwargs)
        picked = result[output] if output is not None else result
        if not isinstance(picked, torch.Tensor):
            raise TypeError(f"expected a tensor to backpropagate from, but got a {type(picked).__name__}")
        upstream = torch.as_tensor(upstream)
        if tuple(upstream.shape) != tuple(picked.shape):
            raise ValueError(f"the output has shape {tuple(picked.shape)}, "
                             f"but it should have shape {tuple(upstream.shape)}")
        inputs = [args[i] for i in wrt] + list(params.values())
        if picked.requires_grad and inputs:
            grads = torch.autograd.grad(picked, inputs, upstream.to(picked.dtype), allow_unused=True)
        else:  # the output was cut off from its inputs (detach, .data, numpy, no_grad)
            grads = (None,) * len(inputs)
    grads = [g.detach() if g is not None else None for g in grads]
    return picked.detach(), tuple(grads[:len(wrt)]), dict(zip(params, grads[len(wrt):]))
