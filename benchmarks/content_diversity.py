"""How varied the warmup messages are (issue 18): a simulated day's messages of `--mailboxes`
mailboxes, composed by warmup/engine/content's own functions, and what a filter that
looks for templates would see in them.

The day: mailboxes `sim{n}@d{n // 3}.sim` (as warmup/engine/simulate.py, no display names),
each writing in its language (`language(n)`: half English, a fifth German, 15% French,
15% Spanish) and sending its slots 0..29 (`content.subject_for` + `content.compose`, each
seeded by its slot id) to a random mailbox of another domain; a share (`--reply-share`,
35%) of those messages is answered by their recipient (`content.compose_reply` with the
original's slot id, subject, topic and Message-ID, as warmup/engine/cycle.py does), one
to three slots later. The default, 10,000 mailboxes, gives 300,000 new messages and
about 105,000 replies.

What is measured, on the text/plain part of each message (decoded):
  * not content: the headers, the signature separator "--" and everything after it (the
    "Ref wu…" token line), and any line that is only a warmup token;
  * quoted text of replies (lines starting with ">", and an "On … wrote:" line just
    before them) is excluded: it repeats the original, which is counted on its own.
    (Before issue 18 content.compose_reply quoted nothing; now every reply quotes.)
  * words: lowercased, punctuation stripped (apostrophes inside a word kept, so "week's"
    is one word, "follow-up" two).
  * the parties' names ("Sim123" before issue 18; "Sim" since names made from addresses
    keep letters only) are the simulation's. Unique, they made every body unique and
    every 8-word sequence around them rare. The 8-word
    sequences and the "template" distinct-bodies figure replace them with "<name>": what
    is left is the generator's own text, and what a filter comparing many mailboxes'
    messages sees. The raw distinct-bodies figure (names kept) is printed too.

Figures (the issue's goal beside each):
  * share of messages containing the most common 8-word sequence (each counted once per
    message), top 5 printed, over all messages and over new messages / replies;
  * distinct bodies: share of messages whose body text is unique in the sample;
  * distinct subjects per 1,000 consecutive messages (mean over blocks) and overall;
  * subjects repeated by one mailbox within its 100 most recent messages: subjects only
    (`subject_for`, no bodies), all mailboxes over `--days` days (4 x 30 new messages,
    plus the replies each sends); a repeat is a subject line equal to one among the
    mailbox's previous 99 messages (new messages and replies, in send order);
  * length spread: words and paragraphs per body (min, p5, median, p95, max);
  * languages: a stop-word guess per body (the module has no languages today: en only).

`measure(messages, history=None) -> dict` is importable, with `simulate_day` and
`subject_history`, so the change for issue 18 can be measured the same way (the "after").

Measured before issue 18's change, on 2026-12-01 (default size: 10,000 mailboxes, seed 1;
one process, about 60 s: 11 s composing, 48 s measuring):
  messages: 405,308 (300,000 new, 105,308 replies)
  most common 8-word sequence: in 9.30% of all messages ("happy to adjust if something
    does not fit"; each of the 8 _MIDDLES sentences is in 1/8 of new messages); 12.56%
    of new messages (the issue's 12.7%), 14.46% of replies (1 of 7 _REPLIES);
    16,430 distinct 8-word sequences in all                             [goal <= 0.1%]
  distinct bodies: 100.000% as sent, but only thanks to the unique sim names; names
    masked, 9.26% unique (126,524 different texts; a reply is one of 210)  [goal >= 99.9%]
  distinct subjects per 1,000 consecutive messages: mean 944.4, min 734 (all mailboxes
    interleaved, so consecutive messages come from different mailboxes); overall 3,000:
    the 1,500 of content.SUBJECTS (25 openers x 60 topics) and their "Re: " forms
  subjects repeated by one mailbox within its 100 most recent messages (4 days, 1,619,688
    messages): 4,919 in 3,849 of 10,000 mailboxes, all of them replies ("Re: …" to other
    mailboxes' subjects); none among new messages (subject_for's walk)     [goal 0]
  words per body: min 8, p5 11, median 25, p95 31, max 36; paragraphs: always 3
  languages: en only (100% by the stop-word guess; content.py has no languages)

Measured after issue 18's change, on 2026-12-06 (default size, seed 1; one process,
about 135 s: 58 s composing, 77 s measuring; the machine shared with other work):
  messages: 405,190 (300,000 new, 105,190 replies, each quoting its original)
  most common 8-word sequence: in 0.084% of all messages ("für den kunden noch eine
    zweite meinung braucht"); 0.11% of new messages, 0.29% of replies; 14,050,930
    distinct 8-word sequences                                           [goal <= 0.1%]
    (French and Spanish bodies are lengthened until they hold content.MIN_FUNCTION_WORDS
    function words, for rspamd: the sentences that hold them got their variants, or a
    few of them would have been in 0.13% of messages)
  distinct bodies: names masked, 100.00% unique (405,187 different texts; 99.999% as
    sent, the sim names being "Sim" now)                               [goal >= 99.9%]
  distinct subjects per 1,000 consecutive messages: mean 1000.0, min 1000; overall
    401,090 (296,351 among new messages), from subject spaces of en 2,240,000,
    de 1,440,000, fr 729,000, es 729,000 subjects
  subjects repeated by one mailbox within its 100 most recent messages (4 days,
    1,619,688 messages): 0, replies included                                [goal 0]
    (new messages by the walk; a reply's "Re: …" repeats only if two mailboxes sent the
    replier the same subject: about 1 in the subject space per pair of its originals;
    4,919 repeats before, 6 with the first, smaller spaces of this change, 0 now)
  words per body: min 8, p5 24, median 69, p95 103, max 189 (mean 65.2): English keeps
    its short notes; French, German and Spanish bodies have at least 60 words (rspamd,
    see content.MIN_WORDS); paragraphs 3 to 9 with greeting and sign-off (1 to 6 of body)
  languages (stop-word guess): en 50.0%, de 20.0%, fr 15.0%, es 14.2%, nl 0.8% (German
    read as Dutch)
  compose speed, one core, 20,000 messages (a loop of content.subject_for and
  content.compose): before 43,000-55,000 new messages/s; after 14,400 new messages/s and
  8,000 replies/s (a reply writes its original again to quote it). Most of the
  difference is the longer text; RFC 2047 subjects are now encoded by hand
  (email.header.Header took half the time).

Usage (no database needed):
    .venv/bin/python benchmarks/content_diversity.py [--mailboxes 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import quopri
import random
import re
import sys
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from warmup.engine import content  # noqa: E402

DAY = dt.date(2026, 12, 2)
SLOTS = 30
NGRAM = 8
WINDOW = 100  # a mailbox's most recent messages, for repeated subjects
BLOCK = 1000  # consecutive messages, for distinct subjects per block
SECRET = "content-diversity"  # tokens of a simulation, not a secret
NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_TOKEN_LINE = re.compile(rf"^\s*(?:Ref\s+)?{content.TOKEN_PREFIX}[0-9a-f]+-[0-9a-f]{{10}}\s*$")
_ATTRIBUTION = re.compile(r"^\s*(?:On|Am|Le|El|Il|Op)\b.*:\s*$")

# A few function words per language: enough to tell the languages a generator might use.
_STOPWORDS = {
    "en": {
        "the",
        "and",
        "to",
        "of",
        "you",
        "for",
        "is",
        "on",
        "it",
        "i",
        "we",
        "have",
        "was",
        "me",
        "us",
        "thank",
    },
    "de": {"der", "die", "und", "das", "ist", "nicht", "mit", "für", "ich", "sie", "danke"},
    "fr": {"le", "la", "les", "et", "est", "pour", "vous", "une", "des", "merci", "je"},
    "es": {"el", "los", "las", "que", "y", "para", "por", "una", "gracias", "con", "es"},
    "it": {"il", "che", "per", "una", "sono", "grazie", "non", "di", "della", "con"},
    "nl": {"de", "het", "een", "en", "van", "ik", "voor", "niet", "bedankt", "met"},
    "pt": {"o", "os", "que", "para", "uma", "obrigado", "não", "com", "por", "da"},
}


@dataclass(frozen=True)
class Message:
    """One composed message, as the measure sees it."""

    sender: str
    kind: str  # "new" or "reply"
    subject: str
    raw: bytes  # the whole message as content.py composed it
    names: tuple[str, ...] = ()  # the parties' names, masked in the template figures


# -- simulation ---------------------------------------------------------------------------


def address(n: int) -> str:
    return f"sim{n}@d{n // 3}.sim"


# Mailboxes' languages: half English, a fifth German, the rest French and Spanish.
_MIX = ("en",) * 10 + ("de",) * 4 + ("fr",) * 3 + ("es",) * 3


def language(n: int) -> str:
    return _MIX[(n * 7) % len(_MIX)]


def party(n: int) -> content.Party:
    return content.Party(address(n), "", language(n))


def _recipient(n: int, mailboxes: int, rng: random.Random) -> int:
    while True:
        other = rng.randrange(mailboxes)
        if other // 3 != n // 3:
            return other


def _parties(sender: content.Party, recipient: content.Party) -> tuple[str, ...]:
    return (sender.first_name, recipient.first_name)


def simulate_day(
    mailboxes: int, rng: random.Random, *, day: dt.date = DAY, reply_share: float = 0.35
) -> list[Message]:
    """A day's messages in send order: every mailbox's slots 0..29, and replies to a share
    of them one to three slots after the original."""
    slot_id = 0
    replies_due: dict[int, list[tuple[int, int, content.Original]]] = defaultdict(list)
    messages: list[Message] = []
    for slot_no in range(SLOTS + 3):
        for replier, original_sender, original in replies_due.pop(slot_no, []):
            slot_id += 1
            sender = party(replier)
            recipient = party(original_sender)
            composed = content.compose_reply(
                slot_id=slot_id,
                sender=sender,
                recipient=recipient,
                original=original,
                now=NOW,
            )
            reply_subject = content.reply_subject(original.subject)
            messages.append(
                Message(
                    sender.email, "reply", reply_subject, composed.data, _parties(sender, recipient)
                )
            )
        if slot_no >= SLOTS:
            continue
        for n in range(mailboxes):
            slot_id += 1
            to = _recipient(n, mailboxes, rng)
            sender = party(n)
            recipient = party(to)
            subject, topic = content.subject_for(n, day, slot_no, sender.language)
            composed = content.compose(
                slot_id=slot_id,
                sender=sender,
                recipient=recipient,
                subject=subject,
                topic=topic,
                now=NOW,
            )
            messages.append(
                Message(sender.email, "new", subject, composed.data, _parties(sender, recipient))
            )
            if rng.random() < reply_share:
                original = content.Original(slot_id, subject, composed.message_id, NOW, topic)
                replies_due[slot_no + rng.randint(1, 3)].append((to, n, original))
    return messages


def subject_history(
    mailboxes: int, days: int, rng: random.Random, *, reply_share: float = 0.35
) -> list[tuple[str, str]]:
    """(sender, subject) of every message sent over `days` days, in send order, subjects
    only (no bodies: cheap enough for every mailbox)."""
    events: list[tuple[int, int, str, str]] = []  # (time, order, sender, subject)
    order = 0
    for d in range(days):
        day = DAY + dt.timedelta(days=d)
        for slot_no in range(SLOTS):
            at = d * (SLOTS + 3) + slot_no
            for n in range(mailboxes):
                subject = content.subject_for(n, day, slot_no, language(n))[0]
                events.append((at, order, address(n), subject))
                order += 1
                if rng.random() < reply_share:
                    to = _recipient(n, mailboxes, rng)
                    reply = content.reply_subject(subject)
                    events.append((at + rng.randint(1, 3), order, address(to), reply))
                    order += 1
    events.sort()
    return [(sender, subject) for _, _, sender, subject in events]


# -- measure ------------------------------------------------------------------------------


def plain_text(raw: bytes) -> str:
    """The decoded text/plain part of a message content.py composed."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    match = re.search(rb'boundary="([^"]+)"', head)
    parts = rest.split(b"--" + match.group(1)) if match else [raw]
    for part in parts:
        part_head, _, part_body = part.partition(b"\r\n\r\n")
        if b"text/plain" in part_head.lower():
            if b"quoted-printable" in part_head.lower():
                part_body = quopri.decodestring(part_body)
            return part_body.decode("utf-8", "replace").replace("\r\n", "\n").strip("\n")
    return ""


def content_of(text: str) -> str:
    """The body's own text: without the signature (from "--" on: the token line), token
    lines, and quoted lines of a reply (with their "On … wrote:" attribution)."""
    kept: list[str] = []
    for line in text.split("\n"):
        if line.rstrip() in ("--", "-- "):
            break
        if _TOKEN_LINE.match(line):
            continue
        if line.lstrip().startswith(">"):
            while kept and (not kept[-1].strip() or _ATTRIBUTION.match(kept[-1])):
                if _ATTRIBUTION.match(kept.pop()):
                    break
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def mask(text: str, names: Iterable[str]) -> str:
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(name)}\b", "<name>", text, flags=re.IGNORECASE)
    return text


def language_of(words: list[str]) -> str:
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] else "unknown"


def spread(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)

    def rank(q: float) -> int:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return {
        "min": ordered[0],
        "p5": rank(0.05),
        "median": rank(0.5),
        "p95": rank(0.95),
        "max": ordered[-1],
        "mean": sum(ordered) / len(ordered),
    }


def subject_repeats(history: Iterable[tuple[str, str]], window: int = WINDOW) -> dict:
    """Messages whose subject equals one among the same mailbox's previous `window - 1`."""
    recent: dict[str, deque[str]] = defaultdict(lambda: deque(maxlen=window - 1))
    sent: Counter[str] = Counter()
    repeats = replies = 0
    repeating: set[str] = set()
    for sender, subject in history:
        box = recent[sender]
        key = subject.strip().lower()
        if key in box:
            repeats += 1
            replies += key.startswith("re:")
            repeating.add(sender)
        box.append(key)
        sent[sender] += 1
    full = sum(1 for count in sent.values() if count >= window)
    return {
        "messages": sum(sent.values()),
        "mailboxes": len(sent),
        "mailboxes_with_window": full,
        "repeats": repeats,
        "repeats_of_replies": replies,  # "Re: …" lines: replies to others' messages
        "mailboxes_repeating": len(repeating),
    }


def measure(messages: list[Message], history: Iterable[tuple[str, str]] | None = None) -> dict:
    """The diversity figures of `messages` (in send order). `history`: (sender, subject)
    in send order for the repeated-subjects figure; by default the messages' own."""
    grams: Counter[int] = Counter()
    grams_by_kind: dict[str, Counter[int]] = {"new": Counter(), "reply": Counter()}
    kinds: Counter[str] = Counter()
    bodies: Counter[str] = Counter()
    templates: Counter[str] = Counter()
    word_counts: list[int] = []
    paragraph_counts: list[int] = []
    languages: Counter[str] = Counter()
    masked_words: list[list[str]] = []
    for message in messages:
        body = content_of(plain_text(message.raw))
        template = mask(body, message.names)
        bodies[body] += 1
        templates[template] += 1
        words = words_of(template)
        masked_words.append(words)
        seen = {hash(tuple(words[i : i + NGRAM])) for i in range(len(words) - NGRAM + 1)}
        grams.update(seen)
        grams_by_kind.setdefault(message.kind, Counter()).update(seen)
        kinds[message.kind] += 1
        word_counts.append(len(words_of(body)))
        paragraph_counts.append(sum(1 for p in re.split(r"\n\s*\n", body) if p.strip()))
        languages[language_of(words)] += 1

    total = len(messages)
    top = grams.most_common(20)  # ties are put in text order below, the first 5 kept
    wanted = {h for h, _ in top}
    text_of: dict[int, str] = {}
    for words in masked_words:  # the words of the top sequences, found again by hash
        for i in range(len(words) - NGRAM + 1):
            gram = tuple(words[i : i + NGRAM])
            h = hash(gram)
            if h in wanted and h not in text_of:
                text_of[h] = " ".join(gram)
        if len(text_of) == len(wanted):
            break
    by_kind = {}
    for kind, counter in grams_by_kind.items():
        if kinds[kind]:
            count = counter.most_common(1)[0][1] if counter else 0
            by_kind[kind] = {"messages": kinds[kind], "top_share": count / kinds[kind]}

    subjects = [m.subject for m in messages]
    blocks = [len(set(subjects[i : i + BLOCK])) for i in range(0, total - BLOCK + 1, BLOCK)]
    return {
        "messages": total,
        "kinds": dict(kinds),
        "top_ngrams": sorted(
            ((text_of.get(h, "?"), count / total) for h, count in top),
            key=lambda pair: (-pair[1], pair[0]),
        )[:5],
        "top_ngram_share": top[0][1] / total if top else 0.0,
        "top_ngram_share_by_kind": by_kind,
        "distinct_ngrams": len(grams),
        "distinct_bodies": sum(c for c in bodies.values() if c == 1) / total,
        "distinct_templates": sum(c for c in templates.values() if c == 1) / total,
        "different_templates": len(templates),
        "subjects_per_1000": sum(blocks) / len(blocks) if blocks else float("nan"),
        "subjects_per_1000_min": min(blocks) if blocks else 0,
        "distinct_subjects": len(set(subjects)),
        "distinct_subjects_new": len({m.subject for m in messages if m.kind == "new"}),
        "repeats": subject_repeats(
            history if history is not None else ((m.sender, m.subject) for m in messages)
        ),
        "words": spread(word_counts),
        "paragraphs": spread(paragraph_counts),
        "languages": {lang: count / total for lang, count in languages.most_common()},
    }


# -- report -------------------------------------------------------------------------------


def _spread_line(s: dict) -> str:
    return (
        f"min {s['min']}, p5 {s['p5']}, median {s['median']}, p95 {s['p95']}, max {s['max']}"
        f" (mean {s['mean']:.1f})"
    )


def report(figures: dict) -> Iterator[str]:
    f = figures
    kinds = ", ".join(f"{count:,} {kind}" for kind, count in f["kinds"].items())
    yield f"messages measured: {f['messages']:,} ({kinds})"
    yield (
        f"most common 8-word sequence, share of messages: {f['top_ngram_share']:.3%}"
        "   [goal <= 0.1%; issue: 12.7%]"
    )
    for kind, k in f["top_ngram_share_by_kind"].items():
        yield f"    among {kind} messages only ({k['messages']:,}): {k['top_share']:.2%}"
    yield "    top 5 (names masked as <name>):"
    for text, share in f["top_ngrams"]:
        yield f"      {share:6.2%}  {text}"
    yield f"    distinct 8-word sequences: {f['distinct_ngrams']:,}"
    yield (
        f"distinct bodies, names masked (the generator's text): {f['distinct_templates']:.2%}"
        f" unique; {f['different_templates']:,} different texts   [goal >= 99.9%]"
    )
    yield f"distinct bodies, as sent (unique sim names included): {f['distinct_bodies']:.3%}"
    yield (
        f"distinct subjects per 1,000 consecutive messages: mean {f['subjects_per_1000']:.1f},"
        f" min {f['subjects_per_1000_min']} (in send order, all mailboxes interleaved)"
        "   [no number in the issue; it counted 750 subjects in 20,000 messages]"
    )
    yield (
        f"distinct subjects overall: {f['distinct_subjects']:,}"
        f" ({f['distinct_subjects_new']:,} among new messages; subject spaces:"
        f" {', '.join(f'{c} {content.library(c).subjects:,}' for c in content.LANGUAGES)})"
    )
    r = f["repeats"]
    yield (
        f"subjects repeated by one mailbox within its {WINDOW} most recent messages:"
        f" {r['repeats']:,} in {r['mailboxes_repeating']:,} mailboxes"
        f" (of {r['mailboxes']:,}, {r['mailboxes_with_window']:,} with >= {WINDOW} messages;"
        f" {r['messages']:,} messages)   [goal 0]"
    )
    yield (
        f"    of which replies (Re: …): {r['repeats_of_replies']:,};"
        f" new messages: {r['repeats'] - r['repeats_of_replies']:,}"
    )
    yield f"words per body: {_spread_line(f['words'])}   [goal: a wide spread]"
    yield f"paragraphs per body: {_spread_line(f['paragraphs'])}"
    languages = ", ".join(f"{lang} {share:.1%}" for lang, share in f["languages"].items())
    yield f"languages (stop-word guess): {languages}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mailboxes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reply-share", type=float, default=0.35)
    parser.add_argument("--days", type=int, default=4, help="days of subjects for repeats")
    args = parser.parse_args()

    started = time.perf_counter()
    messages = simulate_day(args.mailboxes, random.Random(args.seed), reply_share=args.reply_share)
    composed = time.perf_counter()
    history = subject_history(
        args.mailboxes, args.days, random.Random(args.seed + 1), reply_share=args.reply_share
    )
    figures = measure(messages, history)
    done = time.perf_counter()
    print(
        f"{args.mailboxes:,} mailboxes x {SLOTS} slots on {DAY}, replies to"
        f" {args.reply_share:.0%}; repeats over {args.days} days; seed {args.seed}"
    )
    for line in report(figures):
        print(line)
    print(
        f"runtime: compose {composed - started:.1f} s"
        f" ({len(messages) / (composed - started):,.0f} messages/s with the simulation),"
        f" measure {done - composed:.1f} s"
    )


if __name__ == "__main__":
    main()
