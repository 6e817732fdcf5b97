"""Natural-looking warmup messages and replies, each carrying a warmup token.

The token stands in the `X-Warmup-Token` header (what the engagement side searches and
what users filter on) and on the last line of the body. It is derived from the slot id
with an HMAC, so a token cannot be forged and maps back to its send.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html
import quopri
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.header import Header
from email.utils import format_datetime, formataddr, make_msgid

from accounts.models import email_domain

TOKEN_HEADER = "X-Warmup-Token"
TOKEN_PREFIX = "wu"

_OPENERS = (
    "Quick question about",
    "Following up on",
    "Thoughts on",
    "A note about",
    "Update on",
    "Checking in about",
    "Ideas for",
    "Notes from",
    "Next steps for",
    "Feedback on",
    "Plans for",
    "Question regarding",
    "Re-thinking",
    "Catching up on",
    "Draft for",
    "Summary of",
    "Reminder about",
    "Coffee chat about",
    "Small favour re",
    "Your take on",
    "Agenda for",
    "Recap:",
    "Heads-up on",
    "Proposal for",
    "Numbers for",
)
_TOPICS = (
    "the quarterly review",
    "next week's call",
    "the onboarding doc",
    "our roadmap",
    "the budget sheet",
    "the client workshop",
    "the hiring plan",
    "the new landing page",
    "the Q3 campaign",
    "the team offsite",
    "the pricing page",
    "the support backlog",
    "the partner intro",
    "Friday's demo",
    "the product launch",
    "the analytics report",
    "the vendor contract",
    "the design sprint",
    "the newsletter",
    "the migration plan",
    "the conference talk",
    "the case study",
    "the holiday schedule",
    "the sales deck",
    "the customer survey",
    "the blog post",
    "the SEO audit",
    "the webinar",
    "the API docs",
    "the training session",
    "the invoice process",
    "the board update",
    "the release notes",
    "the podcast episode",
    "the trade show",
    "the referral program",
    "the style guide",
    "the security review",
    "the office move",
    "the welcome pack",
    "the research notes",
    "the renewal",
    "the pilot project",
    "the content calendar",
    "the weekly sync",
    "the feature request",
    "the user interviews",
    "the retro",
    "the kickoff",
    "the forecast",
    "the brand refresh",
    "the data cleanup",
    "the follow-up emails",
    "the checklist",
    "the timeline",
    "the shared folder",
    "the meeting notes",
    "the proposal draft",
    "the intro video",
    "the pricing test",
)
_GREETINGS = ("Hi {name},", "Hello {name},", "Hey {name},", "Good morning {name},", "{name},")
_LINES = (
    "I wanted to get your thoughts on {topic} before we go further.",
    "Could you take a look at {topic} when you have a moment?",
    "I put together a few notes on {topic} and would love a second pair of eyes.",
    "We are close on {topic}; a couple of details are still open.",
    "Following our last conversation, here is where {topic} stands.",
    "I think {topic} could be simpler than we planned.",
    "Do you have ten minutes this week to talk through {topic}?",
    "A colleague asked me about {topic}, and I pointed them your way.",
    "Nothing urgent, but {topic} came up again today.",
    "I have updated {topic} with the changes we discussed.",
)
_MIDDLES = (
    "Let me know if the timing works for you.",
    "Happy to adjust if something does not fit.",
    "No rush at all; whenever suits you is fine.",
    "I have left a few comments where I was unsure.",
    "It should only take a few minutes to go through.",
    "I am curious whether you see it the same way.",
    "If it helps, I can share the earlier version too.",
    "Tell me what you would change first.",
)
_CLOSINGS = ("Thanks,", "Best,", "Cheers,", "Kind regards,", "All the best,", "Talk soon,")
_REPLIES = (
    "Thanks for sending this over, I will take a look today.",
    "Looks good to me. One small comment, but nothing blocking.",
    "Got it, thank you! Let us go ahead as planned.",
    "Appreciate the update. I will get back to you by Friday.",
    "Thanks! This is helpful. I will share it with the team.",
    "Sounds great, count me in.",
    "Thank you, that makes sense. Talk soon.",
)

_PAIRS = tuple((opener, topic) for topic in _TOPICS for opener in _OPENERS)
SUBJECTS = tuple(f"{opener} {topic}" for opener, topic in _PAIRS)
_STEP = 7919  # a prime that does not divide len(SUBJECTS): the walk visits every subject


def subject_for(sender_id: int, day: dt.date, slot_no: int) -> tuple[str, str]:
    """(subject, topic) of a slot. Walks the subject list with a per-mailbox offset: no
    subject repeats within len(SUBJECTS) consecutive positions, and a mailbox's 100
    consecutive messages span far fewer."""
    position = day.toordinal() * 128 + slot_no
    index = (sender_id * 104729 + position * _STEP) % len(_PAIRS)
    return SUBJECTS[index], _PAIRS[index][1]


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


@dataclass(frozen=True)
class Party:
    email: str
    name: str = ""

    @property
    def domain(self) -> str:
        return email_domain(self.email)

    @property
    def first_name(self) -> str:
        return (self.name or self.email.split("@", 1)[0]).split()[0].split(".")[0].capitalize()


@dataclass(frozen=True)
class Composed:
    message_id: str
    data: bytes = field(repr=False)


def _header(value: str) -> str:
    """A header value, RFC 2047-encoded only when it is not plain ASCII."""
    return value if value.isascii() else Header(value, "utf-8").encode()


def _one_line(value: str) -> str:
    """`value` without line breaks or other unprintable characters, spaces collapsed."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


def _address(party: Party) -> str:
    # The doors refuse control characters in display names; this does not rely on it: a
    # CR/LF that reached a header line would start a header (Bcc:, …) of the owner's own.
    return formataddr((_one_line(party.name), party.email), charset="utf-8")


def _message(
    sender: Party,
    recipient: Party,
    subject: str,
    text: str,
    now: dt.datetime,
    token: str,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> Composed:
    """multipart/alternative (text and HTML), UTF-8, quoted-printable. Built as text
    rather than through email.message, which costs milliseconds a message: the engine
    composes millions a day."""
    message_id = make_msgid(domain=sender.domain)
    boundary = f"=_{secrets.token_hex(12)}"
    body = f"{text}\n\n--\nRef {token}\n"
    paragraphs = "".join(
        f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n")
    )
    html_body = (
        f'<html><body>{paragraphs}<p style="color:#999;font-size:11px">Ref {token}</p>'
        "</body></html>"
    )
    headers = [
        ("From", _address(sender)),
        ("To", _address(recipient)),
        ("Subject", _header(subject)),
        ("Date", format_datetime(now)),
        ("Message-ID", message_id),
        *extra_headers,
        (TOKEN_HEADER, token),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    lines = [f"{name}: {value}" for name, value in headers]
    for subtype, part in (("plain", body), ("html", html_body)):
        lines += [
            "",
            f"--{boundary}",
            f'Content-Type: text/{subtype}; charset="utf-8"',
            "Content-Transfer-Encoding: quoted-printable",
            "",
            quopri.encodestring(part.replace("\n", "\r\n").encode()).decode(),
        ]
    lines += ["", f"--{boundary}--", ""]
    return Composed(message_id, "\r\n".join(lines).encode())


def compose(
    *,
    sender: Party,
    recipient: Party,
    subject: str,
    topic: str,
    token: str,
    now: dt.datetime,
    rng: random.Random,
) -> Composed:
    text = "\n\n".join(
        [
            rng.choice(_GREETINGS).format(name=recipient.first_name),
            f"{rng.choice(_LINES).format(topic=topic)} {rng.choice(_MIDDLES)}",
            f"{rng.choice(_CLOSINGS)}\n{sender.first_name}",
        ]
    )
    return _message(sender, recipient, subject, text, now, token)


def compose_reply(
    *,
    original_subject: str,
    original_message_id: str,
    original_references: str,
    sender: Party,
    recipient: Party,
    token: str,
    now: dt.datetime,
    rng: random.Random,
) -> Composed:
    """A reply from `sender` (the original's recipient) back to `recipient`, threaded."""
    subject = (
        original_subject
        if original_subject.lower().startswith("re:")
        else f"Re: {original_subject}"
    )
    text = "\n\n".join(
        [
            rng.choice(_GREETINGS).format(name=recipient.first_name),
            rng.choice(_REPLIES),
            f"{rng.choice(_CLOSINGS)}\n{sender.first_name}",
        ]
    )
    references = f"{original_references} {original_message_id}".strip()
    return _message(
        sender,
        recipient,
        subject,
        text,
        now,
        token,
        extra_headers=[("In-Reply-To", original_message_id), ("References", references)],
    )
