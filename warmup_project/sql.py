"""The hand-written SQL of warmup_project, by name (each app keeps its own in
`<app>/sql.py`): parameters are always bound, never formatted into the text."""

# The database's clock (warmup_project.db.db_now).
NOW = "SELECT now()"
# /healthz: does the database answer?
PING = "SELECT 1"
# One login throttle at a time per client key, until the transaction ends
# (warmup_project.logins.LoginThrottle): (lock space, the throttle's cache key).
LOCK_THROTTLE_KEY = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
