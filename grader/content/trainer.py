"""What the three training tasks share: starting weights chosen by name, Adam's loop, and
the trained weights' way back from the worker.

The capstone (:mod:`grader.content.capstone`), seq2seq_training (:mod:`grader.content.bottleneck`) and
vit_training (:mod:`grader.content.vit_task`) train the learner's modules in the worker and judge
the weights in the reference architecture, here in the grader. Each task keeps its data,
its configuration and its rules: the value each parameter starts from, the learning rate
at each step, the loss of a batch. This module holds the mechanism, so that the three
runs draw their random numbers and do their float operations in one way.

A grade depends on the exact numbers these runs produce. A change here that draws one
more number, or reorders two float operations, changes every trained weight.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Sequence

import torch

# writes a parameter's starting value in place, drawing only from the generator
StartingValue = Callable[[str, torch.nn.Parameter, torch.Generator], None]
# called after every step with the step (from 1) and its loss; True ends the run there
AfterStep = Callable[[int, float], Any]


@dataclass
class RunConfig:
    """What every training run sets alike: batches of ``batch_size``, the gradients'
    total norm clipped to ``clip_norm``, everything random drawn from ``seed``. A task's
    configuration adds its own settings. It crosses to the worker as plain data:
    ``type(config)(**config.to_dict())`` is the same run."""

    batch_size: int = 64
    clip_norm: float = 1.0
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def initialise(models: Iterable[torch.nn.Module], seed: int, starting_value: StartingValue) -> None:
    """Give every trainable parameter of ``models`` its starting value, drawn from ``seed`` alone.

    ``starting_value(name, parameter, generator)`` is the task's rule. The parameters of
    each model are visited sorted by name, the models in the order given. So every model
    with the syllabus's names starts from the same weights, whatever its constructor drew
    or the order it made its layers in."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for model in models:
            for name, parameter in sorted(model.named_parameters()):
                if parameter.requires_grad:       # frozen: not the optimiser's, so not ours either
                    starting_value(name, parameter, generator)


def linear_decay(lr: float, steps: int) -> Callable[[int], float]:
    """The learning rate at each step (from 1) of a run of ``steps``: ``lr`` at the first,
    falling by ``lr / steps`` a step."""
    return lambda step: lr * (1 - (step - 1) / steps)


def train_with_adam(models: Sequence[torch.nn.Module], batch_loss: Callable[[], torch.Tensor],
                    lr_at: Callable[[int], float], steps: int, clip_norm: float,
                    after_step: AfterStep | None = None, **adam_options) -> list[float]:
    """Train the parameters of ``models`` with Adam for at most ``steps`` steps; return
    each step's loss.

    Step ``step`` (from 1) sets the learning rate to ``lr_at(step)``, takes the loss of a
    fresh batch from ``batch_loss()``, clips the gradients' total norm to ``clip_norm`` and
    moves the weights. Then ``after_step(step, loss)`` runs; the run ends there if it
    returns True. The models train in train mode and are left in eval mode.

    Raises FloatingPointError, naming the step, if a loss is not finite."""
    for model in models:
        model.train()
    parameters = [parameter for model in models for parameter in model.parameters()]
    # every step sets the rate, so the one given here is never used
    optimiser = torch.optim.Adam(parameters, lr=0.0, **adam_options)
    losses: list[float] = []
    for step in range(1, steps + 1):
        lr = lr_at(step)
        for group in optimiser.param_groups:
            group["lr"] = lr
        loss = batch_loss()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, clip_norm)   # one bad batch must not undo the rest
        optimiser.step()
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(f"the training loss became {value} at step {step}")
        losses.append(value)
        # `is True`: a progress callback's return value must not end the run
        if after_step is not None and after_step(step, value) is True:
            break
    for model in models:
        model.eval()
    return losses


def trained_state(model: torch.nn.Module, prefix: str = "") -> dict:
    """``model``'s weights as plain tensors, by name after ``prefix``: what crosses back
    from the worker. Copies, so that the model's later use cannot change them."""
    return {prefix + name: value.detach().clone() for name, value in model.state_dict().items()}


# ---------------------------------------------------------------- in the grader

def load_trained_state(model: torch.nn.Module, state: Any, what: str, prefix: str = "",
                       rename: Callable[[dict], dict] | None = None,
                       describe_missing: Callable[[list, Any], str] | None = None) -> torch.nn.Module:
    """Load ``state``, a trained state back from the worker, into ``model``, a freshly
    built reference model; return the model.

    The model's names are looked up under ``prefix`` in ``state``, after ``rename`` (the
    learner's names for the same weights written as the syllabus's). The check fails,
    with a message for the learner, if ``state`` is not a dict, lacks one of the names,
    or holds a tensor of another shape. ``what`` names the model in that message;
    ``describe_missing(missing, state)`` words the first two failures instead, if given.
    The learner's own buffers come back too; only the model's names are read."""
    # the checks' vocabulary is the grader's; the worker imports this module for the loop
    from grader.checks import expect

    if describe_missing is None and not isinstance(state, dict):
        # worded only when it fails: a dict's repr would print every tensor, 50 ms a call
        expect(False, f"the trained model's state is {state!r}; expected a dict of tensors")
    if rename is not None and isinstance(state, dict):
        state = rename(state)
    shapes = {prefix + name: tuple(value.shape) for name, value in model.state_dict().items()}
    missing = sorted(name for name in shapes if not isinstance(state, dict) or name not in state)
    if describe_missing is None:
        expect(not missing, f"the trained {what} has no {missing}; it has {sorted(state)}")
    else:
        expect(not missing, describe_missing(missing, state))
    wrong = {k: tuple(state[k].shape) for k in shapes if tuple(state[k].shape) != shapes[k]}
    expect(not wrong, f"trained parameters with the wrong shape: {wrong}; expected {({k: shapes[k] for k in wrong})}")
    model.load_state_dict({name[len(prefix):]: torch.as_tensor(state[name]).float() for name in shapes})
    return model
