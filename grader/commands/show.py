import textwrap
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from grader.commands import CourseContext, pass_course
from grader.content import topics
from grader.content.topics import TOPICS
from grader.course.i18n import message
from grader.learner import show

AUDIENCE = "learner"   # in the student bundle, with --lang


# one topic a line, its summary wrapped under itself: with click's indent, `--help` fits 80 columns
_TOPIC_LINES = "\n".join(textwrap.fill(topic.summary, 76, initial_indent=f"  {name:<11} ", subsequent_indent=" " * 14)
                         for name, topic in TOPICS.items())


@click.command("show", help=f"""Draw the ideas of the course as PNG pictures, with your own code.

\b
course show vanishing              one topic, into build/pictures/
course show all --out pics         every topic, into pics/
course show heads --lang ko        messages in Korean

\b
Topics:
{_TOPIC_LINES}

Each picture is computed with your exercises/ when the exercises it needs pass their
visible checks (run as `course check` runs them), and with the reference otherwise;
the output says which, and why. The capstone picture trains a small model (about 2 s).
""")
@click.argument("topic", type=click.Choice([*TOPICS, "all"]), metavar="TOPIC|all")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("build/pictures"),
              show_default=True, help="Folder for the PNG files (<topic>.png).")
@pass_course
def command(cc: CourseContext, topic: str, out_dir: Path) -> None:
    course = cc.course
    lang = cc.lang
    show.one_thread()
    console = Console(highlight=False)
    available = topics.course_topics(course)
    chosen = available if topic == "all" else [TOPICS[topic]]
    if not set(chosen) <= set(available) or not chosen:
        raise click.ClickException(message("show_not_in_course", lang, topic=topic))
    with console.status("") as status:
        def on_start(stage: str, current) -> None:
            key = "show_checking" if stage == "checking" else "show_drawing"
            status.update(message(key, lang, topic=current.name))

        pictures = show.show(course, chosen, out_dir, lang, on_start, report=topics.TerminalReport(console, lang))
    missing = []
    for picture in pictures:
        if picture.path is None:
            missing.append(picture)
            console.print("[red]✗[/] " + escape(message("show_missing", lang, topic=picture.topic,
                                                           reason=picture.reason, shipped=show.SHIPPED)))
            continue
        mark = "[green]✓[/]" if picture.yours else "[yellow]•[/]"
        console.print(f"{mark} " + escape(message("show_wrote", lang, topic=picture.topic, path=picture.path,
                                                    source=picture.source(lang))))
        console.print("    [dim]" + escape(message(TOPICS[picture.topic].caption, lang)) + "[/]")
    if missing:
        raise SystemExit(1)
