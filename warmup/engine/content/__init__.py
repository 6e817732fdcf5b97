"""Warmup messages and replies that read like colleagues' mail, in four languages.

Text comes from a grammar of short alternatives per language (en, de, fr, es: one module
each), so runs of fixed words stay short and no 8-word sequence is common across the
network. Everything is drawn from a random generator seeded by the slot id: the text of
any send can be written again from what the database keeps of it (`body_text`), which is
how a reply quotes its original without storing bodies.

Invariants:
- Subjects: a mailbox walks its language's subject space (opener × topic × qualifier)
  with a step prime to its size, from an offset of its own: no subject repeats among a
  mailbox's consecutive new messages, and two mailboxes meet on one subject rarely.
- A reply's subject is its original's with one "Re: " (never "Re: Re:").
- Tag modes (`WARMUP_TAG_MODE`): `none` puts nothing in the message that marks it
  (engagement recognises it by the Message-ID recorded at send); `header` adds
  X-Warmup-Token, `body` a "Ref <token>" line under the signature, `subject` the token in
  brackets after the subject. Tokens (`make_token`, `slot_id_of`) keep their format, so
  mail sent with them is still recognised.
- The MIME is written as text, not through email.message (milliseconds a message): the
  engine composes millions a day. Some messages are text/plain only, the others
  multipart/alternative with an HTML part.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import html
import math
import quopri
import random
import re
import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from email.utils import format_datetime, formataddr, make_msgid
from types import ModuleType
from typing import TypeVar

from accounts.models import email_domain
from accounts.transport.imap import TOKEN_HEADER  # the header engagement reads
from warmup.engine.content import de, en, es, fr
from warmup_project.config import TAG_MODES
from warmup_project.content_files import CustomTexts, LanguageTexts

T = TypeVar("T")
TOKEN_PREFIX = "wu"
LANGUAGES = ("en", "de", "fr", "es")
REPLY_PREFIX = "Re: "
# Share of messages sent as text/plain only (no HTML part), as many people write.
PLAIN_ONLY = 0.3
_MODULES: dict[str, ModuleType] = {"en": en, "de": de, "fr": fr, "es": es}
# Kinds of new message, their weights and how many body paragraphs each has.
_KINDS = {
    "question": (22, 1, 3),
    "update": (20, 2, 4),
    "scheduling": (15, 1, 2),
    "thanks": (10, 1, 2),
    "note": (18, 1, 1),
    "writeup": (15, 3, 6),
}
_MORE = ("question", "wonder", "update", "note", "scheduling", "writeup", "thanks")
_SEED_SALT = 0x5EED_C0DE
# Words a French, German or Spanish body has at least (see body_text).
MIN_WORDS = {"de": 60, "fr": 60, "es": 60}
# The commonest function words of French and Spanish, and how many of them (counted
# with repeats) a body has at least (see body_text). German bodies always had plenty.
FUNCTION_WORDS = {
    "fr": frozenset((
        "avec", "dans", "est", "était", "été", "pour", "pas", "sur", "une", "qui", "qu",
        "suis", "serai", "sera", "ont", "nous", "vous", "notre", "votre", "mon", "mes",
        "ton", "tes", "moi", "toi", "même",
    )),
    "es": frozenset((
        "las", "los", "fue", "antes", "otra", "otro", "muy", "estar", "estoy", "estaré",
        "estaba", "porque", "qué", "yo", "tus", "sobre", "hemos", "tengo", "tienes",
        "tenemos", "hasta", "desde", "mucho", "también", "esto", "eso", "ese", "nuestra",
        "nuestro", "hay", "nada", "cuando", "mis",
    )),
}  # fmt: skip
MIN_FUNCTION_WORDS = 6
_EXTRA_SENTENCES = 8  # at most, to reach both minimums
_WORD = re.compile(r"\w+")


# -- tokens -------------------------------------------------------------------------------


def make_token(slot_id: int, secret: str) -> str:
    digest = hmac.new(secret.encode(), str(slot_id).encode(), hashlib.sha256).hexdigest()
    return f"{TOKEN_PREFIX}{slot_id:x}-{digest[:10]}"


def slot_id_of(token: str, secret: str) -> int | None:
    """The slot a token belongs to, or None for a token we did not make."""
    if not token.startswith(TOKEN_PREFIX) or "-" not in token:
        return None
    head = token[len(TOKEN_PREFIX) :].split("-", 1)[0]
    try:
        slot_id = int(head, 16)
    except ValueError:
        return None
    return slot_id if hmac.compare_digest(make_token(slot_id, secret), token) else None


# -- the grammar --------------------------------------------------------------------------

_SYMBOL = re.compile(r"\{(\w+)\}")


def _parse(alternative: str) -> tuple[str, ...]:
    """'Hi {name}, {x}' → ('Hi ', 'name', ', ', 'x', ''): odd places are symbols."""
    return tuple(_SYMBOL.split(alternative))


@dataclass(frozen=True)
class _Language:
    code: str
    rules: dict[str, tuple[tuple[str, ...], ...]]
    openers: tuple[str, ...]
    topics: tuple[tuple[str, str], ...]  # (in a subject, in a sentence)
    qualifiers: tuple[str, ...]
    roles: tuple[str, ...]
    paragraphs: tuple[tuple[str, ...], ...]  # the operator's own, parsed
    module: ModuleType
    step: int = 1

    @property
    def subjects(self) -> int:
        return len(self.openers) * len(self.topics) * len(self.qualifiers)

    def expand(self, symbol: str, rng: random.Random, values: dict[str, str]) -> str:
        parts = choice(rng, self.rules[symbol])
        if len(parts) == 1:
            return parts[0]
        out = []
        for i, part in enumerate(parts):
            if not i % 2:
                out.append(part)
            elif part in values:
                out.append(values[part])
            else:
                out.append(self.expand(part, rng, values))
        return "".join(out)


def choice(rng: random.Random, seq: Sequence[T]) -> T:
    """rng.choice(seq), the same draw from the same state, without its two layers of
    method calls: a message makes about 50 of these, and a text must come out the same
    whenever it is written again (a reply quotes it). tests/test_content.py checks the
    two agree."""
    n = len(seq)
    bits = rng.getrandbits
    k = n.bit_length()
    r = bits(k)
    while r >= n:
        r = bits(k)
    return seq[r]


def _topics(module: ModuleType) -> list[tuple[str, str]]:
    if module is de:
        topics = []
        for article, noun in module.TOPIC_NOUNS:
            for adjective in module.TOPIC_ADJECTIVES:
                # After the article the adjective ends in -e; alone, neuter takes -es.
                alone = adjective.strip()
                alone = (alone + "s" if article == "das" else alone) if alone else ""
                for suffix in module.TOPIC_SUFFIXES:
                    subject = f"{alone.capitalize()} {noun}".strip() + suffix
                    topics.append((subject, f"{article} {adjective}{noun}{suffix}"))
        return topics
    if module is en:
        return [
            (f"{prefix} {noun}", f"{prefix} {noun}")
            for prefix in module.TOPIC_PREFIXES
            for noun in module.TOPIC_NOUNS
        ]
    return [(f"{n}{s}", f"{n}{s}") for n in module.TOPIC_NOUNS for s in module.TOPIC_SUFFIXES]


def _step(size: int) -> int:
    step = 7919
    while math.gcd(step, size) != 1:
        step += 2
    return step


@functools.lru_cache(maxsize=16)
def _language(code: str, custom: LanguageTexts | None) -> _Language:
    module = _MODULES[code]
    topics = _topics(module)
    paragraphs: tuple[tuple[str, ...], ...] = ()
    if custom is not None:
        topics += [(topic, topic) for topic in custom.topics]
        paragraphs = tuple(_parse(p) for p in custom.paragraphs)
    language = _Language(
        code=code,
        rules={
            name: tuple(_parse(a) for a in alts.split("|")) for name, alts in module.GRAMMAR.items()
        },
        openers=module.OPENERS,
        topics=tuple(topics),
        qualifiers=module.QUALIFIERS,
        roles=module.ROLES,
        paragraphs=paragraphs,
        module=module,
    )
    return _Language(**{**language.__dict__, "step": _step(language.subjects)})


def _custom_texts() -> CustomTexts:
    from django.conf import settings  # settings are read when composing, not at import

    return settings.WARMUP.content_texts


def library(language: str, texts: CustomTexts | None = None) -> _Language:
    """The phrases of `language` (an unknown code: English), with the operator's texts
    (`texts`, by default those of WARMUP_CONTENT_DIR)."""
    code = language if language in _MODULES else "en"
    custom = dict(_custom_texts() if texts is None else texts).get(code)
    return _language(code, custom)


# -- subjects -----------------------------------------------------------------------------


def subject_for(
    sender_id: int,
    day: dt.date,
    slot_no: int,
    language: str = "en",
    texts: CustomTexts | None = None,
) -> tuple[str, str]:
    """(subject, topic) of a slot's new message. The mailbox walks its language's subject
    space with a step prime to its size from an offset of its own: no subject repeats
    within `subjects` consecutive positions (a day is 128 positions)."""
    lang = library(language, texts)
    size = lang.subjects
    position = day.toordinal() * 128 + slot_no
    # Multiplying by a large odd constant spreads neighbouring ids over the space.
    index = (sender_id * 2_654_435_761 + position * lang.step) % size
    index, q = divmod(index, len(lang.qualifiers))
    o, t = divmod(index, len(lang.topics))
    subject_topic, topic = lang.topics[t]
    opener = lang.openers[o % len(lang.openers)]
    subject = f"{opener} {subject_topic}{lang.qualifiers[q]}"
    return subject[0].upper() + subject[1:], topic


def reply_subject(original_subject: str) -> str:
    """The subject of a reply: the original's behind one "Re: "."""
    if original_subject[:3].lower() == "re:":
        return original_subject
    return f"{REPLY_PREFIX}{original_subject}"


# -- the parties --------------------------------------------------------------------------


def _words(label: str) -> str:
    """'north-wind3' → 'North Wind': words of letters only. Digits stuck to letters read
    as an obfuscated word to spam filters (rspamd's R_MIXED_CHARSET)."""
    return " ".join(w.capitalize() for w in re.split(r"[\W\d_]+", label) if w)


@dataclass(frozen=True)
class Party:
    email: str
    name: str = ""
    language: str = "en"

    @property
    def domain(self) -> str:
        return email_domain(self.email)

    @property
    def first_name(self) -> str:
        name = (self.name or self.email.split("@", 1)[0]).split()[0].split(".")[0]
        return _words(name).split(" ")[0] or name.capitalize()

    @property
    def full_name(self) -> str:
        """The display name, or one made from the address ("tom.ray2@" → "Tom Ray")."""
        if self.name:
            return _one_line(self.name)
        local = self.email.split("@", 1)[0].split("+")[0]
        return _words(local) or local

    @property
    def company(self) -> str:
        """The organisation a signature names: the domain's first label, as words."""
        label = self.domain.split(".")[0]
        return _words(label) or label

    def signature(self, lang: _Language) -> str:
        """Name, a role (the same for the address every time) and the company."""
        role = lang.roles[zlib.crc32(self.email.lower().encode()) % len(lang.roles)]
        return f"{self.full_name}\n{role} | {self.company}"


@dataclass(frozen=True)
class Original:
    """What a reply needs of the message it answers, as the database keeps it: the text
    is written again from its slot id and parties."""

    slot_id: int
    subject: str
    message_id: str
    sent_at: dt.datetime
    topic: str = ""
    references: str = ""
    was_reply: bool = False
    # The thread's language: its first message's. Blank: the original's sender's, the
    # same for a first reply; later turns pass the thread's.
    language: str = ""


@dataclass(frozen=True)
class Composed:
    message_id: str
    data: bytes = field(repr=False)


# -- bodies -------------------------------------------------------------------------------


def _rng(slot_id: int) -> random.Random:
    return random.Random(slot_id * 1_000_003 + _SEED_SALT)


def _paragraph(
    lang: _Language,
    rng: random.Random,
    first: str,
    more: int,
    values: dict[str, str],
    pool: Sequence[str] = _MORE,
) -> str:
    sentences = [lang.expand(first, rng, values)]
    for _ in range(more):
        sentences.append(lang.expand(choice(rng, pool), rng, values))
    return " ".join(sentences)


def body_text(
    *,
    slot_id: int,
    sender: Party,
    recipient: Party,
    topic: str,
    reply: bool = False,
    texts: CustomTexts | None = None,
) -> str:
    """The text a slot's message says, greeting to signature, without a token or a quote:
    the same every time for the same slot and parties (a reply quotes it later)."""
    rng = _rng(slot_id)
    lang = library(sender.language, texts)
    # Greeted by the address's name, never a display name: the engine addresses recipients
    # by address, and a quote written again later must greet the same way.
    values = {"name": Party(recipient.email).first_name, "topic": topic}
    pool: Sequence[str] = _MORE
    if reply:
        # A reply's sentences never name the topic: a reply in a thread can be written
        # again without knowing which message started it.
        values["topic"], pool = "", ("reply",)
        kind, low, high = "reply", 1, 2
    else:
        kinds = list(_KINDS)
        kind = rng.choices(kinds, weights=[_KINDS[k][0] for k in kinds])[0]
        low, high = _KINDS[kind][1:]
    count = rng.randint(low, high)
    paragraphs = []
    for n in range(count):
        first = kind if n == 0 else choice(rng, pool)
        text = _paragraph(lang, rng, first, rng.randint(0, 2 if count < 3 else 1), values, pool)
        if n == 0 and rng.random() < 0.35:
            text = f"{lang.expand('warm', rng, values)} {text}"
        paragraphs.append(text)
    # rspamd's language detector takes short French, Spanish or German texts for English
    # (or Norwegian…) and then counts every accented letter as an obfuscation
    # (R_MIXED_CHARSET, weight 5): of 750 such messages, 32 were flagged as written, 4 with
    # at least MIN_WORDS words. Those left had few function words, which is what the
    # detector settles the language by first: a body has MIN_FUNCTION_WORDS of them too.
    for _ in range(_EXTRA_SENTENCES):
        if not _too_thin(lang.code, paragraphs):
            break
        # Of three drawn sentences, the first with a function word (not the one with the
        # most: a few sentences would win every time, and repeat across the network).
        options = [lang.expand(choice(rng, pool), rng, values) for _ in range(3)]
        useful = [s for s in options if _function_words(lang.code, s)]
        paragraphs[-1] += " " + (useful or options)[0]
    if lang.paragraphs and not reply and rng.random() < 0.2:
        own = rng.choice(lang.paragraphs)
        paragraphs.insert(
            rng.randint(0, len(paragraphs)),
            "".join(values.get(p, p) if i % 2 else p for i, p in enumerate(own)),
        )
    if rng.random() < 0.45:
        paragraphs.append(lang.expand("ask_back", rng, values))
    return (
        "\n\n".join(
            [
                lang.expand("greeting", rng, values),
                *paragraphs,
                f"{lang.expand('signoff', rng, values)}\n{sender.first_name}",
            ]
        )
        + f"\n\n-- \n{sender.signature(lang)}"
    )


def _function_words(language: str, text: str) -> int:
    common = FUNCTION_WORDS.get(language, frozenset())
    return sum(w in common for w in _WORD.findall(text.lower()))


def _too_thin(language: str, paragraphs: list[str]) -> bool:
    """Whether a French, German or Spanish body is too short, or has too few function
    words, for a spam filter's language detector to tell its language."""
    if language not in MIN_WORDS and language not in FUNCTION_WORDS:
        return False  # English: no minimum, nothing to count
    text = " ".join(paragraphs)
    if len(_WORD.findall(text)) < MIN_WORDS.get(language, 0):
        return True
    return language in FUNCTION_WORDS and _function_words(language, text) < MIN_FUNCTION_WORDS


def attribution(language: str, when: dt.datetime, name: str) -> str:
    """The line above a quote, as a mail client of that language writes it."""
    lang = library(language).module
    months, days = lang.MONTHS.split(), lang.DAYS.split()
    date = lang.DATE.format(
        weekday=days[when.weekday()],
        day=when.day,
        month=months[when.month - 1],
        year=when.year,
        time=when.strftime("%H:%M"),
    )
    return lang.ATTRIBUTION.format(date=date, name=_one_line(name))


def quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


# -- MIME ---------------------------------------------------------------------------------


def _header(value: str) -> str:
    """A header value, RFC 2047-encoded only when it is not plain ASCII: base64 words of at
    most 45 bytes (whole characters), one a folded line. email.header.Header does the
    same in a fifth of a millisecond, half the time of composing a whole message."""
    if value.isascii():
        return value
    words, chunk = [], b""
    for char in value:
        encoded = char.encode()
        if len(chunk) + len(encoded) > 45:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode()}?=" for w in words)


def _one_line(value: str) -> str:
    """`value` without line breaks or other unprintable characters, spaces collapsed."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


def _address(party: Party) -> str:
    # The doors refuse control characters in display names; this does not rely on it: a
    # CR/LF that reached a header line would start a header (Bcc:, …) of the owner's own.
    return formataddr((_one_line(party.name), party.email), charset="utf-8")


def _html(own: str, quoted: tuple[str, str] | None) -> str:
    def paragraphs(text: str) -> str:
        return "".join(
            f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n")
        )

    body = paragraphs(own)
    if quoted:
        line, text = quoted
        body += (
            f"<div>{html.escape(line)}</div>"
            f'<blockquote type="cite" style="margin:0 0 0 .8ex;border-left:1px solid #ccc;'
            f'padding-left:1ex">{paragraphs(text)}</blockquote>'
        )
    return f'<html><head><meta charset="utf-8"></head><body>{body}</body></html>'


def _qp(text: str) -> str:
    return quopri.encodestring(text.replace("\n", "\r\n").encode()).decode()


def _message(
    *,
    sender: Party,
    recipient: Party,
    subject: str,
    own: str,
    quoted: tuple[str, str] | None,
    now: dt.datetime,
    token: str,
    tag_mode: str,
    plain_only: bool,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> Composed:
    if tag_mode not in TAG_MODES:
        raise ValueError(f"unknown tag mode {tag_mode!r}: one of {', '.join(TAG_MODES)}")
    if tag_mode != "none" and not token:
        raise ValueError(f"tag mode {tag_mode!r} needs a token")
    if tag_mode == "body":
        own = f"{own}\nRef {token}"
    elif tag_mode == "subject":
        subject = f"{subject} [{token}]"
    text = own if quoted is None else f"{own}\n\n{quoted[0]}\n{quote(quoted[1])}"
    message_id = make_msgid(domain=sender.domain)
    headers = [
        ("From", _address(sender)),
        ("To", _address(recipient)),
        ("Subject", _header(subject)),
        ("Date", format_datetime(now)),
        ("Message-ID", message_id),
        *extra_headers,
        *([(TOKEN_HEADER, token)] if tag_mode == "header" else []),
        ("MIME-Version", "1.0"),
    ]
    if sender.language != "en":
        headers.append(("Content-Language", sender.language))
    if plain_only:
        headers += [
            ("Content-Type", 'text/plain; charset="utf-8"'),
            ("Content-Transfer-Encoding", "quoted-printable"),
        ]
        lines = [f"{name}: {value}" for name, value in headers]
        lines += ["", _qp(text + "\n")]
        return Composed(message_id, "\r\n".join(lines).encode())
    boundary = f"=_{secrets.token_hex(12)}"
    headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
    lines = [f"{name}: {value}" for name, value in headers]
    for subtype, part in (("plain", text + "\n"), ("html", _html(own, quoted))):
        lines += [
            "",
            f"--{boundary}",
            f'Content-Type: text/{subtype}; charset="utf-8"',
            "Content-Transfer-Encoding: quoted-printable",
            "",
            _qp(part),
        ]
    lines += ["", f"--{boundary}--", ""]
    return Composed(message_id, "\r\n".join(lines).encode())


def _plain_only(slot_id: int) -> bool:
    # Its own draw, apart from the text's: the text stays the same if the share changes.
    return random.Random(slot_id * 7 + 1).random() < PLAIN_ONLY


def compose(
    *,
    slot_id: int,
    sender: Party,
    recipient: Party,
    subject: str,
    topic: str,
    now: dt.datetime,
    token: str = "",
    tag_mode: str = "none",
    texts: CustomTexts | None = None,
) -> Composed:
    """A slot's new message, its text the same every time (`body_text`)."""
    own = body_text(slot_id=slot_id, sender=sender, recipient=recipient, topic=topic, texts=texts)
    return _message(
        sender=sender,
        recipient=recipient,
        subject=subject,
        own=own,
        quoted=None,
        now=now,
        token=token,
        tag_mode=tag_mode,
        plain_only=_plain_only(slot_id),
    )


def compose_reply(
    *,
    slot_id: int,
    sender: Party,
    recipient: Party,
    original: Original,
    now: dt.datetime,
    token: str = "",
    tag_mode: str = "none",
    texts: CustomTexts | None = None,
) -> Composed:
    """A reply from `sender` (the original's recipient) back to `recipient` (its sender),
    threaded, its own text above the original's, quoted as mail clients do. The quote is
    the original's own text: an original that quoted in turn is quoted without its quote.

    A reply is written in the thread's language (`original.language`, else `recipient`'s),
    as people answer in the language they were written to: a message in two languages is
    what spam filters flag (rspamd's R_MIXED_CHARSET, on a subject in another language)."""
    language = original.language or recipient.language
    sender = replace(sender, language=language)
    recipient = replace(recipient, language=language)
    own = body_text(
        slot_id=slot_id,
        sender=sender,
        recipient=recipient,
        topic=original.topic,
        reply=True,
        texts=texts,
    )
    quoted = body_text(
        slot_id=original.slot_id,
        sender=recipient,
        recipient=sender,
        topic=original.topic,
        reply=original.was_reply,
        texts=texts,
    )
    line = attribution(language, original.sent_at, recipient.full_name)
    references = f"{original.references} {original.message_id}".strip()
    return _message(
        sender=sender,
        recipient=recipient,
        subject=reply_subject(original.subject),
        own=own,
        quoted=(line, quoted),
        now=now,
        token=token,
        tag_mode=tag_mode,
        plain_only=_plain_only(slot_id),
        extra_headers=[("In-Reply-To", original.message_id), ("References", references)],
    )
