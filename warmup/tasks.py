"""The engine as django-q2 tasks, for deployments that run `qcluster` instead of (or
beside) `run_warmup`. `manage.py setup_schedules` creates their schedules (and the
metric snapshot's, a task of metrics.tasks).

Every task is short and time-boxed, well inside Q_CLUSTER's `timeout` (< `retry`): a
task that django-q2 delivers twice only finds slots that are still due, because a
claim marks them `sending` in one transaction, so nothing is sent twice. A dispatch
task registers as a worker and heartbeats like `run_warmup`; if django-q2 kills it, the
reaper releases its slots.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from django.conf import settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from warmup.engine import workers
from warmup.engine.claim import Shard
from warmup.engine.cycle import CycleStats, Engine
from warmup.engine.engage import engage_pass
from warmup.engine.maintenance import run_maintenance
from warmup.engine.pool import update_pool
from warmup.engine.production import smtp_engine
from warmup.reputation import run as reputation_run
from warmup_project.db import db_now

log = logging.getLogger("warmup.tasks")

# A dispatch task stops claiming after this long (then finishes its batch); the next
# one starts a minute after the last began.
DISPATCH_TIME_BOX_S = 45
# A plan task plans chunks for this long at most; the sweep's next chunks are planned
# by the dispatch tasks between their batches, or by the next plan task.
PLAN_TIME_BOX_S = 60


def _run(engine: Engine, *, plan: bool, time_box_s: float | None, dispatch: bool = True) -> str:
    try:
        stats: CycleStats = engine.run_cycle(plan=plan, time_box_s=time_box_s, dispatch=dispatch)
    finally:
        workers.unregister(engine.worker)
    line = stats.line()
    log.info("%s: %s", engine.worker, line)
    return line


def plan() -> str:
    """Expire, top up, and plan the mailboxes' days chunk by chunk for PLAN_TIME_BOX_S at
    most (no sending): every WARMUP_CRON_INTERVAL_MINUTES."""
    return _run(smtp_engine("q-plan:"), plan=True, time_box_s=PLAN_TIME_BOX_S, dispatch=False)


def dispatch(shard: int = 1, count: int = 1) -> str:
    """Claim and send what is due, planning chunks of a sweep under way between the
    batches, for DISPATCH_TIME_BOX_S: every minute, per shard."""
    engine = smtp_engine(f"q-shard{shard}:", Shard(shard, count))
    return _run(engine, plan=False, time_box_s=DISPATCH_TIME_BOX_S)


def maintenance() -> str:
    """Daily: expire leftovers, reap, and delete what is past its retention."""
    now = db_now()
    done = run_maintenance(now, settings.WARMUP)
    # simplejwt keeps a row per refresh token issued (the blacklist needs it) until flushed.
    tokens, _ = OutstandingToken.objects.filter(expires_at__lte=now).delete()
    return f"{done}; {tokens} expired token rows deleted"


def refresh_pool() -> str:
    """Daily: every mailbox's pool figures over the last 7 days (warmup.engine.pool). Its
    own task, not maintenance's: at 100,000 mailboxes its one statement reads 21 million
    sends and took 109 s on a shared 2-core machine (benchmarks/pool_figures.py)."""
    return f"pool figures of {update_pool(db_now())} mailboxes refreshed"


# An engagement task claims at most this many mailboxes per IMAP session slot: with
# MAILBOX_TIME_BOX_S (45 s, every command included) each, three rounds stay well
# inside Q_CLUSTER's timeout.
ENGAGE_ROUNDS = 3


def engage() -> str:
    """IMAP engagement of the mailboxes due: every minute."""
    config = settings.WARMUP
    stats = engage_pass(
        db_now(),
        settings.SECRET_KEY,
        concurrency=config.imap_concurrency,
        every=dt.timedelta(minutes=config.cron_interval_minutes),
        allow_private=config.allow_private_hosts,
        limit=config.imap_concurrency * ENGAGE_ROUNDS,
    )
    return stats.line()


def check_reputation() -> str:
    """The domain and server checks that are due (warmup.reputation.run.check_due): every
    WARMUP_CRON_INTERVAL_MINUTES, each domain once a day."""
    results = reputation_run.check_due(db_now())
    verdicts = Counter(c.verdict for r in results for c in r.checks.values())
    return f"reputation: {len(results)} targets checked; verdicts {dict(sorted(verdicts.items()))}"
