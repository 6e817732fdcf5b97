"""The production engine: the SMTP transport, the database's clock, settings.WARMUP.
run_warmup and the django-q2 tasks (warmup.tasks) build theirs here; tests and the
simulator build an Engine of their own (a sink, a clock of their own)."""

from __future__ import annotations

import random

from django.conf import settings

from accounts.transport.smtp import SmtpTransport
from warmup.engine import workers
from warmup.engine.claim import Shard
from warmup.engine.cycle import Engine
from warmup_project.db import db_now


def smtp_engine(name_prefix: str = "", shard: Shard | None = None) -> Engine:
    config = settings.WARMUP
    rng = random.Random()
    return Engine(
        config=config,
        transport=SmtpTransport(
            max_concurrent=config.max_concurrent,
            stagger_ms=(config.stagger_min_ms, config.stagger_max_ms),
            rng=rng,
            # No single reply may be waited for longer than the whole batch.
            command_timeout=min(60, config.send_deadline_s),
            deadline_s=config.send_deadline_s,
            allow_private=config.allow_private_hosts,
        ),
        clock=db_now,
        worker=workers.worker_name(name_prefix),
        token_secret=settings.SECRET_KEY,
        rng=rng,
        shard=shard,
    )
