"""Progress for a video job: stages share 0–100 %, and only changes are reported.

A stage reports a fraction from 0 to 1; `ProgressReporter` maps it into the
stage's slice of 0–100, never goes backwards and calls its sink only when the
whole-number percentage or the stage name changes (Baserow's progress helper,
reduced to what the video pipeline needs). Pure Python, no Django.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

FractionCallback = Callable[[float], None]
"""Receives a stage's progress as a fraction from 0 to 1."""

ProgressSink = Callable[[int, str], None]
"""Receives the overall percentage (0–100) and the current stage name."""


@dataclass(frozen=True)
class Stage:
    """A named slice [start, end] of the overall 0–100 range."""

    name: str
    start: int
    end: int


PIPELINE_STAGES: tuple[Stage, ...] = (
    Stage("preprocess", 0, 10),
    Stage("audio", 10, 30),
    Stage("transcribe", 30, 80),
    Stage("subtitles", 80, 90),
    Stage("upload", 90, 100),
)
"""The mapping the clients of the old stack know (DESIGN.md §7)."""


class ProgressReporter:
    """Maps stage fractions onto 0–100 and forwards changes to `sink`.

    Thread-safe: concurrent stages may report from different threads. A report
    from an earlier stage after a later one has started is ignored, so neither
    the number nor the stage name ever goes backwards.
    """

    def __init__(self, sink: ProgressSink, stages: Sequence[Stage] = PIPELINE_STAGES) -> None:
        _check_stages(stages)
        self._sink = sink
        self._stages = {stage.name: (index, stage) for index, stage in enumerate(stages)}
        self._lock = threading.Lock()
        self._percent = 0
        self._stage_index = -1
        self._stage_name = ""

    @property
    def percent(self) -> int:
        """The last percentage sent to the sink (0 before any report)."""
        return self._percent

    @property
    def stage_name(self) -> str:
        """The stage of the last report sent to the sink ("" before any report)."""
        return self._stage_name

    def report(self, stage_name: str, fraction: float) -> None:
        """Record `fraction` (clamped to 0..1) of `stage_name`.

        Calls the sink, under the reporter's lock, when the percentage or the
        stage name changes. Raises KeyError for an unknown stage.
        """
        index, stage = self._stages[stage_name]
        percent = stage.start + math.floor(_clamp_fraction(fraction) * (stage.end - stage.start))
        with self._lock:
            if index < self._stage_index or percent < self._percent:
                return
            if index == self._stage_index and percent == self._percent:
                return
            self._percent = percent
            self._stage_index = index
            self._stage_name = stage_name
            self._sink(percent, stage_name)

    def stage(self, stage_name: str) -> FractionCallback:
        """Return a callback that reports fractions of `stage_name`."""
        if stage_name not in self._stages:
            raise KeyError(stage_name)

        def report_fraction(fraction: float) -> None:
            self.report(stage_name, fraction)

        return report_fraction


def split(report: FractionCallback, weights: Sequence[float]) -> list[FractionCallback]:
    """Split one fraction callback into weighted parts.

    Each returned callback takes its own 0..1 fraction; `report` receives the
    weighted sum of all parts, so parts may run one after another or at the
    same time (e.g. audio extraction while the model loads).
    """
    if not weights or any(weight <= 0 for weight in weights):
        raise ValueError("weights must be positive")
    total = float(sum(weights))
    shares = [weight / total for weight in weights]
    done = [0.0] * len(weights)
    lock = threading.Lock()

    def part(index: int) -> FractionCallback:
        def report_part(fraction: float) -> None:
            with lock:
                done[index] = _clamp_fraction(fraction)
                combined = sum(share * value for share, value in zip(shares, done, strict=True))
            report(combined)

        return report_part

    return [part(index) for index in range(len(weights))]


def bytes_progress(report: FractionCallback) -> Callable[[int, int], None]:
    """Adapt a fraction callback to the storage layer's (bytes_done, bytes_total)."""

    def report_bytes(done: int, total: int) -> None:
        report(1.0 if total <= 0 else done / total)

    return report_bytes


def _clamp_fraction(fraction: float) -> float:
    # NaN would poison every later comparison; treat it as "no progress yet".
    if math.isnan(fraction):
        return 0.0
    return min(1.0, max(0.0, fraction))


def _check_stages(stages: Sequence[Stage]) -> None:
    """Raise ValueError unless the stages tile 0–100 in order without gaps."""
    expected_start = 0
    for stage in stages:
        if stage.start != expected_start or stage.end <= stage.start:
            raise ValueError(f"stage {stage.name!r} does not continue at {expected_start}")
        expected_start = stage.end
    if expected_start != 100:
        raise ValueError("stages must end at 100")
    if len({stage.name for stage in stages}) != len(stages):
        raise ValueError("stage names must be unique")
