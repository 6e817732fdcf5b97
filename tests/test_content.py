"""Warmup messages: varied, well-formed, written again the same from the slot id; replies
threaded and quoting; tag modes; the operator's own texts; the language rule."""

import datetime as dt
import random
import re
from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import writing_language
from warmup.engine import content
from warmup_project import config, content_files

NOW = dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC)
SECRET = "token-secret"
ANNA = content.Party("anna.berg@sender.test", "Anna Bérg")
TOM = content.Party("tom@recipient.test", "Tom")


def parse(composed: content.Composed):
    return message_from_bytes(composed.data, policy=policy.default)


def plain(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def new(slot_id=42, sender=ANNA, recipient=TOM, **kwargs) -> content.Composed:
    subject, topic = content.subject_for(7, NOW.date(), slot_id % 30, sender.language)
    return content.compose(
        slot_id=slot_id,
        sender=sender,
        recipient=recipient,
        subject=subject,
        topic=topic,
        now=NOW,
        **kwargs,
    )


@pytest.mark.parametrize("language", content.LANGUAGES)
def test_a_hundred_consecutive_messages_never_repeat_a_subject(language):
    for sender_id in (1, 2, 77, 10_001):
        subjects = []
        day = dt.date(2026, 11, 1)
        while len(subjects) < 100:  # 30 a day, day after day
            subjects += [content.subject_for(sender_id, day, n, language)[0] for n in range(30)]
            day += dt.timedelta(days=1)
        assert len(set(subjects[:100])) == 100


@pytest.mark.parametrize("language", content.LANGUAGES)
def test_no_subject_ends_with_a_question_mark(language):
    # rspamd scores SUBJECT_ENDS_QUESTION 1.0; the body asks, the subject names.
    qualifiers = content.library(language).qualifiers
    day = dt.date(2026, 11, 1)
    subjects = [
        content.subject_for(sender, day + dt.timedelta(days=d), n, language)[0]
        for sender in range(40)
        for d in range(10)
        for n in range(30)
    ]
    assert len({s for s in subjects}) > 10 * len(qualifiers)
    assert not [s for s in subjects if s.rstrip().endswith("?")]


def test_mailboxes_do_not_share_one_script():
    day = dt.date(2026, 11, 28)
    firsts = {content.subject_for(sender, day, 0)[0] for sender in range(200)}
    assert len(firsts) > 190


@given(slot_id=st.integers(1, 2**62))
def test_token_round_trip(slot_id):
    token = content.make_token(slot_id, SECRET)
    assert content.slot_id_of(token, SECRET) == slot_id
    assert content.slot_id_of(token, "another-secret") is None
    assert content.slot_id_of(token[:-1] + ("0" if token[-1] != "0" else "1"), SECRET) is None


def test_junk_tokens_are_refused():
    for junk in ("", "wu", "wu-", "wuzz-123", "xx12-abc", "wu12"):
        assert content.slot_id_of(junk, SECRET) is None


def test_message_is_well_formed_mime_and_unmarked_by_default():
    composed = new()
    message = parse(composed)
    assert message["From"].addresses[0].display_name == "Anna Bérg"
    assert message["Message-ID"] == composed.message_id
    assert composed.message_id.endswith("@sender.test>")
    text = plain(message)
    assert text.startswith("Hi Tom,") or "Tom" in text.split("\n")[0]
    assert content.TOKEN_HEADER not in message
    assert "wu" + "2a-" not in composed.data.decode()  # no token anywhere (slot 42 = 0x2a)
    assert "Ref " not in text


@pytest.mark.parametrize("mode", ["header", "body", "subject"])
def test_tag_modes_put_the_token_where_asked(mode):
    token = content.make_token(42, SECRET)
    message = parse(new(token=token, tag_mode=mode))
    assert (message[content.TOKEN_HEADER] == token) is (mode == "header")
    assert (f"Ref {token}" in plain(message)) is (mode == "body")
    assert message["Subject"].endswith(f"[{token}]") is (mode == "subject")


def test_a_tag_mode_needs_a_token_and_a_known_name():
    with pytest.raises(ValueError, match="needs a token"):
        new(tag_mode="header")
    with pytest.raises(ValueError, match="unknown tag mode"):
        new(token="wu1-0", tag_mode="footer")


def test_text_is_the_same_every_time_for_a_slot_and_differs_between_slots():
    again = [content.body_text(slot_id=42, sender=ANNA, recipient=TOM, topic="the roadmap")]
    again.append(content.body_text(slot_id=42, sender=ANNA, recipient=TOM, topic="the roadmap"))
    assert again[0] == again[1]
    assert again[0] in plain(parse(new(slot_id=42))) or True  # topic differs there
    texts = {
        content.body_text(slot_id=n, sender=ANNA, recipient=TOM, topic="the roadmap")
        for n in range(500)
    }
    assert len(texts) == 500


def test_kinds_lengths_and_parts_vary():
    bodies = [parse(new(slot_id=n)) for n in range(400)]
    words = [len(plain(m).split()) for m in bodies]
    assert min(words) < 40 < max(words)
    plain_only = sum(not m.is_multipart() for m in bodies)
    assert 0.15 * 400 < plain_only < 0.45 * 400
    assert all(m.get_body(preferencelist=("html",)) for m in bodies if m.is_multipart())


def test_the_signature_is_the_mailboxs_own_on_every_message():
    signatures = {re.split(r"\n-- ?\n", plain(parse(new(slot_id=n))))[1].strip() for n in range(50)}
    assert len(signatures) == 1 and signatures.pop().startswith("Anna Bérg\n")
    assert "Sender" in plain(parse(new(slot_id=1)))  # the company, from the domain


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en", "On Sat, Nov 28, 2026 at 09:30, Anna Bérg wrote:"),
        ("de", "Am Sa., 28. Nov. 2026 um 09:30 schrieb Anna Bérg:"),
        ("fr", "Le sam. 28 nov. 2026 à 09:30, Anna Bérg a écrit :"),
        ("es", "El sáb., 28 nov. 2026, 09:30, Anna Bérg escribió:"),
    ],
)
def test_a_reply_quotes_its_original_written_again(language, line):
    anna = content.Party(ANNA.email, ANNA.name, language)
    tom = content.Party(TOM.email, "", language)
    original = new(slot_id=42, sender=anna, recipient=tom)
    subject = parse(original)["Subject"]
    reply = parse(
        content.compose_reply(
            slot_id=43,
            sender=tom,
            recipient=anna,
            original=content.Original(
                slot_id=42,
                subject=subject,
                message_id=original.message_id,
                sent_at=NOW,
                topic=content.subject_for(7, NOW.date(), 42 % 30, language)[1],
                references="<root@x.test>",
            ),
            now=NOW + dt.timedelta(hours=1),
        )
    )
    assert reply["Subject"] == f"Re: {subject}"
    assert reply["In-Reply-To"] == original.message_id
    assert reply["References"] == f"<root@x.test> {original.message_id}"
    own, _, quoted = plain(reply).partition(f"\n\n{line}\n")
    assert quoted, plain(reply)
    written = plain(parse(original)).rstrip("\n")
    assert quoted.rstrip("\n") == "\n".join(f"> {x}" if x else ">" for x in written.split("\n"))
    assert own.strip() and own.strip() not in written


def test_re_is_kept_once():
    assert content.reply_subject("Re: Plans") == "Re: Plans"
    assert content.reply_subject("RE: Plans") == "RE: Plans"
    assert content.reply_subject("Plans") == "Re: Plans"


def test_languages_read_as_themselves():
    for language, word in (("de", " und "), ("fr", " pour "), ("es", " para ")):
        party = content.Party("a@s.test", "", language)
        texts = " ".join(
            content.body_text(slot_id=n, sender=party, recipient=TOM, topic="x") for n in range(50)
        )
        assert word in texts and " the " not in texts


def test_writing_language_rule():
    assert writing_language("fr", "a@x.de", "Europe/Berlin") == "fr"  # the mailbox's choice
    assert writing_language("", "a@x.de", "UTC") == "de"  # then the domain's country
    assert writing_language("", "a@x.es", "Europe/Berlin") == "es"
    assert writing_language("", "a@x.com", "Europe/Paris") == "fr"  # then the zone
    assert writing_language("", "a@x.com", "America/Argentina/Cordoba") == "es"
    assert writing_language("", "a@x.com", "America/New_York") == "en"


def write(folder, name, text):
    (folder / name).write_text(text, encoding="utf-8")


def test_operator_texts_are_mixed_in(tmp_path):
    write(
        tmp_path,
        "en.txt",
        "# ours\n[topics]\nthe zebra catalogue\n\n[paragraphs]\nOur {topic} line\n"
        "goes on for {name}.\n",
    )
    texts = content_files.load(tmp_path)
    day = dt.date(2026, 11, 28)
    topics = {content.subject_for(s, day, 0, "en", texts)[1] for s in range(20_000)}
    assert "the zebra catalogue" in topics
    bodies = [
        content.body_text(slot_id=n, sender=ANNA, recipient=TOM, topic="the plan", texts=texts)
        for n in range(200)
    ]
    assert any("Our the plan line goes on for Tom." in b for b in bodies)


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("it.txt", "[topics]\nx\n", "unexpected file"),
        ("en.txt", "x\n", "text before a section"),
        ("en.txt", "[subjects]\nx\n", "unknown section"),
        ("en.txt", "[paragraphs]\nHi {nme}\n", "unknown placeholder {nme}"),
        ("en.txt", "[topics]\nthe {topic}\n", "unknown placeholder {topic}"),
        ("en.txt", "# nothing\n", "no topics and no paragraphs"),
    ],
)
def test_bad_content_files_are_refused_naming_the_file(tmp_path, name, text, error):
    write(tmp_path, name, text)
    with pytest.raises(content_files.ContentFileError, match=error) as caught:
        content_files.load(tmp_path)
    assert name in str(caught.value)


def test_settings_are_checked_at_start(tmp_path):
    env = {"DEBUG": "true", "WARMUP_TAG_MODE": "footer", "WARMUP_CONTENT_DIR": str(tmp_path)}
    problems = {p.variable: p for p in config.load(env).problems}
    assert "footer" in problems["WARMUP_TAG_MODE"].message
    assert "no language file" in problems["WARMUP_CONTENT_DIR"].message
    write(tmp_path, "de.txt", "[topics]\ndie Messe\n")
    loaded = config.load({**env, "WARMUP_TAG_MODE": "Subject"})
    assert loaded.warmup.tag_mode == "subject"
    assert loaded.warmup.content_texts[0][0] == "de"
    assert config.load({"DEBUG": "true"}).warmup.tag_mode == "none"


def header_lines(composed: content.Composed) -> list[bytes]:
    return composed.data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_a_display_name_cannot_add_a_header():
    # Display names come from mailbox owners; the doors refuse line breaks, and compose
    # must not trust that: a CR/LF in a header value starts a header of the writer's own.
    evil = content.Party("ann@s.test", "Ann\r\nBcc: x@y\x00\x7f")
    tom = content.Party("tom@r.test", "Tom\nBcc: z@w")
    original = content.Original(1, "Plans for the webinar", "<root@r.test>", NOW)
    for composed in (
        content.compose(
            slot_id=1, sender=evil, recipient=tom, subject="Plans", topic="the webinar", now=NOW
        ),
        content.compose_reply(slot_id=2, sender=evil, recipient=tom, original=original, now=NOW),
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


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 33, 64, 100, 1000])
def test_choice_draws_what_random_choice_draws(size):
    """content.choice is rng.choice without the method calls: texts written before it
    (quoted by later replies) must come out the same."""
    items = list(range(size))
    for seed in range(50):
        ours, theirs = random.Random(seed), random.Random(seed)
        assert [content.choice(ours, items) for _ in range(40)] == [
            theirs.choice(items) for _ in range(40)
        ]
        assert ours.random() == theirs.random()  # the same state after
