"""Rebuild the example class in examples/class/ from solutions/ (a developer's script).

    python examples/make_examples.py

Each example is a learner's copy of exercises/ as a real class hands it in; the
mistakes come from tests/variants/, so they are ones the hidden suites must catch.
tests/test_examples.py fails when the committed examples differ from what this writes.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.source import make_stubs, replace_definition  # noqa: E402
from tests.variants import lstm as lstm_variants, rnn as rnn_variants  # noqa: E402

WRONG = {**rnn_variants.WRONG, **lstm_variants.WRONG}
MODULES = ("rnn", "lstm")

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
    "ben_typical_mistakes": "backward passes without tanh', a BPTT that forgets the upstream gradient, LSTM gates in the wrong order",
    "cho_untouched": "the stubs as handed out: zero",
    "dev_infinite_loop": "clip_grad_norm never advances its index: that exercise times out, the rest is graded",
    "eun_syntax_error": "lstm.py does not parse: the lstm exercises get zero, rnn is graded",
    "fay_halfway": "rnn done, lstm untouched, handed in as a zip",
}


def solution(module: str) -> str:
    return (ROOT / "solutions" / f"{module}.py").read_text()


def stub(module: str) -> str:
    return make_stubs(solution(module), module)


def with_wrong(source: str, exercise_id: str, variant: str) -> str:
    return replace_definition(source, exercise_id.split(".")[1], WRONG[exercise_id][variant])


def files_for(name: str) -> dict[str, str]:
    rnn, lstm = solution("rnn"), solution("lstm")
    if name == "ben_typical_mistakes":
        rnn = with_wrong(rnn, "rnn.rnn_step_backward", "no_tanh_derivative")
        rnn = with_wrong(rnn, "rnn.rnn_backward", "upstream_only_at_last_step")
        lstm = with_wrong(lstm, "lstm.lstm_step_forward", "gate_order_ifog")
    elif name == "cho_untouched":
        rnn, lstm = stub("rnn"), stub("lstm")
    elif name == "dev_infinite_loop":
        rnn = replace_definition(rnn, "clip_grad_norm", LOOPING_CLIP_GRAD_NORM)
    elif name == "eun_syntax_error":
        lstm = lstm.replace("def lstm_forward(x, h0, Wx, Wh, b):", "def lstm_forward(x, h0, Wx, Wh, b)", 1)
    elif name == "fay_halfway":
        lstm = stub("lstm")
    return {"rnn.py": rnn, "lstm.py": lstm}


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
