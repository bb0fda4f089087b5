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
    course capstone --impl solutions   the reference: what success looks like
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
    from grader.content.topics import picture_title

    course = cc.course
    needed = course.module("capstone").assembles
    folder = _impl_folder(cc, impl, needed)
    config = capstone.GRADING if quick else capstone.CapstoneConfig()
    config = dataclasses.replace(config, seed=seed, **({"steps": steps} if steps else {}))
    console = Console(highlight=False)
    torch.set_num_threads(threads)
    modules = _load(cc, folder, needed)

    console.print(cc.t("capstone_assembling", folder=escape(str(folder)), d_model=config.d_model,
                       heads=config.num_heads, layers=config.num_layers, min_digits=config.min_digits,
                       max_digits=config.max_digits))
    columns = (TextColumn(cc.t("capstone_training")), BarColumn(), MofNCompleteColumn(),
               TextColumn(cc.t("capstone_loss") + " {task.fields[loss]}"),
               TextColumn(cc.t("capstone_validation_accuracy") + " {task.fields[acc]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("train", total=config.steps, loss="-", acc="-")

        def report(step: int, loss: float, val: float | None) -> None:
            fields = {"loss": f"{loss:.4f}"}
            if val is not None:
                fields["acc"] = f"{val:.3f}"
            progress.update(task, completed=step, **fields)

        run = _guarded(cc, folder, "capstone_training_failed", lambda: capstone.train(modules, config, report))
        progress.update(task, total=run.steps, completed=run.steps)

    test_accuracy = _guarded(cc, folder, "capstone_decoding_failed",
                             lambda: capstone.accuracy(modules, run.model, run.dataset.test))
    seconds = f"{run.seconds:.1f}"
    console.print(cc.t("capstone_reached", target=f"{config.stop_at:.0%}", step=run.steps_to_target, seconds=seconds,
                       strings=config.test_size) if run.steps_to_target else
                  cc.t("capstone_trained", steps=run.steps, seconds=seconds, strings=config.test_size))

    yours = impl == "exercises"
    title = picture_title(cc.t("picture_capstone_curves_title", folder=folder.name), cc.lang, yours)
    curves = pictures.training_curves(run.losses, run.val_curve, out_dir / "capstone_curves.png", title=title,
                                      lang=cc.lang)
    console.print(cc.t("capstone_wrote", path=escape(str(curves))))
    found = _guarded(cc, folder, "capstone_decoding_failed",
                     lambda: capstone.labelled_cross_attention(modules, run.model, _first_test_string(run)))
    if found is None:
        console.print(cc.t("capstone_no_attention"))
    else:
        title = picture_title(cc.t("picture_capstone_last_layer_title"), cc.lang, yours)
        heatmap = pictures.attention_heatmap(*found, out_dir / "capstone_attention.png", title=title, lang=cc.lang)
        console.print(cc.t("capstone_wrote", path=escape(str(heatmap))))
    click.echo(f"accuracy: {test_accuracy:.4f}")    # last, and in these words: scripts read it


def _impl_folder(cc: CourseContext, impl: str, needed: tuple[str, ...]) -> Path:
    folder = cc.course.root / impl if impl in ("exercises", "solutions") else Path(impl)
    if not folder.is_dir():
        raise click.ClickException(cc.t("capstone_not_a_folder", folder=folder))
    missing = [name for name in needed if not (folder / f"{name}.py").is_file()]
    if missing:
        raise click.ClickException(cc.t("capstone_missing_modules", folder=folder,
                                        files=", ".join(m + ".py" for m in missing)))
    return folder.resolve()


def _load(cc: CourseContext, folder: Path, needed: tuple[str, ...]) -> ModuleNamespace:
    modules = ModuleNamespace(folder, cc.course.module_names, alias=f"_capstone_{abs(hash(str(folder)))}")
    _guarded(cc, folder, "capstone_import_failed", lambda: [getattr(modules, name) for name in needed])
    return modules


def _guarded(cc: CourseContext, folder: Path, key: str, work):
    """Run ``work``; an exception from the modules becomes the message ``key``, which says where."""
    try:
        return work()
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(str(folder))]
        where = ""
        if frames:
            last = frames[-1]
            where = f"\n  at {Path(last.filename).name}:{last.lineno} in {last.name}: {(last.line or '').strip()}"
        advice = "\n" + cc.t("capstone_not_written") if isinstance(exc, NotImplementedError) else ""
        raise click.ClickException(cc.t(key, error=f"{type(exc).__name__}: {exc}") + where + advice) from None


def _first_test_string(run):
    """The first held-out source, without its padding: (1, S)."""
    from grader.content import capstone

    source = run.dataset.test[0][:1]
    return source[:, : int((source[0] != capstone.PAD).sum())]
