"""Work that must run after the current transaction commits, and must not break it.

Django's own ``on_commit(..., robust=True)`` would be the tool, but Django 5.2 formats
its log line with ``func.__qualname__``: a ``functools.partial`` has none, so the
error handler itself raises, after the commit, and every later hook is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ParamSpec

from django.db import transaction

logger = logging.getLogger(__name__)

P = ParamSpec("P")


def after_commit(
    description: str, func: Callable[P, object], *args: P.args, **kwargs: P.kwargs
) -> None:
    """Runs ``func(*args, **kwargs)`` once the transaction commits (at once outside one).

    A failure is logged with `description` and swallowed: the write has committed, and
    what it owes the outside world (an event, a task) is recovered from the database by
    `resume`, a REST reload or a sweeper, never by failing the request after the fact.
    """

    def run() -> None:
        try:
            func(*args, **kwargs)
        except Exception:
            logger.exception("after commit: %s failed", description)

    transaction.on_commit(run)
