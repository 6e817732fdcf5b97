"""The test suite's settings: the project's own, with the development switches `make run`
also turns on. DEBUG (off unless set) gives the development keys and localhost; private
hosts let mailboxes point at the tests' SMTP and IMAP servers on loopback. An explicit
environment still wins, and the subprocesses the tests start inherit both."""

import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("WARMUP_ALLOW_PRIVATE_HOSTS", "true")

from warmup_project.settings import *  # noqa: F403
