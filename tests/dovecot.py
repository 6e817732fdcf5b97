"""A real Dovecot IMAP server on loopback for the tests (Debian's dovecot-imapd and
dovecot-lmtpd; `.ci/run` installs them): a passwd-file of users with plain passwords, a
static userdb, maildirs in a temporary folder, IMAP and LMTP on free TCP ports.
`dovecot -c FILE` runs it without systemd; `doveadm -c FILE stop` stops it.

With `introspection` (tests/oauth.py) it also takes OAuth 2.0 bearer tokens, AUTHENTICATE
XOAUTH2 and OAUTHBEARER, through a second passdb (`driver = oauth2`) that asks the
authorization server's introspection endpoint about every token: live (`active`) and issued
to the user who logs in (`username`), or refused. A Microsoft 365 app-only token (client
credentials, no user) is taken by a passdb of its own for any mailbox: Dovecot cannot hold
it to the mailboxes its application was granted (see OAUTH_APP_ARGS; tests/oauth_smtp.py
does). Passwords stay for PLAIN and LOGIN; any
user the server knows gets a mailbox (the static userdb takes all)."""

from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import imapclient

if TYPE_CHECKING:
    from tests.oauth import Introspection

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login{oauth_mechanisms}
{oauth_settings}first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
namespace inbox {{
  inbox = yes
  separator = {separator}
  prefix = {prefix}
{spam}}}
{capability}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd{password_mechanisms}
}}
{oauth_passdb}userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u{all_users}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
"""

# A refused token is answered at once: not after Dovecot's 2 s, nor after the penalty it
# adds per failing IP (up to 15 s: every test client is 127.0.0.1). The OAuth tests refuse
# dozens of tokens, and a client must not count on the delay either way.
OAUTH_SETTINGS = """\
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
"""

# Each passdb answers for its own mechanisms: a password never reaches the introspection
# endpoint, a token never the passwd-file. App-only tokens first (OAUTH_APP_ARGS): a user's
# token fails there without a temporary failure, and the user passdb's answer is the last.
OAUTH_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/dovecot-oauth2-app.conf.ext
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/dovecot-oauth2.conf.ext
}}
"""

# Introspection on every login (no token cache), so a token revoked or expired a moment ago
# is refused at once.
OAUTH_ARGS = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
"""

# Microsoft 365 app-only tokens (client credentials): no user, so no `username`; the
# authorization server's introspection gives live tokens Entra ID's `idtyp` ("app" for
# these, "user" for a user's) and lists an app-only token's granted `mailboxes`
# (tests/oauth_server/views.py). Dovecot 2.3.19's oauth2 passdb compares the login with ONE
# attribute, for equality (`username_format` expanded on both sides), and expands no
# variable in introspection_url: it cannot hold the login to one of the granted mailboxes.
# So this passdb takes any live app-only token with the app-only scope for ANY mailbox; the
# per-mailbox grant is enforced by tests/oauth_smtp.py alone.
# How, in 2.3.19: the active check refuses only a PRESENT attribute of another value (a
# user's token: idtyp "user"), so liveness is the username check's: `active` is in every
# answer, `%{if}` maps it to "live" or "dead" and the login (never "false") to "live". A
# missing username attribute would be an internal failure (a temporary one for the
# client), a failed scope check a final refusal: neither may befall a user's token here.
OAUTH_APP_ARGS = """\
introspection_mode = post
introspection_url = {url}
active_attribute = idtyp
active_value = app
username_attribute = active
username_format = %{{if;%u;eq;false;dead;live}}
scope = https://outlook.office365.com/.default
"""


def available() -> bool:
    return shutil.which("dovecot") is not None and shutil.which("doveadm") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    """`with Dovecot({"user@x.test": "password"}) as server:` → server.imap_port."""

    def __init__(
        self,
        users: dict[str, str],
        *,
        separator: str = "/",
        prefix: str = "",
        spam: str | None = "Junk",
        spam_special_use: bool = True,
        sent: str | None = "Sent",
        sent_special_use: bool = True,
        move: bool = True,
        uidplus: bool = True,
        introspection: Introspection | None = None,
    ) -> None:
        """`spam`: a folder created for every user, flagged \\Junk when
        `spam_special_use`; `sent`: likewise, flagged \\Sent (where a mail client, or
        Gmail and Outlook themselves, keep a copy of what was sent); `prefix`: the
        personal namespace's (e.g. "INBOX."); `move=False`, `uidplus=False`: the server
        does not offer MOVE, UIDPLUS; `introspection`: also take bearer tokens (XOAUTH2,
        OAUTHBEARER), checked there."""
        self.users = users
        self.separator = separator
        self.prefix = prefix
        self.spam = spam
        self.spam_special_use = spam_special_use
        self.sent = sent
        self.sent_special_use = sent_special_use
        self.move = move
        self.uidplus = uidplus
        self.introspection = introspection
        self.root = Path(tempfile.mkdtemp(prefix="warmup-dovecot-"))
        self.imap_port = _free_port()
        self.lmtp_port = _free_port()
        self.config = self.root / "dovecot.conf"

    def __enter__(self) -> Dovecot:
        account = pwd.getpwnam("mail") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        self.root.chmod(0o755)
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir()
        for sub in ("mail", "home"):
            os.chown(self.root / sub, account.pw_uid, account.pw_gid)
        oauth = self.introspection is not None
        if self.introspection is not None:
            url = self.introspection.url_with_credentials()
            (self.root / "dovecot-oauth2.conf.ext").write_text(OAUTH_ARGS.format(url=url))
            (self.root / "dovecot-oauth2-app.conf.ext").write_text(OAUTH_APP_ARGS.format(url=url))
        (self.root / "passwd").write_text(
            "".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in self.users.items())
        )
        self.config.write_text(
            CONFIG.format(
                root=self.root,
                uid=account.pw_uid,
                gid=account.pw_gid,
                imap_port=self.imap_port,
                lmtp_port=self.lmtp_port,
                separator=self.separator,
                prefix=self.prefix,
                spam=self._special_folders(),
                oauth_mechanisms=" xoauth2 oauthbearer" if oauth else "",
                oauth_settings=OAUTH_SETTINGS if oauth else "",
                password_mechanisms="\n  mechanisms = plain login" if oauth else "",
                oauth_passdb=OAUTH_PASSDB.format(root=self.root) if oauth else "",
                all_users=" allow_all_users=yes" if oauth else "",
                capability=(
                    ""
                    if self.move and self.uidplus
                    else "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
                    "SORT LITERAL+ NAMESPACE"
                    + (" UIDPLUS" if self.uidplus else "")
                    + (" MOVE" if self.move else "")
                ),
            )
        )
        # Not captured through pipes: the daemon's children would hold them open forever.
        started = subprocess.run(
            [shutil.which("dovecot") or "dovecot", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=30,
        )
        if started.returncode != 0:
            raise RuntimeError(f"dovecot did not start: {self.log()}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.imap_port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"dovecot never listened on {self.imap_port}: {self.log()}")

    def _special_folders(self) -> str:
        """The special folders every user has: spam, sent."""
        blocks = []
        for name, use, flagged in (
            (self.spam, "\\Junk", self.spam_special_use),
            (self.sent, "\\Sent", self.sent_special_use),
        ):
            if name is not None:
                special = f"    special_use = {use}\n" if flagged else ""
                blocks.append(f'  mailbox "{name}" {{\n{special}    auto = create\n  }}\n')
        return "".join(blocks)

    def deliver(self, recipient: str, message: bytes) -> None:
        """Into the recipient's INBOX, through LMTP (as an MTA would)."""
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=30) as lmtp:
            lmtp.sendmail("mta@loopback.test", [recipient], message)

    def append(
        self,
        user: str,
        folder: str,
        message: bytes,
        *,
        received: dt.datetime | None = None,
        flags: tuple[bytes, ...] = (),
    ) -> None:
        """Into any folder (a spam filter's verdict, a Sent copy), through IMAP APPEND;
        `received`: its INTERNALDATE (else now), what SEARCH BEFORE and SINCE compare."""
        client = imapclient.IMAPClient("127.0.0.1", port=self.imap_port, ssl=False, timeout=30)
        try:
            client.login(user, self.users[user])
            client.append(folder, message, flags=flags, msg_time=received)
        finally:
            client.logout()

    def create(self, user: str, folder: str) -> None:
        """A folder of the user's (the Warmup folder an earlier pass made)."""
        client = imapclient.IMAPClient("127.0.0.1", port=self.imap_port, ssl=False, timeout=30)
        try:
            client.login(user, self.users[user])
            client.create_folder(folder)
        finally:
            client.logout()

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        subprocess.run(
            [shutil.which("doveadm") or "doveadm", "-c", str(self.config), "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=30,
        )
        shutil.rmtree(self.root, ignore_errors=True)
