"""Warmup messages: varied, well-formed, tokened; replies threaded."""

import datetime as dt
import random
from email import message_from_bytes, policy

from hypothesis import given
from hypothesis import strategies as st

from warmup.engine import content

NOW = dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC)
SECRET = "token-secret"


def parse(composed: content.Composed):
    return message_from_bytes(composed.data, policy=policy.default)


def test_a_hundred_consecutive_messages_never_repeat_a_subject():
    for sender_id in (1, 2, 77, 10_001):
        subjects = []
        day = dt.date(2026, 11, 1)
        while len(subjects) < 100:  # 30 a day, day after day
            subjects += [content.subject_for(sender_id, day, n)[0] for n in range(30)]
            day += dt.timedelta(days=1)
        assert len(set(subjects[:100])) == 100


def test_mailboxes_do_not_share_one_script():
    day = dt.date(2026, 11, 28)
    firsts = {content.subject_for(sender, day, 0)[0] for sender in range(200)}
    assert len(firsts) > 150


@given(slot_id=st.integers(1, 2**62))
def test_token_round_trip(slot_id):
    token = content.make_token(slot_id, SECRET)
    assert content.slot_id_of(token, SECRET) == slot_id
    assert content.slot_id_of(token, "another-secret") is None
    assert content.slot_id_of(token[:-1] + ("0" if token[-1] != "0" else "1"), SECRET) is None


def test_junk_tokens_are_refused():
    for junk in ("", "wu", "wu-", "wuzz-123", "xx12-abc", "wu12"):
        assert content.slot_id_of(junk, SECRET) is None


def test_message_is_well_formed_mime():
    composed = content.compose(
        sender=content.Party("anna.berg@sender.test", "Anna Bérg"),
        recipient=content.Party("tom@recipient.test", "Tom"),
        subject="Thoughts on the roadmap",
        topic="the roadmap",
        token=content.make_token(42, SECRET),
        now=NOW,
        rng=random.Random(3),
    )
    message = parse(composed)
    assert message["From"].addresses[0].display_name == "Anna Bérg"
    assert message["From"].addresses[0].addr_spec == "anna.berg@sender.test"
    assert message["To"].addresses[0].addr_spec == "tom@recipient.test"
    assert message["Subject"] == "Thoughts on the roadmap"
    assert message["Message-ID"] == composed.message_id
    assert composed.message_id.endswith("@sender.test>")
    assert message["Date"].datetime == NOW
    assert message[content.TOKEN_HEADER] == content.make_token(42, SECRET)
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Tom" in text and "Anna" in text and "the roadmap" in text
    assert content.make_token(42, SECRET) in text and content.make_token(42, SECRET) in html
    assert not message.defects


def test_bodies_vary():
    bodies = {
        parse(
            content.compose(
                sender=content.Party("a@s.test"),
                recipient=content.Party("b@r.test"),
                subject="x",
                topic="the plan",
                token="wu1-x",
                now=NOW,
                rng=random.Random(seed),
            )
        )
        .get_body(("plain",))
        .get_content()
        for seed in range(50)
    }
    assert len(bodies) > 40


def test_reply_is_threaded():
    original = content.compose(
        sender=content.Party("a@s.test"),
        recipient=content.Party("b@r.test"),
        subject="Plans for the webinar",
        topic="the webinar",
        token="wu1-x",
        now=NOW,
        rng=random.Random(1),
    )
    reply = content.compose_reply(
        original_subject="Plans for the webinar",
        original_message_id=original.message_id,
        original_references="<root@s.test>",
        sender=content.Party("b@r.test"),
        recipient=content.Party("a@s.test"),
        token="wu2-y",
        now=NOW,
        rng=random.Random(2),
    )
    message = parse(reply)
    assert message["Subject"] == "Re: Plans for the webinar"
    assert message["In-Reply-To"] == original.message_id
    assert message["References"] == f"<root@s.test> {original.message_id}"
    assert reply.message_id.endswith("@r.test>")
    again = content.compose_reply(
        original_subject="Re: Plans for the webinar",
        original_message_id=reply.message_id,
        original_references=message["References"],
        sender=content.Party("a@s.test"),
        recipient=content.Party("b@r.test"),
        token="wu3-z",
        now=NOW,
        rng=random.Random(3),
    )
    assert parse(again)["Subject"] == "Re: Plans for the webinar"  # no "Re: Re:"


def header_lines(composed: content.Composed) -> list[bytes]:
    head = composed.data.split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")


def test_a_display_name_cannot_add_a_header():
    # Display names come from mailbox owners; the doors refuse line breaks, and compose
    # must not trust that: a CR/LF in a header value starts a header of the writer's own.
    evil = content.Party("ann@s.test", "Ann\r\nBcc: x@y\x00\x7f")
    for composed in (
        content.compose(
            sender=evil,
            recipient=content.Party("tom@r.test", "Tom\nBcc: z@w"),
            subject="Plans for the webinar",
            topic="the webinar",
            token="wu1-x",
            now=NOW,
            rng=random.Random(1),
        ),
        content.compose_reply(
            original_subject="Plans for the webinar",
            original_message_id="<root@r.test>",
            original_references="",
            sender=evil,
            recipient=content.Party("tom@r.test", "Tom\rBcc: z@w"),
            token="wu2-y",
            now=NOW,
            rng=random.Random(2),
        ),
    ):
        lines = header_lines(composed)
        assert not [line for line in lines if line.lower().startswith(b"bcc")]
        assert not [line for line in lines if b"\r" in line or b"\n" in line or b"\x00" in line]
        message = parse(composed)
        assert message["Bcc"] is None
        assert message["From"].addresses[0].addr_spec == "ann@s.test"
        assert message["From"].addresses[0].display_name == "Ann Bcc: x@y"
        assert message["To"].addresses[0].addr_spec == "tom@r.test"
        assert not message.defects
