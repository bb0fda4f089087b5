"""Greedy decoding with and without the key-value cache, reference Transformer.

    python bench/kv_cache.py [--tokens 200] [--repeats 3] [--threads 1] [--batch 8]

A random reference Transformer (d_model 128, 4 heads, 2 encoder + 4 decoder layers,
d_ff 512, eval(), float32) generates TOKENS tokens for a batch of sources of 20 tokens
with solutions/decoding.py's greedy_decode (the whole prefix through the decoder at every
step) and cached_greedy_decode (only the newest token, keys and values cached), eos never
emitted so that both run the full length. The two are timed in alternation (ABAB...), the
figures are medians; both must return the same tokens. Printed: the total time for the
whole length and the time of each stretch of steps (1-25, 26-50, 51-100, 101-200), so that
one sees how each grows with the length: roughly linearly per step without the cache, flat
with it. Goal: the cache at least 3x faster for 200 tokens. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solutions"))

import decoding  # noqa: E402
import transformer  # noqa: E402


def timed_steps(decode, model, src, mask, tokens: int) -> tuple[list[float], torch.Tensor]:
    """The time at which each new token was appended (seconds from the start), and the result.
    The clock is read inside the model's generator, which runs once per step in both decoders."""
    stamps = []
    generator = model.generator
    handle = generator.register_forward_hook(lambda *_: stamps.append(time.perf_counter()))
    try:
        started = time.perf_counter()
        out = decode(model, src, tokens + 1, 1, -1, pad_id=0, src_mask=mask)
    finally:
        handle.remove()
    return [s - started for s in stamps], out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = transformer.Transformer(50, 50, d_model=128, num_heads=4, num_encoder_layers=2, num_decoder_layers=4,
                                    d_ff=512, dropout=0.0, max_len=args.tokens + 8).eval()
    src = torch.randint(3, 50, (args.batch, 20))
    src[1::2, 15:] = 0
    mask = (src != 0)[:, None, :]

    runs = {"greedy_decode": [], "cached_greedy_decode": []}
    outs = {}
    for _ in range(args.repeats):
        for name in runs:                      # alternate: the machine's noise falls on both
            stamps, out = timed_steps(getattr(decoding, name), model, src, mask, args.tokens)
            runs[name].append(stamps)
            outs[name] = out
    same = torch.equal(outs["greedy_decode"], outs["cached_greedy_decode"])

    marks = [m for m in (25, 50, 100, 200, 400, 800) if m <= args.tokens]
    if marks[-1] != args.tokens:
        marks.append(args.tokens)
    print(f"reference Transformer d_model 128, 4 heads, 2+4 layers, d_ff 512; batch {args.batch}, "
          f"{args.tokens} tokens, {args.threads} thread(s), medians of {args.repeats} alternated runs")
    print(f"same tokens: {same}")
    header = "steps".ljust(12) + "".join(name.rjust(24) for name in runs) + "ratio".rjust(9)
    print(header)
    medians = {}
    for name, stamps in runs.items():
        medians[name] = [statistics.median(run[m - 1] for run in stamps) for m in marks]
    lo = 0
    for i, m in enumerate(marks):
        row = f"{lo + 1}-{m}".ljust(12)
        pair = []
        for name in runs:
            total = medians[name][i] - (medians[name][i - 1] if i else 0.0)
            pair.append(total)
            row += f"{total * 1e3 / (m - lo):9.2f} ms/token".rjust(24)
        print(row + f"{pair[0] / pair[1]:8.1f}x")
        lo = m
    totals = [medians[name][-1] for name in runs]
    print("all".ljust(12) + "".join(f"{t:13.3f} s in all".rjust(24) for t in totals) + f"{totals[0] / totals[1]:8.1f}x")


if __name__ == "__main__":
    main()
