"""A training step of the reference Transformer next to torch.nn.Transformer, same size.

    python bench/transformer_step.py [--repeats 60] [--threads 1]

Both models: d_model 64, 4 heads, 2 encoder + 2 decoder layers, d_ff 128, batch 64,
source and target embeddings (scaled by sqrt(d_model)),
the sinusoidal positional encoding, and a generator; a step is forward, cross-entropy,
backward and an Adam step, with a causal target mask and a source padding mask. The two
are timed in alternation in one process (ABAB...), so that the machine's noise falls on
both; the figure is the ratio of the medians. Target: at most 1.2, for dropout 0 and 0.1.
Sequence lengths: the capstone's (sources of 8, targets of 10 with bos and eos), then 16 and
32, because the hand-written pieces (layer norm, masked softmax) cost more, relative to torch's
fused kernels, as sequences grow.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.course.manifest import load_manifest  # noqa: E402
from grader.course.namespace import ModuleNamespace  # noqa: E402

D_MODEL, HEADS, LAYERS, D_FF, BATCH, VOCAB = 64, 4, 2, 128, 64, 32
LENGTHS = [(8, 10), (16, 17), (32, 33)]   # (source, target with bos): the capstone's first


class TorchTransformer(nn.Module):
    """nn.Transformer with what the course's Transformer has around it."""

    def __init__(self, pos_encoding: nn.Module, dropout: float):
        super().__init__()
        self.src_embed = nn.Embedding(VOCAB, D_MODEL)
        self.tgt_embed = nn.Embedding(VOCAB, D_MODEL)
        self.pos_encoding = pos_encoding
        self.transformer = nn.Transformer(D_MODEL, HEADS, LAYERS, LAYERS, D_FF, dropout, batch_first=True)
        self.generator = nn.Linear(D_MODEL, VOCAB)

    def forward(self, src, tgt, src_padding, tgt_causal):
        scale = math.sqrt(D_MODEL)
        x = self.pos_encoding(self.src_embed(src) * scale)
        y = self.pos_encoding(self.tgt_embed(tgt) * scale)
        out = self.transformer(x, y, tgt_mask=tgt_causal, src_key_padding_mask=src_padding,
                               memory_key_padding_mask=src_padding)
        return self.generator(out)


def batch(generator: torch.Generator, source: int, target: int):
    src = torch.randint(3, VOCAB, (BATCH, source), generator=generator)
    tgt = torch.randint(3, VOCAB, (BATCH, target), generator=generator)
    lengths = torch.randint(source // 2, source + 1, (BATCH,), generator=generator)
    src[torch.arange(source)[None, :] >= lengths[:, None]] = 0
    return src, tgt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=60, help="timed steps of each model per dropout setting")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: with two, a busy second core makes every step wait)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    course = load_manifest(ROOT / "course.toml")
    ref = ModuleNamespace(ROOT / "solutions", course.module_names, "_reference")
    print(f"d_model {D_MODEL}, {HEADS} heads, {LAYERS}+{LAYERS} layers, d_ff {D_FF}, batch {BATCH}, "
          f"{args.threads} threads, {args.repeats} steps each; median ms per training step")
    for (source, target), dropout in [(lengths, p) for lengths in LENGTHS for p in (0.0, 0.1)]:
        torch.manual_seed(0)
        ours = ref.transformer.Transformer(VOCAB, VOCAB, d_model=D_MODEL, num_heads=HEADS, num_encoder_layers=LAYERS,
                                           num_decoder_layers=LAYERS, d_ff=D_FF, dropout=dropout)
        theirs = TorchTransformer(ref.positional.PositionalEncoding(D_MODEL, 5000, dropout), dropout)
        optimisers = {id(m): torch.optim.Adam(m.parameters(), lr=1e-4) for m in (ours, theirs)}
        causal = ref.masking.causal_mask(target - 1)

        def step_ours(src, tgt):
            src_mask = ref.masking.padding_mask(src, 0)
            logits = ours(src, tgt[:, :-1], src_mask, causal)
            return F.cross_entropy(logits.reshape(-1, VOCAB), tgt[:, 1:].reshape(-1))

        def step_theirs(src, tgt):
            logits = theirs(src, tgt[:, :-1], src == 0, ~causal)
            return F.cross_entropy(logits.reshape(-1, VOCAB), tgt[:, 1:].reshape(-1))

        times = {"reference": [], "nn.Transformer": []}
        generator = torch.Generator().manual_seed(0)
        for repeat in range(args.repeats + 5):
            src, tgt = batch(generator, source, target)
            for name, model, step in (("reference", ours, step_ours), ("nn.Transformer", theirs, step_theirs)):
                model.train()
                started = time.perf_counter()
                loss = step(src, tgt)
                optimisers[id(model)].zero_grad(set_to_none=True)
                loss.backward()
                optimisers[id(model)].step()
                if repeat >= 5:  # warm-up steps are not timed
                    times[name].append(time.perf_counter() - started)
        ms = {name: 1000 * statistics.median(values) for name, values in times.items()}
        print(f"source {source:2d}, target {target - 1:2d}, dropout {dropout}: reference {ms['reference']:.2f} ms, nn.Transformer {ms['nn.Transformer']:.2f} ms, "
              f"ratio {ms['reference'] / ms['nn.Transformer']:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
