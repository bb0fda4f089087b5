"""The capstone: its data, `course capstone`, and grading on the learner's own code only."""

import dataclasses
import re

import pytest
import torch
from click.testing import CliRunner

from grader.cli import main
from grader.content import bottleneck, capstone, vit_task
from grader.instructor.submission import grade_submission
from tests.support import EXERCISES, ROOT, make_submission

pytestmark = pytest.mark.slow  # trains the capstone's Transformer

CAPSTONE = "capstone.reverse_digits"


# ---------------------------------------------------------------- the data

def test_targets_are_the_sources_reversed_between_bos_and_eos():
    src, tgt = capstone._encode(torch.tensor([[3, 1, 4, 0], [2, 7, 1, 8]]), torch.tensor([3, 4]))
    d = capstone.FIRST_DIGIT
    assert src.tolist() == [[3 + d, 1 + d, 4 + d, 0], [2 + d, 7 + d, 1 + d, 8 + d]]
    assert tgt.tolist() == [[1, 4 + d, 1 + d, 3 + d, 2, 0], [1, 8 + d, 1 + d, 7 + d, 2 + d, 2]]


def test_no_held_out_string_is_ever_trained_on_and_the_run_is_seeded():
    config = capstone.GRADING
    data = capstone.make_dataset(config)
    held_out = {tuple(row) for part in (data.val, data.test) for row in part[0].tolist()}
    assert len(held_out) == config.val_size + config.test_size, "validation and test strings are all distinct"
    seen = set()
    for _ in range(300):
        src, _tgt = data.batch(64, config)
        seen |= {tuple(row) for row in src.tolist()}
    assert not seen & held_out
    assert len(seen) > 5000
    first, second = capstone.make_dataset(config), capstone.make_dataset(config)
    assert torch.equal(first.test[0], data.test[0])
    assert torch.equal(first.batch(8, config)[0], second.batch(8, config)[0])


# ---------------------------------------------------------------- the initial weights

def _reference_modules():
    from grader.course.manifest import load_manifest
    from grader.course.namespace import ModuleNamespace

    return ModuleNamespace(ROOT / "solutions", load_manifest(ROOT / "course.toml").module_names, "_reference")


def test_training_starts_from_the_same_weights_whatever_the_constructor_drew():
    ref = _reference_modules()
    config = capstone.GRADING
    torch.manual_seed(3)
    as_the_syllabus_asks = capstone.build_model(ref, config)
    torch.manual_seed(4)
    pytorch_defaults = capstone.build_model(ref, config)
    for module in pytorch_defaults.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            module.reset_parameters()      # nn.Embedding draws N(0, 1), nn.Linear Kaiming-uniform
    with torch.no_grad():
        for name, parameter in pytorch_defaults.named_parameters():
            if parameter.dim() == 1:
                parameter.normal_()        # norms and biases moved too
    for model in (as_the_syllabus_asks, pytorch_defaults):
        capstone.initialise(model, config.seed)
    first, second = as_the_syllabus_asks.state_dict(), pytorch_defaults.state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)
    for name, value in first.items():
        if value.dim() == 2:
            bound = (6.0 / sum(value.shape)) ** 0.5
            assert value.abs().max() <= bound and value.std() > 0.4 * bound, name
        else:
            assert torch.equal(value, torch.ones_like(value) if "norm" in name and name.endswith("weight")
                               else torch.zeros_like(value)), name
    capstone.initialise(pytorch_defaults, config.seed + 1)
    assert not torch.equal(pytorch_defaults.src_embed.weight, as_the_syllabus_asks.src_embed.weight)


# ---------------------------------------------------------------- the command

def invoke(*args):
    return CliRunner().invoke(main, ["--course", str(ROOT), "capstone", *args], catch_exceptions=False)


@pytest.mark.parametrize("lang, words", [("en", "held-out strings"), ("ko", "처음 보는 문자열")])
def test_the_reference_learns_the_quick_run_and_draws_both_pictures(tmp_path, lang, words):
    run = invoke("--impl", "solutions", "--quick", "--out", str(tmp_path), "--lang", lang)
    assert run.exit_code == 0, run.output
    assert words in run.output
    last = run.output.strip().splitlines()[-1]
    match = re.fullmatch(r"accuracy: (\d\.\d+)", last)
    assert match, f"the last line is {last!r}"
    assert float(match.group(1)) >= capstone.GRADING_THRESHOLD
    for name in ("capstone_curves.png", "capstone_attention.png"):
        picture = tmp_path / name
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000, name


@pytest.mark.parametrize("lang, words", [("en", "not written yet"), ("ko", "아직 작성하지 않은")])
def test_stubs_get_a_message_that_says_what_to_finish_first(tmp_path, lang, words):
    run = invoke("--impl", str(EXERCISES), "--quick", "--out", str(tmp_path), "--lang", lang)
    assert run.exit_code == 1
    assert "NotImplementedError" in run.output and "course check" in run.output and words in run.output
    assert "Traceback" not in run.output


def test_a_folder_without_the_modules_is_refused(tmp_path):
    run = invoke("--impl", str(tmp_path))
    assert run.exit_code != 0 and "transformer.py" in run.output


# ---------------------------------------------------------------- grading: nothing substituted

def test_a_broken_module_is_not_replaced_by_the_reference_in_the_capstone(hidden, course, tmp_path):
    folder = make_submission(tmp_path / "sub")
    (folder / "multihead.py").write_text("def split_heads(:\n")
    capstone_result, = grade_submission(hidden, folder, [course.exercise(CAPSTONE)]).exercises
    assert capstone_result.score == 0
    assert "SyntaxError" in capstone_result.feedback() and "multihead.py" in capstone_result.feedback()


@pytest.mark.parametrize("kind, extra", [("capstone", {"builds_on": ["rnn.rnn_forward"]}), ("lesson", {})])
def test_the_manifest_rejects_a_capstone_that_borrows_and_unknown_kinds(kind, extra):
    import tomllib

    from grader.course.manifest import ManifestError, parse_manifest

    data = tomllib.loads((ROOT / "course.toml").read_text())
    data["modules"].append({"name": "extra", "title": "t", "framework": "torch", "kind": kind,
                            "assembles": ["rnn"], "try_with": "course capstone", "exercises": [
        {"name": "e", "title": "t", "points": 1, "hints": ["a", "bb"], **extra}]})
    with pytest.raises(ManifestError, match="builds_on|kind"):
        parse_manifest(data)


@pytest.mark.parametrize("module, task", [("capstone", capstone), ("seq2seq_training", bottleneck),
                                          ("vit_training", vit_task)])
def test_the_manifest_lists_every_module_a_training_task_reads(course, module, task):
    assert set(task.USES) <= set(course.module(module).assembles)


# ---------------------------------------------------------------- the moving average

def test_the_run_validates_and_keeps_the_moving_average_of_the_weights():
    ref = _reference_modules()
    short = dataclasses.replace(capstone.GRADING, steps=200, stop_at=2.0)
    averaged = capstone.train(ref, short)
    raw = capstone.train(ref, dataclasses.replace(short, average_decay=0.0))   # the average of one step
    # the kept model is the one validated last
    assert averaged.val_curve[-1] == (200, capstone.accuracy(ref, averaged.model, averaged.dataset.val))
    assert raw.val_curve[-1] == (200, capstone.accuracy(ref, raw.model, raw.dataset.val))
    # the same steps were taken (same losses), but what is kept is not the last step's weights
    assert averaged.losses == raw.losses
    kept, last = averaged.model.state_dict(), raw.model.state_dict()
    assert not all(torch.equal(kept[name], last[name]) for name in kept)
    assert not averaged.model.training


# ---------------------------------------------------------------- the trained weights' way back

def test_a_trained_state_that_is_not_a_dict_gets_a_message():
    from grader.checks import CheckFailed
    from grader.content import trainer

    with pytest.raises(CheckFailed, match=r"the trained model's state is \[1, 2\]; expected a dict of tensors"):
        trainer.load_trained_state(torch.nn.Linear(2, 2), [1, 2], "ViT")
