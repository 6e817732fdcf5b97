"""Operators' own texts for warmup mail (`WARMUP_CONTENT_DIR`), read and checked at start.

The directory holds one UTF-8 file per language, named by the language's code
(`en.txt`, `de.txt`, `fr.txt`, `es.txt`; any subset). A file has two sections, each
opened by its name in brackets on a line of its own:

    [topics]
    the spring catalogue
    the warehouse move

    [paragraphs]
    A paragraph of your own, on one or more lines. {name} is the recipient's first
    name, {topic} the message's topic.

    Another paragraph: paragraphs are separated by a blank line.

Topics are noun phrases as the language's built-in ones are written (English and French
and Spanish with their article, German feminine or neuter nouns with theirs: "die
Messe"), one a line; they join the built-in topics of subjects and bodies. Paragraphs join
the built-in sentences: a message uses one now and then. Lines starting with `#` are
comments. Anything else is refused with the file and line, so a typo stops the start
rather than reaching a million mailboxes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LANGUAGES = ("en", "de", "fr", "es")
SECTIONS = ("topics", "paragraphs")
MAX_TOPIC = 80
MAX_PARAGRAPH = 1000
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class ContentFileError(ValueError):
    """A problem in the content directory, naming the file and line."""


@dataclass(frozen=True)
class LanguageTexts:
    topics: tuple[str, ...] = ()
    paragraphs: tuple[str, ...] = ()


# (language, texts) pairs: hashable, so the composer can cache what it builds from them.
CustomTexts = tuple[tuple[str, LanguageTexts], ...]


def load(directory: str | Path) -> CustomTexts:
    """The texts of `directory`, checked; raises ContentFileError on any problem."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ContentFileError(f"{folder} is not a directory.")
    found: list[tuple[str, LanguageTexts]] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        language = path.stem
        if path.suffix != ".txt" or language not in LANGUAGES:
            raise ContentFileError(
                f"{path.name}: unexpected file; name files by language: "
                + ", ".join(f"{code}.txt" for code in LANGUAGES)
                + "."
            )
        found.append((language, _parse(path)))
    if not found:
        raise ContentFileError(f"{folder} holds no language file (en.txt, de.txt, …).")
    return tuple(found)


def _parse(path: Path) -> LanguageTexts:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ContentFileError(f"{path.name}: not UTF-8 ({exc.reason}).") from None
    except OSError as exc:
        raise ContentFileError(f"{path.name}: cannot be read ({exc.strerror}).") from None
    topics: list[str] = []
    paragraphs: list[str] = []
    section = ""
    current: list[str] = []
    start = 0

    def end_paragraph() -> None:
        if current:
            paragraph = " ".join(current)
            if len(paragraph) > MAX_PARAGRAPH:
                raise ContentFileError(
                    f"{path.name}:{start}: paragraph longer than {MAX_PARAGRAPH} characters."
                )
            _check_placeholders(path, start, paragraph, ("name", "topic"))
            paragraphs.append(paragraph)
            current.clear()

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            end_paragraph()
            section = line[1:-1].strip().lower()
            if section not in SECTIONS:
                raise ContentFileError(
                    f"{path.name}:{number}: unknown section [{section}]; "
                    "sections are [topics] and [paragraphs]."
                )
            continue
        if not line:
            end_paragraph()
            continue
        if not section:
            raise ContentFileError(
                f"{path.name}:{number}: text before a section; start with [topics] or [paragraphs]."
            )
        if not line.isprintable():
            raise ContentFileError(f"{path.name}:{number}: holds a control character.")
        if section == "topics":
            if len(line) > MAX_TOPIC:
                raise ContentFileError(
                    f"{path.name}:{number}: topic longer than {MAX_TOPIC} characters."
                )
            _check_placeholders(path, number, line, ())
            topics.append(line)
        else:
            if not current:
                start = number
            current.append(line)
    end_paragraph()
    if not topics and not paragraphs:
        raise ContentFileError(f"{path.name}: no topics and no paragraphs.")
    return LanguageTexts(tuple(topics), tuple(paragraphs))


def _check_placeholders(path: Path, line: int, text: str, allowed: tuple[str, ...]) -> None:
    for name in _PLACEHOLDER.findall(text):
        if name not in allowed:
            known = ", ".join(f"{{{a}}}" for a in allowed) or "none"
            raise ContentFileError(
                f"{path.name}:{line}: unknown placeholder {{{name}}} (allowed: {known})."
            )
    if text.replace("{name}", "").replace("{topic}", "").count("{") or "}" in text.replace(
        "{name}", ""
    ).replace("{topic}", ""):
        raise ContentFileError(f"{path.name}:{line}: a lone brace; write placeholders as {{name}}.")
