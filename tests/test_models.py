from accounts.models import Mailbox


def test_mailbox_round_trip(db, make_mailbox):
    box = make_mailbox(smtp_password="hunter2")
    again = Mailbox.objects.get(pk=box.pk)
    assert again.smtp_password == "hunter2"
