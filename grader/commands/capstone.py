from __future__ import annotations

import dataclasses
import traceback
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from grader.commands import CourseContext, pass_course
from grader.course.namespace import ModuleNamespace



AUDIENCE = "learner"   # in the student bundle, with --lang


@click.command("capstone")
@click.option("--impl", default="exercises", show_default=True, metavar="exercises|solutions|PATH",
              help="Whose modules to assemble: your exercises/, the reference solutions/, or any folder of modules.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("build/capstone"),
              show_default=True, help="Where the two PNG pictures go.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Training steps at most (default 2500; training stops earlier once every validation string is right).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the run (the held-out strings too).")
@click.option("--quick", is_flag=True, help="The small quick run that grading uses (3-6 digits, d_model 32).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="torch threads. A model this small trains fastest on one; more only help on an idle machine.")
@pass_course
def command(cc: CourseContext, impl: str, out_dir: Path, steps: int | None, seed: int, quick: bool,
            threads: int) -> None:
    """Train the Transformer assembled from your modules to reverse digit strings.

    \b
    course capstone                    your exercises/, as they are
    course capstone --impl solutions   the reference, to see what success looks like
    course capstone --quick            the short run that grading uses

    Your transformer.Transformer is trained with your training.cross_entropy and
    training.noam_lr on strings like 3 1 4 -> 4 1 3, then decodes strings it never saw
    with your decoding.greedy_decode. Training stops early once it gets every
    validation string right. It writes the loss and accuracy curves and the
    cross-attention of one decoded example (reversing shows as an anti-diagonal) as
    PNG files, and prints `accuracy: <fraction>` last: the share of held-out strings
    reversed exactly. The reference reaches 0.99 in well under a minute.
    """
    import torch  # here, not at the top: every `course` command would pay for torch's import

    from grader.content import capstone, pictures

    course = cc.course
    needed = course.module("capstone").assembles
    folder = _impl_folder(course.root, impl, needed)
    config = capstone.GRADING if quick else capstone.CapstoneConfig()
    config = dataclasses.replace(config, seed=seed, **({"steps": steps} if steps else {}))
    console = Console(highlight=False)
    torch.set_num_threads(threads)
    modules = _load(folder, course.module_names, needed)

    console.print(f"Assembling transformer.Transformer from [bold]{escape(str(folder))}[/]: d_model {config.d_model}, "
                  f"{config.num_heads} heads, {config.num_layers}+{config.num_layers} layers; strings of "
                  f"{config.min_digits}-{config.max_digits} digits.")
    columns = (TextColumn("training"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}"), TextColumn("held-out acc {task.fields[acc]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("train", total=config.steps, loss="-", acc="-")

        def report(step: int, loss: float, val: float | None) -> None:
            fields = {"loss": f"{loss:.4f}"}
            if val is not None:
                fields["acc"] = f"{val:.3f}"
            progress.update(task, completed=step, **fields)

        run = _guarded(folder, "training", lambda: capstone.train(modules, config, report))
        progress.update(task, total=run.steps, completed=run.steps)

    test_accuracy = _guarded(folder, "decoding", lambda: capstone.accuracy(modules, run.model, run.dataset.test))
    reached = f"reached {config.stop_at:.0%} on validation at step {run.steps_to_target}" \
        if run.steps_to_target else f"trained {run.steps} steps"
    console.print(f"{reached}, {run.seconds:.1f} s; {config.test_size} held-out strings.")

    curves = pictures.training_curves(run.losses, run.val_curve, out_dir / "capstone_curves.png",
                                      title=f"Reversing digit strings ({folder.name})")
    console.print(f"wrote {curves}")
    heatmap = _heatmap(modules, run, out_dir / "capstone_attention.png")
    console.print(f"wrote {heatmap}" if heatmap else
                  "no attention picture: the last decoder layer's cross_attn keeps no attention_weights")
    click.echo(f"accuracy: {test_accuracy:.4f}")


def _impl_folder(root: Path, impl: str, needed: tuple[str, ...]) -> Path:
    folder = root / impl if impl in ("exercises", "solutions") else Path(impl)
    if not folder.is_dir():
        raise click.ClickException(f"{folder} is not a folder of course modules")
    missing = [name for name in needed if not (folder / f"{name}.py").is_file()]
    if missing:
        raise click.ClickException(f"{folder} lacks {', '.join(m + '.py' for m in missing)}: "
                                   "the capstone assembles all of them")
    return folder.resolve()


def _load(folder: Path, module_names: list[str], needed: tuple[str, ...]) -> ModuleNamespace:
    modules = ModuleNamespace(folder, module_names, alias=f"_capstone_{abs(hash(str(folder)))}")
    _guarded(folder, "importing", lambda: [getattr(modules, name) for name in needed])
    return modules


def _guarded(folder: Path, doing: str, work):
    """Run ``work``; an exception from the modules becomes a message that says where."""
    try:
        return work()
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(str(folder))]
        where = ""
        if frames:
            last = frames[-1]
            where = f"\n  at {Path(last.filename).name}:{last.lineno} in {last.name}: {(last.line or '').strip()}"
        advice = ("\nThat exercise is not written yet: `course check` shows what is left."
                  if isinstance(exc, NotImplementedError) else "")
        raise click.ClickException(f"{doing} failed: {type(exc).__name__}: {exc}{where}{advice}") from None


def _heatmap(modules, run, path: Path) -> Path | None:
    from grader.content import capstone, pictures

    src = run.dataset.test[0][:1]
    length = int((src[0] != capstone.PAD).sum())
    src = src[:, :length]
    found = capstone.cross_attention(modules, run.model, src)
    if found is None:
        return None
    tokens, weights = found
    rows = [_label(t) for t in tokens[: weights.shape[1]].tolist()]
    columns = [_label(t) for t in src[0].tolist()]
    return pictures.attention_heatmap(weights.float().numpy(), rows, columns, path,
                                      title="Cross-attention of the last decoder layer while reversing")


def _label(token: int) -> str:
    from grader.content import capstone

    return {capstone.PAD: "pad", capstone.BOS: "bos", capstone.EOS: "eos"}.get(token, str(token - capstone.FIRST_DIGIT))

