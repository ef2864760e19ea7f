"""The progress helper: stage slices, never backwards, only changes reported."""

import threading

import pytest

from videos.progress import PIPELINE_STAGES, ProgressReporter, Stage, bytes_progress, split


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []

    def __call__(self, percent: int, stage: str) -> None:
        self.calls.append((percent, stage))


def test_pipeline_stages_match_the_documented_mapping():
    assert [(s.name, s.start, s.end) for s in PIPELINE_STAGES] == [
        ("preprocess", 0, 10),
        ("audio", 10, 30),
        ("transcribe", 30, 80),
        ("subtitles", 80, 90),
        ("upload", 90, 100),
    ]


def test_fractions_map_into_the_stage_slice_rounding_down():
    sink = Recorder()
    reporter = ProgressReporter(sink)

    reporter.report("transcribe", 0.5)
    reporter.report("transcribe", 0.999)
    reporter.report("transcribe", 1.0)

    assert sink.calls == [(55, "transcribe"), (79, "transcribe"), (80, "transcribe")]
    assert reporter.percent == 80
    assert reporter.stage_name == "transcribe"


def test_sink_is_called_only_when_the_whole_percentage_changes():
    sink = Recorder()
    reporter = ProgressReporter(sink)

    for step in range(1001):
        reporter.report("transcribe", step / 1000)

    assert [percent for percent, _ in sink.calls] == list(range(30, 81))


def test_progress_never_decreases():
    sink = Recorder()
    reporter = ProgressReporter(sink)

    reporter.report("audio", 0.5)
    reporter.report("audio", 0.2)
    reporter.report("preprocess", 1.0)

    assert sink.calls == [(20, "audio")]
    assert reporter.percent == 20


def test_a_new_stage_at_the_same_percentage_is_reported_once():
    sink = Recorder()
    reporter = ProgressReporter(sink)

    reporter.report("preprocess", 1.0)
    reporter.report("audio", 0.0)
    reporter.report("audio", 0.0)

    assert sink.calls == [(10, "preprocess"), (10, "audio")]


def test_an_earlier_stage_cannot_take_the_name_back():
    sink = Recorder()
    reporter = ProgressReporter(sink)
    reporter.report("audio", 0.0)

    reporter.report("preprocess", 1.0)

    assert sink.calls == [(10, "audio")]
    assert reporter.stage_name == "audio"


def test_fractions_outside_zero_to_one_are_clamped_and_nan_is_no_progress():
    sink = Recorder()
    reporter = ProgressReporter(sink)

    reporter.report("upload", float("nan"))
    reporter.report("upload", -3.0)
    reporter.report("upload", 7.0)

    assert sink.calls == [(90, "upload"), (100, "upload")]


def test_stage_callback_reports_for_its_stage():
    sink = Recorder()
    reporter = ProgressReporter(sink)

    reporter.stage("subtitles")(0.5)

    assert sink.calls == [(85, "subtitles")]


def test_unknown_stage_is_rejected():
    reporter = ProgressReporter(Recorder())

    with pytest.raises(KeyError):
        reporter.stage("encode")
    with pytest.raises(KeyError):
        reporter.report("encode", 0.5)


@pytest.mark.parametrize(
    "stages",
    [
        [Stage("a", 0, 50), Stage("b", 60, 100)],
        [Stage("a", 0, 50), Stage("b", 50, 90)],
        [Stage("a", 0, 50), Stage("a", 50, 100)],
        [Stage("a", 0, 0), Stage("b", 0, 100)],
    ],
    ids=["gap", "short", "duplicate", "empty"],
)
def test_stages_must_tile_zero_to_one_hundred(stages):
    with pytest.raises(ValueError):
        ProgressReporter(Recorder(), stages)


def test_split_parts_in_sequence_add_up():
    received: list[float] = []
    first, second = split(received.append, [1, 3])

    first(0.5)
    first(1.0)
    second(0.5)
    second(1.0)

    assert received == [0.125, 0.25, 0.625, 1.0]


def test_split_parts_at_the_same_time_add_up():
    received: list[float] = []
    first, second = split(received.append, [1, 1])

    first(0.5)
    second(0.5)
    first(1.0)

    assert received == [0.25, 0.5, 0.75]


def test_split_rejects_non_positive_weights():
    with pytest.raises(ValueError):
        split(lambda fraction: None, [1, 0])
    with pytest.raises(ValueError):
        split(lambda fraction: None, [])


def test_bytes_progress_reports_the_fraction_sent():
    received: list[float] = []
    report = bytes_progress(received.append)

    report(0, 400)
    report(100, 400)
    report(400, 400)
    report(0, 0)

    assert received == [0.0, 0.25, 1.0, 1.0]


def test_reports_from_many_threads_stay_in_order():
    sink = Recorder()
    reporter = ProgressReporter(sink)
    parts = split(reporter.stage("transcribe"), [1] * 8)

    def work(part):
        for step in range(101):
            part(step / 100)

    threads = [threading.Thread(target=work, args=(part,)) for part in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    percents = [percent for percent, _ in sink.calls]
    assert percents == sorted(set(percents))
    assert percents[-1] == 80
