from pathlib import Path

import click

from grader.commands import CourseContext, pass_course
from grader.course.i18n import message


AUDIENCE = "learner"   # in the student bundle, with --lang


@click.command("notebook")
@click.argument("module")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The .ipynb file to write. Default: notebooks/MODULE.ipynb in the course folder "
                   "(MODULE.ko.ipynb in Korean); git ignores notebooks/.")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists (your edits in it are lost).")
@click.option("--reference", is_flag=True, hidden=True,
              help="Fill the code cells from solutions/ and take the other modules from there (for developers).")
@pass_course
def command(cc: CourseContext, module: str, out_file: Path | None, force: bool, reference: bool) -> None:
    """Write one module of the course as a Jupyter notebook.

    \b
    course notebook rnn                    notebooks/rnn.ipynb, in English
    course notebook attention --lang ko    notebooks/attention.ko.ipynb (Korean)
    course notebook lstm --out lstm.ipynb  anywhere you like
    jupyter lab notebooks/rnn.ipynb        then open it (pip install jupyterlab)

    The notebook holds the module's introduction, a setup cell, and for each exercise
    its instructions, your current code from exercises/MODULE.py (the stub if you have
    not started) and a check cell that runs the exercise's visible checks on the
    notebook's code and prints ✓ or ✗ with the feedback; then the module's pictures
    (`course show`), drawn with your code once it passes. The other modules come from
    your exercises/ folder. Grading reads exercises/MODULE.py only: copy finished code
    back there.
    """
    from grader.learner.notebook import NotebookError, build_notebook

    course = cc.course
    lang = cc.lang     # the intro, the instructions and the notes; code and check titles stay English
    if out_file is None:
        out_file = course.root / "notebooks" / (f"{module}.ipynb" if lang == "en" else f"{module}.{lang}.ipynb")
    if out_file.exists() and not force:
        raise click.ClickException(message("notebook_exists", lang, path=out_file))
    try:
        path = build_notebook(course, module, out_file, lang, reference)
    except NotebookError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(message("notebook_wrote", lang, path=path))
