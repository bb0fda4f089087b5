"""Keeping translations in step with the English they were made from.

Each ``i18n/<lang>/<module>.toml`` ends with a ``[translated_from]`` table: for the
module's intro and for each exercise, a short digest of the English the translation was
made from. When the English changes (a hint is clarified, a docstring fixed), the digest
no longer matches and ``tests/test_i18n.py`` says which text to translate again. After
updating the translation, record the new English with::

    python -m grader.course.translations stamp ko lstm      # one module (or several, or none: all)

``python -m grader.course.translations stale`` lists what is out of step without changing anything.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

from grader.course.i18n import exercise_text, module_text
from grader.course.manifest import Course, load_manifest

TABLE = "translated_from"


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=6).hexdigest()


def english_digests(course: Course, module: str) -> dict[str, str]:
    """``intro`` and each exercise name -> the digest of their English today."""
    digests = {"intro": _digest(module_text(course, module, "en").intro)}
    for exercise in course.module(module).exercises:
        english = exercise_text(course, exercise.id, "en")
        digests[exercise.name] = _digest(english.title, english.instructions, *english.hints)
    return digests


def translation_file(course: Course, lang: str, module: str) -> Path:
    return course.root / "i18n" / lang / f"{module}.toml"


def stale(course: Course, lang: str, module: str) -> list[str]:
    """The texts of ``module`` whose English changed since they were translated (or that
    were never stamped): ``intro`` and exercise names."""
    import tomllib

    path = translation_file(course, lang, module)
    recorded = tomllib.loads(path.read_text(encoding="utf-8")).get(TABLE, {}) if path.is_file() else {}
    return [key for key, digest in english_digests(course, module).items() if recorded.get(key) != digest]


def stamp(course: Course, lang: str, module: str) -> None:
    """Record today's English digests in the translation file (its last table)."""
    path = translation_file(course, lang, module)
    text = path.read_text(encoding="utf-8")
    text = re.split(rf"(?m)^# The English each text was translated from.*\n\[{TABLE}\]\n", text)[0]
    text = re.split(rf"(?m)^\[{TABLE}\]\n", text)[0].rstrip("\n") + "\n"
    lines = [f'{key} = "{digest}"' for key, digest in english_digests(course, module).items()]
    path.write_text(text + "\n# The English each text was translated from (python -m grader.course.translations stamp)\n"
                    f"[{TABLE}]\n" + "\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.course.translations", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("stale", "stamp"))
    parser.add_argument("lang", nargs="?", default="ko")
    parser.add_argument("modules", nargs="*", help="default: every module")
    parser.add_argument("--course", type=Path, default=Path("."), help="the course folder (default: here)")
    args = parser.parse_args(argv)
    course = load_manifest(args.course / "course.toml")
    modules = args.modules or [module.name for module in course.modules]
    out_of_step = 0
    for module in modules:
        if args.action == "stamp":
            stamp(course, args.lang, module)
            print(f"stamped {translation_file(course, args.lang, module).relative_to(course.root)}")
        else:
            for key in stale(course, args.lang, module):
                out_of_step += 1
                print(f"{module}: {key}")
    return 1 if out_of_step else 0


if __name__ == "__main__":
    sys.exit(main())
