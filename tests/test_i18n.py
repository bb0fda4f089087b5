"""The course's texts in English and Korean: completeness, the loader, the language choice."""

import ast
import dataclasses
import shutil
import string
import tomllib

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.course import i18n
from grader.course.i18n import LANGS, exercise_text, message, module_text, resolve_lang
from grader.course.manifest import load_manifest
from grader.course.translations import stale, stamp
from tests.support import ROOT, copy_course

COURSE = load_manifest(ROOT / "course.toml")
MESSAGES = {lang: tomllib.loads((ROOT / "i18n" / lang / "messages.toml").read_text(encoding="utf-8"))
            for lang in LANGS}


@pytest.fixture
def course_copy(tmp_path):
    return copy_course(tmp_path, ("solutions", "exercises", "i18n"))


def set_default_lang(root, code):
    path = root / "course.toml"
    text = path.read_text(encoding="utf-8")
    assert 'default_lang = "en"' in text
    path.write_text(text.replace('default_lang = "en"', f'default_lang = "{code}"'), encoding="utf-8")


# ---------------------------------------------------------------- the Korean course texts

@pytest.mark.parametrize("module", [m.name for m in COURSE.modules])
def test_every_module_and_exercise_has_korean_texts(module):
    """i18n/ko/<module>.toml: a title and intro for the module, and for every exercise of
    course.toml a title, instructions and as many hint levels as in English."""
    path = ROOT / "i18n" / "ko" / f"{module}.toml"
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    data = tomllib.loads(path.read_text(encoding="utf-8"))   # a syntax error fails here, loudly
    assert str(data.get("title", "")).strip(), f"{module}: no Korean title"
    assert str(data.get("intro", "")).strip(), f"{module}: no Korean intro"
    tables = data.get("exercises", {})
    declared = {ex.name for ex in COURSE.module(module).exercises}
    assert set(tables) <= declared, f"{module}: Korean texts for exercises course.toml does not have: " \
                                    f"{sorted(set(tables) - declared)}"
    for ex in COURSE.module(module).exercises:
        table = tables.get(ex.name)
        assert table, f"{ex.id}: no [exercises.{ex.name}] table"
        assert str(table.get("title", "")).strip(), f"{ex.id}: no Korean title"
        assert str(table.get("instructions", "")).strip(), f"{ex.id}: no Korean instructions"
        hints = table.get("hints", [])
        assert len(hints) == len(ex.hints), f"{ex.id}: {len(hints)} Korean hint levels, {len(ex.hints)} in English"
        assert all(isinstance(h, str) and h.strip() for h in hints), f"{ex.id}: an empty Korean hint"
        # the loader must then serve them, not the English
        assert exercise_text(COURSE, ex.id, "ko").hints != ex.hints, ex.id


def test_a_capstone_has_its_english_texts_in_i18n_en():
    for module in (m for m in COURSE.modules if m.is_capstone):
        assert module_text(COURSE, module.name, "en").intro.strip(), f"i18n/en/{module.name}.toml: no intro"
        for ex in module.exercises:
            assert exercise_text(COURSE, ex.id, "en").instructions.strip(), f"{ex.id}: no English instructions"


def test_english_comes_from_course_toml_and_the_docstrings():
    text = exercise_text(COURSE, "rnn.rnn_step_forward", "en")
    assert text.title == COURSE.exercise("rnn.rnn_step_forward").title
    assert text.hints == COURSE.exercise("rnn.rnn_step_forward").hints
    tree = ast.parse((ROOT / "solutions" / "rnn.py").read_text())
    assert module_text(COURSE, "rnn", "en").intro == ast.get_docstring(tree)
    definition = next(n for n in tree.body if getattr(n, "name", None) == "rnn_step_forward")
    assert text.instructions == ast.get_docstring(definition)
    # a class exercise: the class's docstring
    mha = exercise_text(COURSE, "multihead.MultiHeadAttention", "en").instructions
    assert mha.startswith("Multi-head attention: project, split into heads")


def test_without_solutions_english_comes_from_the_stubs_which_are_never_imported(course_copy):
    shutil.rmtree(course_copy / "solutions")
    stub = course_copy / "exercises" / "rnn.py"
    stub.write_text(stub.read_text() + "\nraise SystemExit('imported!')\n")
    course = load_manifest(course_copy / "course.toml")
    assert module_text(course, "rnn", "en").intro == module_text(COURSE, "rnn", "en").intro
    assert (exercise_text(course, "rnn.rnn_backward", "en").instructions
            == exercise_text(COURSE, "rnn.rnn_backward", "en").instructions)


def test_a_missing_korean_text_falls_back_to_english_one_text_at_a_time(course_copy, capsys):
    course = load_manifest(course_copy / "course.toml")
    english = exercise_text(course, "rnn.rnn_forward", "en")
    path = course_copy / "i18n" / "ko" / "rnn.toml"
    path.write_text("title = '순환 신경망'\n[exercises.rnn_forward]\ntitle = '시퀀스 전체'\n"
                    "hints = ['''첫 번째 힌트''']\n", encoding="utf-8")
    korean = exercise_text(course, "rnn.rnn_forward", "ko")
    assert korean.title == "시퀀스 전체"
    assert korean.instructions == english.instructions
    assert korean.hints == ("첫 번째 힌트",) + english.hints[1:]
    assert module_text(course, "rnn", "ko") == i18n.ModuleText("순환 신경망", module_text(course, "rnn", "en").intro)
    assert exercise_text(course, "rnn.rnn_backward", "ko") == exercise_text(course, "rnn.rnn_backward", "en")
    path.unlink()
    assert exercise_text(course, "rnn.rnn_forward", "ko") == english
    assert capsys.readouterr().err == ""   # missing texts: not a word
    path.write_text("title = 'unterminated\n", encoding="utf-8")
    assert exercise_text(course, "rnn.rnn_forward", "ko") == english
    assert "could not be read" in capsys.readouterr().err   # a broken file: one note


def test_translations_are_read_again_when_they_change(course_copy):
    course = load_manifest(course_copy / "course.toml")
    path = course_copy / "i18n" / "ko" / "rnn.toml"
    path.write_text("title = '하나'\n", encoding="utf-8")
    assert module_text(course, "rnn", "ko").title == "하나"
    path.write_text("title = '둘둘'\n", encoding="utf-8")
    assert module_text(course, "rnn", "ko").title == "둘둘"


# ---------------------------------------------------------------- messages

def placeholders(text):
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_message_files_have_the_same_keys_and_placeholders():
    en, ko = MESSAGES["en"], MESSAGES["ko"]
    assert sorted(set(en) - set(ko)) == [], "keys missing in Korean"
    assert sorted(set(ko) - set(en)) == [], "keys only in Korean"
    for key in en:
        assert placeholders(en[key]) == placeholders(ko[key]), key


def test_every_message_the_code_asks_for_exists_and_every_message_is_used():
    asked, constants = set(), set()
    for path in (ROOT / "grader").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name in ("t", "message", "say", "_say"):
                    asked |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    assert sorted(asked - set(MESSAGES["en"])) == [], "messages asked for but not in i18n/en/messages.toml"
    assert sorted(set(MESSAGES["en"]) - constants) == [], "messages that nothing uses"


def test_message_formats_and_falls_back_to_english_per_key(tmp_path, monkeypatch):
    (tmp_path / "i18n" / "en").mkdir(parents=True)
    (tmp_path / "i18n" / "ko").mkdir(parents=True)
    (tmp_path / "i18n" / "en" / "messages.toml").write_text('a = "A {x}"\nb = "B"\n')
    (tmp_path / "i18n" / "ko" / "messages.toml").write_text('a = "가 {x}"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "PACKAGE_ROOT", tmp_path)
    assert message("a", "ko", x=1) == "가 1"
    assert message("b", "ko") == "B"
    with pytest.raises(KeyError):
        message("c", "ko")


def test_real_messages_are_korean_in_korean():
    assert message("hint_last", "en") == "That was the last hint."
    assert message("hint_last", "ko") == MESSAGES["ko"]["hint_last"] != MESSAGES["en"]["hint_last"]


# ---------------------------------------------------------------- which language

def test_resolve_lang_order_is_option_then_environment_then_course_toml(monkeypatch):
    korean_course = dataclasses.replace(COURSE, default_lang="ko")
    assert resolve_lang(COURSE) == "en"
    assert resolve_lang(korean_course) == "ko"
    monkeypatch.setenv("COURSE_LANG", "en")
    assert resolve_lang(korean_course) == "en"
    assert resolve_lang(korean_course, "ko") == "ko"
    monkeypatch.setenv("COURSE_LANG", "KO")
    assert resolve_lang(COURSE) == "ko"
    assert resolve_lang(COURSE, "en") == "en"


@pytest.mark.parametrize("where", ["--lang", "COURSE_LANG", "course.toml"])
def test_an_unknown_language_is_an_error_that_says_where_it_came_from(where, monkeypatch):
    course = dataclasses.replace(COURSE, default_lang="fr") if where == "course.toml" else COURSE
    if where == "COURSE_LANG":
        monkeypatch.setenv("COURSE_LANG", "fr")
    with pytest.raises(ValueError, match=f"'fr'.*{where}.*en, ko"):
        resolve_lang(course, "fr" if where == "--lang" else None)


def run(root, *args, env=None):
    return CliRunner().invoke(main, ["--course", str(root), *args], env=env)


def test_the_cli_switches_language_by_option_environment_and_course_toml(course_copy):
    english, korean = MESSAGES["en"]["col_exercise"], MESSAGES["ko"]["col_exercise"]
    assert english in run(course_copy, "list").output
    assert korean in run(course_copy, "--lang", "ko", "list").output
    assert korean in run(course_copy, "list", env={"COURSE_LANG": "ko"}).output
    set_default_lang(course_copy, "ko")
    assert korean in run(course_copy, "list").output
    assert english in run(course_copy, "list", env={"COURSE_LANG": "en"}).output
    assert korean in run(course_copy, "--lang", "ko", "list", env={"COURSE_LANG": "en"}).output
    assert english in run(course_copy, "--lang", "en", "list").output


def test_the_cli_rejects_an_unknown_language_clearly(course_copy):
    by_option = run(course_copy, "--lang", "fr", "list")
    assert by_option.exit_code == 2 and "'fr' is not one of 'en', 'ko'" in by_option.output
    by_env = run(course_copy, "list", env={"COURSE_LANG": "fr"})
    assert by_env.exit_code == 1 and "unknown language 'fr' (from COURSE_LANG)" in by_env.output
    set_default_lang(course_copy, "fr")
    by_toml = run(course_copy, "progress")
    assert by_toml.exit_code == 1 and "unknown language 'fr' (from default_lang in course.toml)" in by_toml.output
    assert "Traceback" not in by_option.output + by_env.output + by_toml.output


# ---------------------------------------------------------------- translations in step with their English

def test_every_korean_text_was_translated_from_the_english_of_today():
    out_of_step = {module.name: stale(COURSE, "ko", module.name) for module in COURSE.modules}
    out_of_step = {module: keys for module, keys in out_of_step.items() if keys}
    assert not out_of_step, (
        f"the English changed since these Korean texts were translated: {out_of_step}; update them in "
        "i18n/ko/<module>.toml, then run `python -m grader.course.translations stamp ko <module>`")


def test_a_changed_english_hint_makes_its_translation_stale_until_stamped(course_copy):
    manifest = course_copy / "course.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        "One step is an affine map of the input", "One step is an affine map of the inputs", 1), encoding="utf-8")
    course = load_manifest(manifest)
    assert stale(course, "ko", "rnn") == ["rnn_step_forward"]
    assert stale(course, "ko", "lstm") == []
    stamp(course, "ko", "rnn")
    stamped = (course_copy / "i18n" / "ko" / "rnn.toml").read_text(encoding="utf-8")
    assert stale(course, "ko", "rnn") == []
    stamp(course, "ko", "rnn")
    assert (course_copy / "i18n" / "ko" / "rnn.toml").read_text(encoding="utf-8") == stamped
    assert module_text(course, "rnn", "ko").title == module_text(COURSE, "rnn", "ko").title
