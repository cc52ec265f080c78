"""``jobs``: list the training runs; ``jobs stop ID`` stops one (the admin token needed)."""

from __future__ import annotations

import argparse
import json

from embedlab.errors import EmbedLabError
from embedlab.settings import get_settings


def add_jobs_command(commands) -> None:
    """The ``jobs`` subcommand."""
    jobs = commands.add_parser("jobs", help="list the queued, running and ended training runs; jobs stop ID")
    jobs.add_argument("action", nargs="?", choices=("stop",), help="stop: stop or cancel run ID (admin token needed)")
    jobs.add_argument("job_id", nargs="?", metavar="ID", help="the run to stop (its id in the list)")
    jobs.add_argument("--json", action="store_true", help="print one JSON list")


def run_jobs(args: argparse.Namespace) -> int:
    import hmac

    from embedlab.training.queue import ADMIN_ENV, JobQueue, token_hash

    jobs = JobQueue()
    if args.action == "stop":
        if not args.job_id:
            raise EmbedLabError("jobs stop needs the run's id: `python -m embedlab jobs` lists them.")
        secret = get_settings().admin_token
        token = secret.get_secret_value() if secret is not None else ""
        stored = jobs.stored_admin_hash()
        if not token:
            raise EmbedLabError(f"jobs stop is for the admin: set {ADMIN_ENV} to the server's admin token.")
        if not stored or not hmac.compare_digest(stored, token_hash(token)):
            raise EmbedLabError(
                f"{ADMIN_ENV} does not match the admin token the server or its workers were started with."
            )
        if not jobs.stop(args.job_id, admin=True, keep_partial=False):  # the teacher's stop keeps nothing
            print(f"run {args.job_id} is not queued or running: nothing to stop")
            return 0
        print(f"run {args.job_id}: stop asked (a queued run is cancelled; a running one stops after its step)")
        return 0
    rows = [view.as_row() for view in jobs.views()]
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print("no training runs")
        return 0
    columns = ("id", "name", "method", "state", "position", "progress", "owner", "created", "finished")
    table = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in table)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for line in table:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    return 0
