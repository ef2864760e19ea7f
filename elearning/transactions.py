"""Work that must run after the current transaction commits, and must not break it.

Django's own ``on_commit(..., robust=True)`` would be the tool, but Django 5.2 formats
its log line with ``func.__qualname__``: a ``functools.partial`` has none, so the
error handler itself raises, after the commit, and every later hook is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec

from django.db import transaction
from redis.exceptions import ConnectionError as RedisConnectionError

logger = logging.getLogger(__name__)

P = ParamSpec("P")


@dataclass(frozen=True)
class CommitHook:
    """One piece of after-commit work; its fields stay readable for tests that assert
    what a transaction registered without running it."""

    description: str
    func: Callable[..., object]
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]

    def __call__(self) -> None:
        try:
            self.func(*self.args, **self.kwargs)
        except (OSError, RedisConnectionError) as error:
            # Redis is down: one line per event, not a traceback each.
            logger.error("after commit: %s failed: %s", self.description, error)
        except Exception:
            logger.exception("after commit: %s failed", self.description)


def after_commit(
    description: str, func: Callable[P, object], *args: P.args, **kwargs: P.kwargs
) -> None:
    """Runs ``func(*args, **kwargs)`` once the transaction commits (at once outside one).

    A failure is logged with `description` and swallowed: the write has committed, and
    what it owes the outside world (an event, a task) is recovered from the database by
    `resume`, a REST reload or a sweeper, never by failing the request after the fact.
    """
    transaction.on_commit(CommitHook(description, func, args, kwargs))
