"""`python -m tests.oauth_server COMMAND`: this project's manage.py (run from the repository's
root, with OAUTH_SERVER_* in the environment, as tests/oauth.py does)."""

import os
import sys

from django.core.management import execute_from_command_line

if __name__ == "__main__":
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oauth_server.settings"
    execute_from_command_line(sys.argv)
