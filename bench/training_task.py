"""What the training-check benchmarks share: their options, the reference modules on the
threads asked for, and a clock that reads CPU and wall time together.

Used by ``seq2seq_training.py`` and ``vit_training.py``; not a benchmark itself.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.course.manifest import load_manifest  # noqa: E402
from grader.course.namespace import ModuleNamespace  # noqa: E402


def options_and_reference(doc: str, no_init_help: str, alias: str) -> tuple[argparse.Namespace, ModuleNamespace]:
    """The command line (``--seeds``, ``--threads``, ``--no-init``) and the reference
    modules, with torch set to the threads asked for."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-init", action="store_true", help=no_init_help)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    course = load_manifest(ROOT / "course.toml")
    return args, ModuleNamespace(ROOT / "solutions", course.module_names, alias=alias)


def timed(work: Callable[[], object]) -> tuple[object, float, float]:
    """What ``work()`` returns, with the CPU seconds of this process and the wall seconds it took."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    return result, time.process_time() - cpu, time.perf_counter() - wall
