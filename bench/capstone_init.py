"""The capstone's score when the learner's Transformer initialises its weights its own way.

    python bench/capstone_init.py [--inits default xavier_uniform ...] [--seeds 0 1 2] [--threads 1]

For each (initialisation, seed): the reference modules, except that
``transformer.Transformer`` initialises its weights as a learner might (PyTorch's defaults,
Xavier uniform or normal, N(0, 1/fan_in), N(0, 0.02)), graded by the capstone's hidden checks
run in this process with the grading run's configuration at that seed. Prints the score
out of the exercise's points, the held-out accuracy and the loss ratio the checks measure.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
import types
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import fixtures  # noqa: E402
from grader.checks import CheckFailed, CheckOutcome, checks_in, exercise_score  # noqa: E402
from grader.content import capstone  # noqa: E402
from grader.course.manifest import load_manifest  # noqa: E402
from grader.course.namespace import ModuleNamespace  # noqa: E402
from suites.hidden import test_capstone as hidden  # noqa: E402


def _pytorch_defaults(model: nn.Module) -> None:
    # what the layers' own constructors do: nn.Embedding N(0, 1), nn.Linear Kaiming-uniform
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.reset_parameters()


def _matrices(init):
    def apply(model: nn.Module) -> None:
        with torch.no_grad():
            for parameter in model.parameters():
                if parameter.dim() > 1:
                    init(parameter)
    return apply


def _biases_zero_too(init):
    def apply(model: nn.Module) -> None:
        init(model)
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name.endswith("bias"):
                    parameter.zero_()
    return apply


INITIALISATIONS = {
    "default": _pytorch_defaults,
    "xavier_uniform": _matrices(nn.init.xavier_uniform_),          # what the syllabus asks for
    "xavier_normal": _matrices(nn.init.xavier_normal_),
    "normal_1_over_fan_in": _matrices(lambda p: nn.init.normal_(p, 0.0, 1.0 / math.sqrt(p.shape[1]))),
    "normal_0.02_zero_biases": _biases_zero_too(_matrices(lambda p: nn.init.normal_(p, 0.0, 0.02))),
}


class Modules(types.SimpleNamespace):
    """Course modules by name, hashable by identity (the checks keep one run per ``student`` in a weak dict)."""

    __hash__ = object.__hash__
    __eq__ = object.__eq__


def learner_modules(ref: ModuleNamespace, initialise) -> Modules:
    """The reference modules, with a Transformer that initialises its weights with ``initialise``."""

    def transformer(*args, **kwargs):
        model = ref.transformer.Transformer(*args, **kwargs)
        initialise(model)
        return model

    modules = Modules(**{name: getattr(ref, name) for name in capstone.USES})
    modules.transformer = types.SimpleNamespace(Transformer=transformer)
    modules.fixtures = types.SimpleNamespace(
        train_capstone=lambda config, measure=False: fixtures.train_capstone(config, measure, modules=modules))
    return modules


def grade(ref, student, points: float) -> tuple[float, list[CheckOutcome]]:
    """The capstone's hidden checks, run here on ``student``, and the score they give."""
    outcomes = []
    for fn in checks_in(hidden):
        try:
            fn(student=student, ref=ref)
            outcomes.append(CheckOutcome.of(fn, True))
        except CheckFailed as failure:
            outcomes.append(CheckOutcome.of(fn, False, str(failure)))
    return exercise_score(outcomes, points), outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inits", nargs="+", default=list(INITIALISATIONS), choices=list(INITIALISATIONS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    course = load_manifest(ROOT / "course.toml")
    ref = ModuleNamespace(ROOT / "solutions", course.module_names, "_reference")
    points = course.exercise("capstone.reverse_digits").points
    print(f"grading run: {capstone.GRADING.steps} steps at most, {args.threads} threads; score out of {points:g}")
    for init in args.inits:
        for seed in args.seeds:
            hidden.CONFIG = dataclasses.replace(capstone.GRADING, seed=seed)
            student = learner_modules(ref, INITIALISATIONS[init])
            started = time.perf_counter()
            score, outcomes = grade(ref, student, points)
            run = hidden._RUNS.get(student)
            held_out = capstone.accuracy(ref, hidden._trained_reference(ref, run), capstone.make_dataset(hidden.CONFIG).test)
            failed = [o.title for o in outcomes if not o.passed]
            print(f"{init:>24} seed {seed}: {score:4.2f} / {points:g}, held-out {held_out:.3f}, "
                  f"{run['steps']} steps, {time.perf_counter() - started:5.1f} s"
                  + (f"; failed: {failed}" if failed else ""), flush=True)


if __name__ == "__main__":
    main()
