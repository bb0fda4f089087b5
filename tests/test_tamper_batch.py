"""Each attack class of the tamper-proofing work, graded as `course grade` grades a class:
beside a copy of the reference and a copy of the stubs, through the real command. The
attack scores no more than the stubs on what it attacks, the reference keeps full marks,
the batch finishes, nothing outside the output folder changes (tests/test_batch_robustness.py
checks all of that in grade_batch), and no process is left behind.

The layer under test is named; where the static scan would stop an attack first, it is
switched off, so that the layer behind it is what the test shows holding."""

import os
import textwrap

import pytest

from grader.course.source import replace_definition
from grader.isolation import limits
from grader.isolation.clock import wait_limit
from tests.support import make_submission
from tests.test_batch_robustness import grade_batch
from tests.test_tamper_static import ATTACKS as STATIC_ATTACKS
from tests.test_tamper_worker import CLEAR_RECORD, SEARCH_MEMORY, TRICKLE

pytestmark = pytest.mark.slow  # grades batches of tampering submissions


def our_cgroups() -> list[str]:
    """The cgroups this process made for workers (and fork servers) that still exist. Every
    process of a batch lives in one; one is removed only once it is empty."""
    probe = limits.WorkerBudget.create(16, 16)
    probe.close()
    mine = f"course-grader-{os.stat('/proc/self/ns/pid').st_ino}-{os.getpid()}-"
    return [entry for parent in {os.path.dirname(f) for f in probe.folders.values()}
            for entry in os.listdir(parent) if entry.startswith(mine)]


@pytest.fixture()
def leaves_no_process():
    before = set(our_cgroups())        # other tests' fork servers keep theirs while they live
    yield
    assert set(our_cgroups()) <= before


def attack(tmp_path, exercise_id, definition):
    return make_submission(tmp_path / "class" / "attack", {exercise_id: definition})


@pytest.mark.usefixtures("leaves_no_process", "without_screening")
def test_class_1_the_reference_is_not_in_the_worker_to_read(tmp_path):
    """rnn_step_forward fails in this submission, so the reference stands in for it."""
    folder = attack(tmp_path, "rnn.rnn_forward", SEARCH_MEMORY)
    path = folder / "rnn.py"
    path.write_text(replace_definition(path.read_text(), "rnn_step_forward",
                                       "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n    raise ValueError\n"))
    batch = grade_batch(tmp_path, [folder], only=("rnn.rnn_forward",))
    assert "LEAKS=0 []" in batch.feedback("attack")


@pytest.mark.usefixtures("leaves_no_process", "without_screening")
def test_class_2_a_wiped_record_of_forbidden_calls_hides_nothing(tmp_path):
    batch = grade_batch(tmp_path, [attack(tmp_path, "heads.patchify", CLEAR_RECORD)], only=("heads.patchify",))
    assert "ForbiddenCall" in batch.feedback("attack")


@pytest.mark.usefixtures("leaves_no_process")
@pytest.mark.parametrize("name", sorted(STATIC_ATTACKS))
def test_class_3_forbidden_calls_in_disguise_are_refused(tmp_path, name):
    exercise_id, source, construct = STATIC_ATTACKS[name]
    batch = grade_batch(tmp_path, [attack(tmp_path, exercise_id, source)], only=(exercise_id,))
    assert construct in batch.feedback("attack")


@pytest.mark.usefixtures("leaves_no_process", "without_screening")
def test_class_7_a_trickled_message_does_not_stretch_the_deadline(tmp_path):
    trickle = "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n" + textwrap.indent(
        TRICKLE.replace("def trickle():", "def _trickle():") + "\n_trickle()\n", "    ")
    batch = grade_batch(tmp_path, [attack(tmp_path, "rnn.rnn_step_forward", trickle)],
                        only=("rnn.rnn_step_forward",), time_limit=2)
    assert f"no answer after waiting {wait_limit(2):g} s" in batch.feedback("attack")
