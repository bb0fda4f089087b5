"""Rebuild the example class in examples/class/ from solutions/ (a developer's script).

    python examples/make_examples.py

Each example is a learner's copy of exercises/ as a real class hands it in; the
mistakes come from tests/variants/, so they are ones the hidden suites must catch.
tests/test_examples.py fails when the committed examples differ from what this writes.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.course.manifest import load_manifest  # noqa: E402
from grader.course.source import make_stubs, replace_definition  # noqa: E402

MODULES = load_manifest(ROOT / "course.toml").module_names
WRONG = {exercise: named for module in MODULES
         for exercise, named in importlib.import_module(f"tests.variants.{module}").WRONG.items()}

LOOPING_CLIP_GRAD_NORM = '''def clip_grad_norm(grads, max_norm):
    total = 0.0
    i = 0
    while i < len(grads):  # forgot i += 1
        total += float(np.sum(grads[i] ** 2))
    total_norm = total ** 0.5
    scale = min(1.0, max_norm / (total_norm + 1e-6))
    return [g * scale for g in grads], total_norm
'''

EXAMPLES = {
    "ada_complete": "every exercise right: full marks",
    "ben_typical_mistakes": "a typical mistake per concept: no tanh' in a backward pass, BPTT forgetting the upstream "
                            "gradient, LSTM gates out of order, softmax without the max shift, a seq2seq encoder whose "
                            "final state is taken at the padding, an off-by-one causal mask, heads split without a "
                            "transpose, sin and cos concatenated, relative buckets with the distance's sign flipped, "
                            "layer norm with the unbiased variance, a loss that counts the padding, no padding after "
                            "eos, top-p that drops the boundary token, segment B starting at the first [SEP]; his "
                            "seq2seq_training and his capstone fail with them",
    "cho_untouched": "the stubs as handed out: zero",
    "dev_infinite_loop": "clip_grad_norm never advances its index: that exercise times out, the rest is graded",
    "eun_syntax_error": "lstm.py does not parse: the lstm exercises get zero, rnn is graded",
    "fay_halfway": "rnn done, the rest untouched, handed in as a zip",
}


def solution(module: str) -> str:
    return (ROOT / "solutions" / f"{module}.py").read_text()


def stub(module: str) -> str:
    return make_stubs(solution(module), module)


def with_wrong(source: str, exercise_id: str, variant: str) -> str:
    return replace_definition(source, exercise_id.split(".")[1], WRONG[exercise_id][variant])


# ben's mistakes: (exercise, WRONG variant), one per concept a class typically gets wrong
BEN_MISTAKES = [
    ("rnn.rnn_step_backward", "no_tanh_derivative"),
    ("rnn.rnn_backward", "upstream_only_at_last_step"),
    ("lstm.lstm_step_forward", "gate_order_ifog"),
    ("attention.softmax", "no_max_shift"),
    ("seq2seq.Encoder", "no_packing"),
    ("masking.causal_mask", "strict_lower_triangle"),
    ("multihead.split_heads", "reshape_without_transpose"),
    ("positional.sinusoidal_positional_encoding", "concatenated_not_interleaved"),
    ("positional.relative_position_bucket", "sign_flipped_query_minus_key"),
    ("transformer.LayerNorm", "unbiased_variance"),
    ("training.cross_entropy", "no_padding_handling"),
    ("decoding.greedy_decode", "no_pad_after_eos"),
    ("decoding.filter_logits", "top_p_drops_boundary_token"),
    ("heads.bert_pair", "sep_starts_segment_b"),
]


def files_for(name: str) -> dict[str, str]:
    files = {module: solution(module) for module in MODULES}
    if name == "ben_typical_mistakes":
        for exercise_id, variant in BEN_MISTAKES:
            module = exercise_id.split(".")[0]
            files[module] = with_wrong(files[module], exercise_id, variant)
    elif name == "cho_untouched":
        files = {module: stub(module) for module in MODULES}
    elif name == "dev_infinite_loop":
        files["rnn"] = replace_definition(files["rnn"], "clip_grad_norm", LOOPING_CLIP_GRAD_NORM)
    elif name == "eun_syntax_error":
        files["lstm"] = files["lstm"].replace("def lstm_forward(x, h0, Wx, Wh, b):", "def lstm_forward(x, h0, Wx, Wh, b)", 1)
    elif name == "fay_halfway":
        files = {module: solution(module) if module == "rnn" else stub(module) for module in MODULES}
    return {f"{module}.py": text for module, text in files.items()}


def build(into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLES:
        files = files_for(name)
        if name == "fay_halfway":
            with zipfile.ZipFile(into / f"{name}.zip", "w") as zf:
                for filename, text in files.items():
                    info = zipfile.ZipInfo(f"{name}/exercises/{filename}", date_time=(2026, 1, 1, 0, 0, 0))
                    zf.writestr(info, text, compress_type=zipfile.ZIP_DEFLATED)
            continue
        folder = into / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for filename, text in files.items():
            (folder / filename).write_text(text)


if __name__ == "__main__":
    build(ROOT / "examples" / "class")
    for name, what in EXAMPLES.items():
        print(f"{name:22} {what}")
