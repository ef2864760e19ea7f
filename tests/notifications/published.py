"""Reads what a block of code published, from the on-commit callbacks it registered.

`realtime.publish` registers one `CommitHook` per publish; this decodes them into
(group, type, seq, data) without sending anything, so a service test can assert the
exact events and recipients of one action, and that a rollback registered none.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from elearning.transactions import CommitHook
from realtime import publish
from realtime.groups import user_group

Published = tuple[str, str, int | None, dict[str, Any]]


def published(callbacks: Iterable[Callable[[], Any]]) -> list[Published]:
    events: list[Published] = []
    for callback in callbacks:
        assert isinstance(callback, CommitHook), callback
        if callback.func is publish._send_stamped:
            for stamped in callback.args[0]:
                message = json.loads(stamped.text)
                assert message["seq"] == stamped.seq
                events.append(
                    (user_group(stamped.user_id), message["type"], stamped.seq, message["data"])
                )
        elif callback.func is publish._send_text:
            group, text = callback.args
            message = json.loads(text)
            assert "seq" not in message
            events.append((group, message["type"], None, message["data"]))
        else:
            raise AssertionError(f"unexpected on-commit callback {callback!r}")
    return events


def routes(events: Iterable[Published]) -> list[tuple[str, str]]:
    """(group, type) of every event, sorted: who got what, ignoring payloads."""
    return sorted((group, kind) for group, kind, _, _ in events)
