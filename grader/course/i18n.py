"""The course's texts in the learner's language: titles, intros, instructions, hints, messages.

English is where the course is written: exercise titles and hints in ``course.toml``, a
module's intro in the docstring of ``solutions/<module>.py`` (or ``exercises/<module>.py``
in a student's release, which has no solutions), an exercise's instructions in the
docstring of its top-level ``def``/``class``; a capstone module, which has no file, keeps
its English in ``i18n/en/<module>.toml``. Other languages live in
``i18n/<lang>/<module>.toml``. A text missing in the chosen language falls back to
English, one text at a time and without a word: translations arrive module by module.

The CLI's own messages are ``i18n/<lang>/messages.toml`` (flat ``key = "text"`` with
``{field}`` placeholders) next to the ``grader`` package.

Source files are read with ``ast``, never imported: the learner's code must not run just
because someone asked for instructions.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

LANGS = ("en", "ko")
DEFAULT_LANG = "en"
ENV_VAR = "COURSE_LANG"

# The grader's own files (messages) sit next to the package: the repository, or the
# student's release folder, which holds both grader/ and i18n/.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class ModuleText:
    title: str
    intro: str


@dataclass(frozen=True)
class ExerciseText:
    title: str
    instructions: str
    hints: tuple[str, ...]


# ---------------------------------------------------------------- which language

def resolve_lang(course, explicit: str | None = None) -> str:
    """``--lang`` > ``$COURSE_LANG`` > ``default_lang`` of course.toml > English.

    An unknown code raises ValueError naming where it came from. ``course`` may be None
    (no course found yet): then only the first two and the default count."""
    if course is not None:
        _remember_root(course.root)
    sources = (
        ("--lang", explicit),
        (ENV_VAR, os.environ.get(ENV_VAR)),
        ("default_lang in course.toml", getattr(course, "default_lang", None)),
    )
    for where, value in sources:
        if value is None or not str(value).strip():
            continue
        code = str(value).strip().lower()
        if code not in LANGS:
            raise ValueError(f"unknown language {value!r} (from {where}); choose one of: {', '.join(LANGS)}")
        return code
    return DEFAULT_LANG


# ---------------------------------------------------------------- cached TOML files

_cache: dict[Path, tuple[bytes, object]] = {}
_warned: set[Path] = set()
_MISSING = object()


def _cached(path: Path, parse):
    """``parse(raw bytes)`` of the file, done once per version of its contents (the key is
    a hash of the bytes: mtimes can tie within a clock tick, and `course watch` must see a
    file being written). A file that cannot be read gives ``_MISSING``."""
    try:
        raw = path.read_bytes()
    except OSError:
        return _MISSING
    stamp = hashlib.blake2b(raw, digest_size=16).digest()
    cached = _cache.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    value = parse(raw)
    _cache[path] = (stamp, value)
    return value


def _read_toml(path: Path) -> dict:
    """A TOML file's contents. Missing: {}. Broken: {} and one note on stderr, because a
    learner should not lose the command over a typo in a translation (tests/test_i18n.py
    catches it before a release)."""
    def parse(raw: bytes) -> dict:
        try:
            return tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            if path not in _warned:
                _warned.add(path)
                print(f"note: {path} could not be read ({exc}); showing English instead", file=sys.stderr)
            return {}

    data = _cached(path, parse)
    return {} if data is _MISSING else data


def _text(value) -> str:
    """A translated text without the blank lines TOML's ''' strings leave around it."""
    return value.strip("\n").rstrip() if isinstance(value, str) and value.strip() else ""


# ---------------------------------------------------------------- English from the sources

def _parse_source(raw: bytes) -> ast.Module | None:
    try:
        return ast.parse(raw.decode("utf-8"))
    except (UnicodeDecodeError, SyntaxError, ValueError):
        return None  # a learner's half-edited file


def _parsed(root: Path, module: str) -> ast.Module | None:
    """The module's syntax tree from solutions/ or, when there is none, exercises/
    (docstrings are identical in both), parsed once per version of the file."""
    for folder in ("solutions", "exercises"):
        tree = _cached(root / folder / f"{module}.py", _parse_source)
        if tree is not _MISSING and tree is not None:
            return tree
    return None


def _definition_doc(tree: ast.Module | None, name: str) -> str:
    """The docstring of the top-level def/class ``name``; for a class, followed by the
    docstrings its methods have, each under the method's name."""
    if tree is None:
        return ""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            parts = [ast.get_docstring(node) or ""]
            if isinstance(node, ast.ClassDef):
                for member in node.body:
                    if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        doc = ast.get_docstring(member)
                        if doc:
                            parts.append(f"{member.name}:\n{doc}")
            return "\n\n".join(p for p in parts if p)
    return ""


def _english_module(course, module) -> ModuleText:
    if module.is_capstone:
        data = _read_toml(course.root / "i18n" / "en" / f"{module.name}.toml")
        return ModuleText(module.title, _text(data.get("intro")))
    tree = _parsed(course.root, module.name)
    intro = (ast.get_docstring(tree) or "") if tree is not None else ""
    return ModuleText(module.title, intro)


def _english_exercise(course, exercise, module) -> ExerciseText:
    if module.is_capstone:
        data = _read_toml(course.root / "i18n" / "en" / f"{module.name}.toml")
        tables = data.get("exercises")
        table = tables.get(exercise.name) if isinstance(tables, dict) else None
        instructions = _text(table.get("instructions")) if isinstance(table, dict) else ""
    else:
        instructions = _definition_doc(_parsed(course.root, module.name), exercise.name)
    return ExerciseText(exercise.title, instructions, tuple(exercise.hints))


# ---------------------------------------------------------------- the API

def _translation(course, module: str, lang: str) -> dict:
    data = _read_toml(course.root / "i18n" / lang / f"{module}.toml")
    return data if isinstance(data, dict) else {}


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; choose one of: {', '.join(LANGS)}")


def module_text(course, module: str, lang: str) -> ModuleText:
    """The module's title and intro in ``lang``, each in English when not translated."""
    _check_lang(lang)
    _remember_root(course.root)
    english = _english_module(course, course.module(module))
    if lang == "en":
        return english
    data = _translation(course, module, lang)
    return ModuleText(_text(data.get("title")) or english.title, _text(data.get("intro")) or english.intro)


def exercise_text(course, exercise_id: str, lang: str) -> ExerciseText:
    """The exercise's title, instructions and hints in ``lang``. Each text, and each hint
    level, falls back to English when it is not translated; there are always as many
    hint levels as in course.toml."""
    _check_lang(lang)
    _remember_root(course.root)
    exercise = course.exercise(exercise_id)
    english = _english_exercise(course, exercise, course.module(exercise.module))
    if lang == "en":
        return english
    tables = _translation(course, exercise.module, lang).get("exercises")
    table = tables.get(exercise.name) if isinstance(tables, dict) else None
    if not isinstance(table, dict):
        return english
    translated = table.get("hints") if isinstance(table.get("hints"), list) else []
    hints = tuple(
        (_text(translated[i]) if i < len(translated) else "") or english_hint
        for i, english_hint in enumerate(english.hints)
    )
    return ExerciseText(
        _text(table.get("title")) or english.title,
        _text(table.get("instructions")) or english.instructions,
        hints,
    )


# ---------------------------------------------------------------- messages

_course_roots: list[Path] = []


def _remember_root(root: Path) -> None:
    """A course that was asked about can serve messages when the grader package has none
    beside it (a non-editable install puts grader/ alone in site-packages)."""
    root = Path(root)
    if root not in _course_roots:
        _course_roots.append(root)


def _messages_file(lang: str) -> Path | None:
    for root in (PACKAGE_ROOT, *_course_roots):
        path = root / "i18n" / lang / "messages.toml"
        if path.is_file():
            return path
    return None


def messages(lang: str) -> dict[str, str]:
    """Every message of ``lang``, by key (no fallback)."""
    _check_lang(lang)
    path = _messages_file(lang)
    return _read_toml(path) if path else {}


def message(key: str, lang: str, /, **fields) -> str:
    """The CLI message ``key`` in ``lang`` (English when it has not been translated),
    with ``{field}`` placeholders filled in, and a Korean particle written after one
    (``{name}을(를)``) made to agree with what fills it (:func:`agree_particles`)."""
    for code in (lang, DEFAULT_LANG):
        text = messages(code).get(key)
        if isinstance(text, str):
            return agree_particles(text, fields).format(**fields)
    if _messages_file(DEFAULT_LANG) is None:
        raise RuntimeError(f"i18n/{DEFAULT_LANG}/messages.toml was not found next to {PACKAGE_ROOT / 'grader'}; "
                           "install the course with `pip install -e .` from its folder")
    raise KeyError(f"no message {key!r} in i18n/{DEFAULT_LANG}/messages.toml")


# ---------------------------------------------------------------- numbers

class Count:
    """A number in a message. ``{n}`` shows it (a float as with ``:g``) and ``{n:point|points}``
    the word that agrees with it, for languages that have plurals; a Korean message simply
    leaves the word out. `CourseContext.t` passes every number of a message as one."""

    def __init__(self, n: float):
        self.n = n

    def __format__(self, spec: str) -> str:
        if "|" in spec:
            one, other = spec.split("|", 1)
            return one if self.n == 1 else other
        return format(self.n, spec or ("g" if isinstance(self.n, float) else ""))

    def __str__(self) -> str:
        return format(self)


def counted(n: float, one: str, other: str | None = None) -> str:
    """``n`` and the word that agrees with it, in English: 1 submission, 2 submissions."""
    return f"{Count(n)} {Count(n):{one}|{other or one + 's'}}"


# ---------------------------------------------------------------- Korean particles

# A Korean particle that depends on the word before it, as a translator writes it after a
# placeholder: "{name}을(를)". -> (after a final consonant, after a vowel, after a final ㄹ)
PARTICLES: dict[str, tuple[str, str, str]] = {
    "을(를)": ("을", "를", "을"), "를(을)": ("을", "를", "을"),
    "이(가)": ("이", "가", "이"), "가(이)": ("이", "가", "이"),
    "은(는)": ("은", "는", "은"), "는(은)": ("은", "는", "은"),
    "과(와)": ("과", "와", "과"), "와(과)": ("과", "와", "과"),
    "(으)로": ("으로", "로", "로"), "으로(로)": ("으로", "로", "로"),
    "(이)나": ("이나", "나", "이나"), "(이)라": ("이라", "라", "이라"),
}

# Latin letters and digits as a Korean reader pronounces the end of a word: "softmax" ends
# in a vowel (맥스), "rnn" and "mask_len" in a consonant (엔, 렌), "tool" in ㄹ (툴); the
# digits 0 영, 3 삼, 6 육 end in a consonant, 1 일, 7 칠, 8 팔 in ㄹ, the others in a vowel.
_LATIN_CONSONANT = ("ng", "m", "n")
_LATIN_RIEUL = ("l",)
_DIGIT_ENDING = {"0": "consonant", "3": "consonant", "6": "consonant",
                 "1": "rieul", "7": "rieul", "8": "rieul"}

_PARTICLE_AFTER_FIELD = re.compile(
    r"(\{(?P<field>\w+)(?P<spec>(?:![rsa])?(?::[^{}]*)?)\})"   # the placeholder
    r"(?P<tags>(?:\[/?[^\[\]]*\])*)"                             # rich markup closing it, if any
    r"(?P<pair>" + "|".join(re.escape(p) for p in sorted(PARTICLES, key=len, reverse=True)) + ")")


def word_ending(word: str) -> str | None:
    """How ``word`` ends when read aloud: "vowel", "rieul" (a final ㄹ), "consonant" (any
    other final consonant), or None when its last character says nothing (no letter,
    digit or Hangul syllable). Punctuation at the end (quotes, brackets, a path's slash)
    is not read."""
    text = str(word).rstrip()
    while text and not (text[-1].isalnum() or "\uac00" <= text[-1] <= "\ud7a3"):
        text = text[:-1]
    if not text:
        return None
    last = text[-1]
    if "\uac00" <= last <= "\ud7a3":
        final = (ord(last) - 0xAC00) % 28
        return "vowel" if final == 0 else "rieul" if final == 8 else "consonant"
    if last.isdigit() and last.isascii():
        return _DIGIT_ENDING.get(last, "vowel")
    if last.isascii() and last.isalpha():
        lower = text.lower()
        if lower.endswith(_LATIN_RIEUL):
            return "rieul"
        return "consonant" if lower.endswith(_LATIN_CONSONANT) else "vowel"
    return None


def particle(word: str, pair: str) -> str:
    """The form of the particle ``pair`` (a key of :data:`PARTICLES`, "을(를)") that agrees
    with ``word``: particle("dot_score", "을(를)") == "를", particle("파일", "(으)로") == "로".
    When the word's ending cannot be told, the pair is kept as written."""
    ending = word_ending(word)
    if ending is None:
        return pair
    consonant, vowel, rieul = PARTICLES[pair]
    return {"consonant": consonant, "vowel": vowel, "rieul": rieul}[ending]


def agree_particles(text: str, fields: dict) -> str:
    """``text`` (a message before formatting) with each particle pair written right after
    a placeholder, ``{name}을(를)`` or ``[bold]{name}[/]을(를)``, replaced by the form that
    agrees with the value filling the placeholder."""
    def agree(found: re.Match) -> str:
        name = found.group("field")
        if name not in fields:
            return found.group(0)
        filled = ("{" + name + found.group("spec") + "}").format(**{name: fields[name]})
        return found.group(1) + found.group("tags") + particle(filled, found.group("pair"))

    return _PARTICLE_AFTER_FIELD.sub(agree, text)
