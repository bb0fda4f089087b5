"""The ViT's task: a small Vision Transformer learns in which quadrant a bright blob lies.

Everything here takes the course modules as an argument (``modules.heads``, whose ViT
imports the transformer module and what it builds on): the learner's, in the worker for
the training check of ``vit_training`` (nothing substituted) and for ``course show vit``,
or the reference. It supplies what no exercise asks for: the data, the starting weights,
the optimiser's settings (its loop is :mod:`grader.content.trainer`'s) and the measurement.

The images. One channel, 8 x 8 pixels of Gaussian noise (standard deviation 0.5) with one
bright 2 x 2 blob (+2.5) lying wholly inside one of the four 4 x 4 quadrants; the class is
the quadrant: 0 top left, 1 top right, 2 bottom left, 3 bottom right. With 2 x 2 patches
the image is a 4 x 4 grid of 16 patches, and the blob covers one to four of them. No
single pixel decides the class (the blob moves inside its quadrant, and the noise is
strong), so the model must find the blob and say where it is: what the [CLS] token's
attention over the patches does, which ``course show vit`` draws.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from grader.content import trainer

# the course module this code reads; it imports the rest that course.toml's `assembles` lists
USES = ("heads",)

CLASSES = ("top left", "top right", "bottom left", "bottom right")


@dataclass
class VitConfig(trainer.RunConfig):
    """One training run. :data:`GRADING` is the training check's."""

    image_size: int = 8
    patch_size: int = 2
    blob: int = 2                 # the blob's side, in pixels
    brightness: float = 2.5
    noise: float = 0.5
    aligned: bool = False         # the blob on the patch grid (one whole patch), or anywhere in its quadrant
    d_model: int = 32
    num_heads: int = 4
    num_layers: int = 2
    d_ff: int = 64
    steps: int = 150
    lr: float = 3e-3              # Adam's, decayed linearly to 0 over the run
    test_size: int = 1000

    def model_args(self) -> tuple:
        """``heads.ViT``'s positional arguments for this run."""
        return (self.image_size, self.patch_size, 1, len(CLASSES), self.d_model, self.num_heads, self.num_layers,
                self.d_ff)


POS_STD = 1.0      # pos_embed's starting values are N(0, POS_STD^2): ViT's usual 0.02 leaves this tiny
                   # model at chance for many seeds (the patches look alike until the positions grow)
GRADING = VitConfig()
# the bar of the training check; over seeds 0-15 the reference classifies 99.8-100% of the held-out
# images after 150 steps (about 1.7 s on one core, 2.6 s for the first run of a process, which
# pays for warming torch up), with a held-out cross-entropy of 0.002-0.010 (bench/vit_training.py)
GRADING_THRESHOLD = 0.95

SHOW = GRADING
# `course show vit`'s run is the grading run itself: with the reference, the [CLS] query's largest
# weight falls on a patch of the blob for about 2/3 of the held-out images in layer 1 and 2/5 in
# layer 2 (seed 0; other seeds put more of the finding in one layer or the other)


def make_images(config: VitConfig, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images (count, 1, S, S) and their classes (count,), drawn from ``generator``."""
    S, b = config.image_size, config.blob
    half = S // 2
    labels = torch.randint(0, len(CLASSES), (count,), generator=generator)
    step = config.patch_size if config.aligned else 1             # where in its quadrant the blob may start
    places = (half - b) // step + 1
    rows = step * torch.randint(0, places, (count,), generator=generator) + (labels // 2) * half
    cols = step * torch.randint(0, places, (count,), generator=generator) + (labels % 2) * half
    images = config.noise * torch.randn(count, 1, S, S, generator=generator)
    r = torch.arange(S)
    inside_rows = (r[None, :] >= rows[:, None]) & (r[None, :] < rows[:, None] + b)          # (count, S)
    inside_cols = (r[None, :] >= cols[:, None]) & (r[None, :] < cols[:, None] + b)
    blob = inside_rows[:, :, None] & inside_cols[:, None, :]                                # (count, S, S)
    images[:, 0] += config.brightness * blob
    return images, labels


@dataclass
class Dataset:
    config: VitConfig
    test: tuple[torch.Tensor, torch.Tensor]
    generator: torch.Generator

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A fresh training batch (the training images are never the test images: they are
        drawn after them, from the same stream)."""
        return make_images(self.config, self.config.batch_size, self.generator)


def make_dataset(config: VitConfig) -> Dataset:
    generator = torch.Generator().manual_seed(40_000 + config.seed)
    test = make_images(config, config.test_size, generator)
    return Dataset(config, test, generator)


def build(modules, config: VitConfig) -> torch.nn.Module:
    return modules.heads.ViT(*config.model_args())


def initialise(model: torch.nn.Module, seed: int) -> None:
    """Starting weights drawn from ``seed`` alone and by parameter name: Xavier-uniform for
    every matrix, zeros for every bias and for cls_token, ones for the layer norms' gains
    (the 1-D weights), N(0, POS_STD^2) for pos_embed. The check grades whether the learner's
    modules learn, not how their constructors initialise, so every model with the
    syllabus's names starts from the same weights."""
    trainer.initialise([model], 50_000 + seed, _starting_value)


def _starting_value(name: str, parameter: torch.nn.Parameter, generator: torch.Generator) -> None:
    if name == "pos_embed":
        parameter.copy_(POS_STD * torch.randn(parameter.shape, generator=generator))
    elif name == "cls_token":
        parameter.zero_()
    elif parameter.dim() > 1:
        torch.nn.init.xavier_uniform_(parameter, generator=generator)
    elif name.endswith("weight"):
        parameter.fill_(1.0)
    else:
        parameter.zero_()


@dataclass
class VitRun:
    model: torch.nn.Module
    dataset: Dataset
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


Progress = Callable[[int, float], None]


def train(modules, config: VitConfig, progress: Progress | None = None) -> VitRun:
    """Train ``modules.heads.ViT`` with Adam, the learning rate decaying linearly from
    ``config.lr`` to 0, from the weights :func:`initialise` gives, with plain cross-entropy
    on fresh batches. Calls ``progress(step, loss)`` after every step."""
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    dataset = make_dataset(config)
    run = VitRun(build(modules, config), dataset)
    initialise(run.model, config.seed)
    run.losses = trainer.train_with_adam([run.model], lambda: loss_on(run.model, *dataset.batch()),
                                          trainer.linear_decay(config.lr, config.steps), config.steps,
                                          config.clip_norm, progress)
    run.seconds = time.perf_counter() - started
    return run


def loss_on(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Plain cross-entropy of the model's logits for ``images``."""
    return torch.nn.functional.cross_entropy(torch.as_tensor(model(images)), labels)


def accuracy(model: torch.nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    """The share of ``data``'s images whose largest logit is their class."""
    images, labels = data
    with torch.no_grad():
        return (torch.as_tensor(model(images)).argmax(dim=-1) == labels).float().mean().item()


def trained_state(run: VitRun) -> dict:
    """The run's weights as plain tensors, by name."""
    return trainer.trained_state(run.model)


def cls_attention(model: torch.nn.Module, images: torch.Tensor, layer: int = -1) -> torch.Tensor:
    """The [CLS] query's attention weights over the patches in encoder layer ``layer``,
    averaged over the heads: (B, N), from ``MultiHeadAttention.attention_weights`` (the
    weight [CLS] gives itself is left out, so a row sums to at most 1)."""
    with torch.no_grad():
        model(images)
    weights = torch.as_tensor(model.encoder.layers[layer].self_attn.attention_weights).detach()   # (B, h, N+1, N+1)
    return weights[:, :, 0, 1:].mean(dim=1)


def blob_patches(images: torch.Tensor, config: VitConfig) -> torch.Tensor:
    """A bool (B, N) of the patches (row-major) the blob's pixels fall in: the brightest
    b x b window of each image, found from the pixels."""
    S, b, p = config.image_size, config.blob, config.patch_size
    x = images[:, 0]
    windows = x.unfold(1, b, 1).unfold(2, b, 1).sum(dim=(-1, -2))                # (B, S-b+1, S-b+1)
    flat = windows.reshape(x.shape[0], -1).argmax(dim=1)
    top, left = flat // (S - b + 1), flat % (S - b + 1)
    grid = S // p
    found = torch.zeros(x.shape[0], grid * grid, dtype=torch.bool)
    for i in range(x.shape[0]):
        for r in range(int(top[i]), int(top[i]) + b):
            for c in range(int(left[i]), int(left[i]) + b):
                found[i, (r // p) * grid + c // p] = True
    return found
