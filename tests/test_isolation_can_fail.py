"""The isolation tests can fail: with the steps that stop an attack switched off, it succeeds.

An attack test of tests/test_attacks.py that names its steps (``@needs(...)``) is run
again in a fresh pytest, with ``GRADER_SANDBOX_SKIP`` switching those steps off in every
worker, and must then fail. A test that passed either way would prove nothing about
the step it names. The static layer is off in those tests already, so that each shows
the layer behind it holding on its own.
"""

import os
import subprocess
import sys

import pytest

from grader.isolation import sandbox
from tests import test_attacks
from tests.support import ROOT

pytestmark = pytest.mark.slow  # each case grades an attack in a fresh pytest

ATTACKS = sorted((name, test.stopped_by) for name, test in vars(test_attacks).items()
                 if name.startswith("test_") and hasattr(test, "stopped_by"))


def test_every_isolation_step_has_an_attack_that_needs_it():
    named = {step for _, steps in ATTACKS for step in steps}
    assert {"filesystem", "processes", "network"} <= named, named


@pytest.mark.skipif(not test_attacks.ISOLATED, reason="the isolation steps need root here, so their attack "
                    "tests skip, and there is nothing to switch off (see grader/isolation/sandbox.py)")
@pytest.mark.parametrize("name, steps", ATTACKS, ids=[name for name, _ in ATTACKS])
def test_the_attack_succeeds_with_its_steps_switched_off(name, steps):
    env = {**os.environ, sandbox.SKIP_ENV: ",".join(steps)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          f"tests/test_attacks.py::{name}"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, (f"{name} did not fail with {', '.join(steps)} switched off "
                                 f"(pytest exit {run.returncode}):\n{run.stdout[-3000:]}")
