"""gunicorn's settings for the web app (`gunicorn --config python:warmup_project.gunicorn
warmup_project.wsgi:application`); each can be overridden on the command line or with
GUNICORN_CMD_ARGS. By default two processes of four threads each (GUNICORN_WORKERS,
GUNICORN_THREADS): a request is a few queries, so threads wait on the database together."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A scrape with detailed metrics at 100,000 mailboxes takes about half a second; nothing
# else comes near this.
timeout = 60
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
# No query strings in the access log: they carry nothing secret today, but paths are
# enough to operate by.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
# gunicorn 25+ opens a control socket under $HOME; the image's user cannot write there and
# nothing uses it.
control_socket_disable = True
