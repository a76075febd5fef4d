"""The Chinese catalogue is complete and every translation keeps its placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def catalogue(lang: str):
    with open(ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=lang)


def test_every_message_has_a_chinese_translation():
    missing = [
        m.id
        for m in catalogue("zh")
        if m.id and not all(m.string if isinstance(m.string, tuple) else (m.string,))
    ]
    assert not missing, f"untranslated in zh: {missing[:20]}"


def test_translations_keep_their_placeholders():
    wrong = []
    for message in catalogue("zh"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set().union(*(set(PLACEHOLDER.findall(i)) for i in ids))
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != expected and expected:
                wrong.append((ids[0], text))
    assert not wrong, wrong[:10]


def test_plural_forms_are_whole_sentences():
    short = [m.id for m in catalogue("zh") if m.pluralizable and any(len(s) < 4 for s in m.string)]
    assert not short, short


def _key(value):
    return tuple(value) if isinstance(value, list | tuple) else value


def test_compiled_catalogue_matches_the_source():
    from babel.messages.mofile import read_mo

    with open(ROOT / "translations" / "zh" / "LC_MESSAGES" / "messages.mo", "rb") as handle:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(handle) if m.id}
    source = {_key(m.id): _key(m.string) for m in catalogue("zh") if m.id}
    assert compiled == source, "run `make translations` (pybabel compile) and commit the .mo"
