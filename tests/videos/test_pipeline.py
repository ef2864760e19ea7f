"""The video pipeline, stage by stage and end to end, on real files.

Small media are made with ffmpeg's lavfi sources at test time; speech comes
from the committed fixture (tests/fixtures/lecture.mp4, see make_fixtures.sh)
and, when present, the shared jfk.flac recording. Tests marked `slow` run the
real tiny.en model.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from videos import pipeline
from videos.pipeline import (
    NO_AUDIO_WARNING,
    NO_SPEECH_WARNING,
    InvalidMediaError,
    Limits,
    PipelineOptions,
    Segment,
    TransientPipelineError,
    attach_subtitles,
    extract_audio,
    find_ffmpeg,
    load_model,
    mp4_language,
    prepare_video,
    probe,
    run_ffmpeg,
    run_pipeline,
    transcribe,
    write_srt,
    write_vtt,
)
from videos.progress import ProgressReporter

REPO_ROOT = Path(__file__).resolve().parents[2]
LECTURE_MP4 = REPO_ROOT / "tests" / "fixtures" / "lecture.mp4"
LECTURE_TEXT = (REPO_ROOT / "tests" / "fixtures" / "lecture.txt").read_text(encoding="utf-8")
JFK_FLAC = REPO_ROOT.parent / "shared" / "fixtures" / "jfk.flac"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
needs_jfk = pytest.mark.skipif(
    not JFK_FLAC.exists(), reason=f"shared fixture {JFK_FLAC} is absent (not in this checkout)"
)
BIG_LIMITS = {"max_bytes": 10**9, "max_duration_s": 10**5}


# --- helpers ----------------------------------------------------------------


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference length, ignoring case
    and punctuation."""

    def words(text):
        return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()

    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        diagonal, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, start=1):
            diagonal, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_word != hyp_word)),
            )
    return row[-1] / len(ref)


def ffmpeg(*args):
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *map(str, args)], check=True
    )


def packet_sizes(path, kind):
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [packet.size for packet in container.demux(stream) if packet.size]


def streams(path):
    with av.open(str(path)) as container:
        return [
            (s.type, s.codec_context.codec.canonical_name, s.language) for s in container.streams
        ]


def frame_at(path, seconds):
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time >= seconds:
                return frame.to_ndarray(format="gray").astype(int)
    raise AssertionError("no frame")


def reporter():
    events = []
    return ProgressReporter(lambda percent, stage: events.append((percent, stage))), events


class FakeModel:
    """Stands in for WhisperModel where the words do not matter."""

    def __init__(self, segments):
        self.segments = segments
        self.calls = 0

    def transcribe(self, audio, *, language, beam_size, vad_filter):
        self.calls += 1
        assert vad_filter is True
        segments = [
            SimpleNamespace(start=s.start, end=s.end, text=" " + s.text) for s in self.segments
        ]
        return iter(segments), SimpleNamespace(language="en", language_probability=0.97)


class Spy:
    """Counts calls to a module function and passes them through."""

    def __init__(self, function):
        self.function = function
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.function(*args, **kwargs)


@pytest.fixture
def spy(monkeypatch):
    """Replace `pipeline.<name>` by a counting pass-through and return it."""

    def install(name):
        wrapper = Spy(getattr(pipeline, name))
        monkeypatch.setattr(pipeline, name, wrapper)
        return wrapper

    return install


@pytest.fixture
def fake_model(monkeypatch):
    model = FakeModel([Segment(0.4, 1.6, "Hello & <welcome>"), Segment(1.8, 2.9, "Second line")])
    monkeypatch.setattr(pipeline, "load_model", lambda *args, **kwargs: model)
    return model


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """Small files made with lavfi, one per case the probe must tell apart."""
    folder = tmp_path_factory.mktemp("media")
    files = SimpleNamespace(folder=folder)
    files.silent = folder / "silent.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=3"),
        *("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", 3),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", files.silent),
    )
    files.no_audio = folder / "no-audio.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10:duration=2",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        files.no_audio,
    )
    files.audio_only = folder / "audio-only.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", files.audio_only)
    files.odd_mkv = folder / "odd.mkv"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc=size=161x121:rate=10:duration=2"),
        *(
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-c:v",
            "mpeg4",
            "-c:a",
            "pcm_s16le",
            files.odd_mkv,
        ),
    )
    files.long = folder / "long.mp4"
    # Three frames 7300 s apart: a file over four hours long in 2 KB.
    ffmpeg(
        *("-f", "lavfi", "-i", "color=c=black:s=16x16:r=1:d=3", "-vf", "setpts=PTS*7300"),
        *("-fps_mode", "passthrough", "-c:v", "libx264", "-pix_fmt", "yuv420p", files.long),
    )
    files.picture = folder / "picture.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48",
        "-frames:v",
        1,
        "-f",
        "image2",
        "-c:v",
        "png",
        files.picture,
    )
    files.empty = folder / "empty.mp4"
    files.empty.touch()
    files.text = folder / "notes.mp4"
    files.text.write_text("These are my lecture notes, not a video.\n" * 20)
    # MP4 writes its index (moov) last unless told otherwise; cutting the file
    # in half loses it, as an interrupted upload would.
    moov_last = folder / "moov-last.mp4"
    ffmpeg("-i", LECTURE_MP4, "-c", "copy", moov_last)
    files.truncated = folder / "truncated.mp4"
    files.truncated.write_bytes(moov_last.read_bytes()[: moov_last.stat().st_size // 2])
    files.truncated_faststart = folder / "truncated-faststart.mp4"
    files.truncated_faststart.write_bytes(
        LECTURE_MP4.read_bytes()[: LECTURE_MP4.stat().st_size // 2]
    )
    files.huge = folder / "huge.mp4"
    with files.huge.open("wb") as sparse:
        sparse.truncate(2 * 1024**3 + 1)
    return files


@pytest.fixture(scope="session")
def model():
    return load_model(None, cpu_threads=os.cpu_count() or 1)


# --- find_ffmpeg and run_ffmpeg ----------------------------------------------


def test_find_ffmpeg_prefers_the_environment_variable(monkeypatch):
    monkeypatch.setenv("FFMPEG_BINARY", "/opt/ffmpeg/bin/ffmpeg")

    assert find_ffmpeg() == "/opt/ffmpeg/bin/ffmpeg"


def test_find_ffmpeg_uses_path_then_imageio(monkeypatch, tmp_path):
    monkeypatch.delenv("FFMPEG_BINARY", raising=False)
    on_path = tmp_path / "ffmpeg"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_ffmpeg() == str(on_path)

    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert "imageio_ffmpeg" in find_ffmpeg()


def test_run_ffmpeg_reports_rising_progress_and_finishes_at_one(tmp_path):
    fractions: list[float] = []

    run_ffmpeg(
        ["-f", "lavfi", "-i", "sine=duration=20", "-f", "wav", str(tmp_path / "out.wav")],
        duration_s=20,
        on_progress=fractions.append,
    )

    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert len(set(fractions)) >= 2


def test_ffmpeg_is_killed_when_the_progress_callback_raises(monkeypatch):
    started = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", recording_popen)

    def cancel(fraction):
        raise KeyboardInterrupt

    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        # -re reads at real speed: this would run for a minute if not killed.
        run_ffmpeg(
            ["-re", "-f", "lavfi", "-i", "sine=duration=60", "-f", "null", "-"],
            duration_s=60,
            on_progress=cancel,
        )

    assert started[0].returncode == -signal.SIGKILL
    assert time.monotonic() - began < 10


def test_a_failing_ffmpeg_is_transient_and_quotes_its_stderr(tmp_path):
    with pytest.raises(TransientPipelineError) as caught:
        run_ffmpeg(
            ["-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"],
            duration_s=1,
            on_progress=lambda f: None,
        )

    assert caught.value.permanent is False
    assert caught.value.message.startswith("ffmpeg failed with exit code 1:")
    assert "No such file or directory" in caught.value.message


def fake_ffmpeg(tmp_path, monkeypatch, script):
    binary = tmp_path / "fake-ffmpeg"
    binary.write_text("#!/bin/sh\n" + script)
    binary.chmod(0o755)
    monkeypatch.setenv("FFMPEG_BINARY", str(binary))


def test_an_ffmpeg_killed_by_a_signal_is_transient(tmp_path, monkeypatch):
    fake_ffmpeg(tmp_path, monkeypatch, "echo 'working' >&2\nkill -TERM $$\n")

    with pytest.raises(TransientPipelineError) as caught:
        run_ffmpeg([], duration_s=1, on_progress=lambda f: None)

    assert caught.value.message == "ffmpeg was stopped by SIGTERM. working"


def test_a_full_disk_is_transient(tmp_path, monkeypatch):
    fake_ffmpeg(tmp_path, monkeypatch, "echo 'out.mp4: No space left on device' >&2\nexit 1\n")

    with pytest.raises(TransientPipelineError) as caught:
        run_ffmpeg([], duration_s=1, on_progress=lambda f: None)

    assert caught.value.message == "The server ran out of disk space."


def test_a_missing_ffmpeg_is_transient(tmp_path, monkeypatch):
    monkeypatch.setenv("FFMPEG_BINARY", str(tmp_path / "no-such-ffmpeg"))

    with pytest.raises(TransientPipelineError) as caught:
        run_ffmpeg([], duration_s=1, on_progress=lambda f: None)

    assert caught.value.message.startswith("ffmpeg could not be started:")


# --- probe --------------------------------------------------------------------


def test_probe_describes_the_lecture_fixture():
    info = probe(LECTURE_MP4, **BIG_LIMITS)

    assert info == pipeline.MediaInfo(
        duration_s=18.0,
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        has_video=True,
        has_audio=True,
        video_codec="h264",
        audio_codec="aac",
        width=160,
        height=120,
        size_bytes=LECTURE_MP4.stat().st_size,
        pixel_format="yuv420p",
    )


def test_probe_accepts_a_video_without_audio(media):
    info = probe(media.no_audio, **BIG_LIMITS)

    assert info.has_video is True
    assert info.has_audio is False
    assert info.audio_codec is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty", "The file is empty."),
        ("text", "The file is not a video we can read."),
        ("truncated", "The file is incomplete or damaged."),
        ("truncated_faststart", "The file is incomplete or damaged."),
        ("audio_only", "The file has only sound; please upload a video."),
        ("picture", "The file is a still image, not a video."),
        ("huge", "The file is larger than the 2 GB limit."),
        ("long", "The video is longer than the 4 h limit."),
    ],
)
def test_probe_refuses_unusable_files_for_good(media, name, message):
    limits = Limits()

    with pytest.raises(InvalidMediaError) as caught:
        probe(
            getattr(media, name), max_bytes=limits.max_bytes, max_duration_s=limits.max_duration_s
        )

    assert caught.value.message == message
    assert caught.value.permanent is True


def test_probe_limits_are_the_callers(media):
    with pytest.raises(InvalidMediaError, match=r"^The file is larger than the 100 KB limit\.$"):
        probe(LECTURE_MP4, max_bytes=100 * 1024, max_duration_s=3600)
    with pytest.raises(InvalidMediaError, match=r"^The video is longer than the 10 s limit\.$"):
        probe(LECTURE_MP4, max_bytes=10**9, max_duration_s=10)
    with pytest.raises(InvalidMediaError, match=r"^The video is longer than the 15 min limit\.$"):
        probe(media.long, max_bytes=10**9, max_duration_s=900)


# --- prepare_video and extract_audio ------------------------------------------------


def test_h264_aac_is_copied_not_encoded(tmp_path):
    info = probe(LECTURE_MP4, **BIG_LIMITS)
    fractions: list[float] = []

    prepare_video(LECTURE_MP4, tmp_path / "video.mp4", info, fractions.append)

    assert packet_sizes(tmp_path / "video.mp4", "video") == packet_sizes(LECTURE_MP4, "video")
    assert packet_sizes(tmp_path / "video.mp4", "audio") == packet_sizes(LECTURE_MP4, "audio")
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["video.mp4"]


def test_other_codecs_are_encoded_to_h264_aac_with_even_size(tmp_path, media):
    info = probe(media.odd_mkv, **BIG_LIMITS)

    prepare_video(media.odd_mkv, tmp_path / "video.mp4", info, lambda f: None)

    out = probe(tmp_path / "video.mp4", **BIG_LIMITS)
    assert (out.video_codec, out.audio_codec, out.pixel_format) == ("h264", "aac", "yuv420p")
    assert (out.width, out.height) == (160, 120)
    assert out.duration_s == pytest.approx(2.0, abs=0.1)


def test_audio_is_extracted_as_16khz_mono_pcm(tmp_path):
    info = probe(LECTURE_MP4, **BIG_LIMITS)

    extract_audio(LECTURE_MP4, tmp_path / "audio.wav", info, lambda f: None)

    with av.open(str(tmp_path / "audio.wav")) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.rate, stream.channels) == ("pcm_s16le", 16000, 1)
        assert container.duration is not None
        assert container.duration / av.time_base == pytest.approx(18.0, abs=0.05)


def test_a_failed_stage_leaves_no_output_behind(tmp_path):
    info = probe(LECTURE_MP4, **BIG_LIMITS)

    def cancel(fraction):
        if fraction > 0:
            raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError):
        extract_audio(LECTURE_MP4, tmp_path / "audio.wav", info, cancel)

    assert list(tmp_path.iterdir()) == []


# --- subtitles ----------------------------------------------------------------------


SEGMENTS = [
    Segment(-0.2, 1.5, "Fish & chips <b>now</b>"),
    Segment(61.25, 3725.5, "An arrow --> and ---> here"),
    Segment(2.0, 2.0, "Zero length"),
    Segment(3.0, 2.5, "Backwards"),
    Segment(4.0, 5.0, "   "),
    Segment(9.95, 12.0, "Überall\n\nspäter"),
]


def test_vtt_has_clamped_escaped_cues():
    assert write_vtt(SEGMENTS, duration_s=10.0) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:01.500\nFish &amp; chips &lt;b&gt;now&lt;/b&gt;\n\n"
        "00:00:09.999 --> 00:00:10.000\nAn arrow --&gt; and ---&gt; here\n\n"
        "00:00:02.000 --> 00:00:02.001\nZero length\n\n"
        "00:00:03.000 --> 00:00:03.001\nBackwards\n\n"
        "00:00:09.950 --> 00:00:10.000\nÜberall später\n"
    )


def test_srt_has_numbered_clamped_cues_without_arrows_in_the_text():
    assert write_srt(SEGMENTS, duration_s=4000.0) == (
        "1\n00:00:00,000 --> 00:00:01,500\nFish & chips <b>now</b>\n\n"
        "2\n00:01:01,250 --> 01:02:05,500\nAn arrow -> and -> here\n\n"
        "3\n00:00:02,000 --> 00:00:02,001\nZero length\n\n"
        "4\n00:00:03,000 --> 00:00:03,001\nBackwards\n\n"
        "5\n00:00:09,950 --> 00:00:12,000\nÜberall später\n"
    )


def test_cue_times_stay_inside_the_duration_and_end_after_start():
    for text in (write_vtt(SEGMENTS, 10.0), write_srt(SEGMENTS, 10.0)):
        for start, end in re.findall(r"(\S+) --> (\S+)", text):
            start_s, end_s = (cue_seconds(value) for value in (start, end))
            assert 0 <= start_s < end_s <= 10.0


def cue_seconds(stamp):
    hours, minutes, seconds = stamp.replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_no_segments_make_empty_files():
    assert write_vtt([], 10.0) == "WEBVTT\n\n"
    assert write_srt([], 10.0) == ""


@pytest.mark.parametrize(
    ("code", "expected"),
    [("en", "eng"), ("fr", "fra"), ("deu", "deu"), (None, "und"), ("xx", "und")],
)
def test_mp4_language_codes(code, expected):
    assert mp4_language(code) == expected


def test_unknown_language_option_is_refused():
    with pytest.raises(ValueError):
        PipelineOptions(language="klingon")


def write_subtitles(folder):
    srt = folder / "subtitles.srt"
    srt.write_text(write_srt([Segment(0.2, 2.8, "Bonjour à tous")], 3.0), encoding="utf-8")
    return srt


def test_soft_subtitles_are_a_tagged_mov_text_track(tmp_path, media):
    srt = write_subtitles(tmp_path)

    attach_subtitles(
        media.silent,
        srt,
        tmp_path / "final.mp4",
        burn=False,
        language="fr",
        duration_s=3.0,
        on_progress=lambda f: None,
    )

    assert streams(tmp_path / "final.mp4") == [
        ("video", "h264", "und"),
        ("audio", "aac", "und"),
        ("subtitle", "mov_text", "fra"),
    ]
    assert packet_sizes(tmp_path / "final.mp4", "video") == packet_sizes(media.silent, "video")


def test_burnt_subtitles_are_drawn_into_a_reencoded_video(tmp_path, media):
    # Quotes, colons, commas, brackets and semicolons all mean something in a
    # filtergraph; the path must still reach the subtitles filter intact.
    workdir = tmp_path / "it's a [work]: dir, really; \\ yes"
    workdir.mkdir()
    srt = write_subtitles(workdir)

    attach_subtitles(
        media.silent,
        srt,
        workdir / "final.mp4",
        burn=True,
        language="fr",
        duration_s=3.0,
        on_progress=lambda f: None,
    )

    assert [kind for kind, _, _ in streams(workdir / "final.mp4")] == ["video", "audio"]
    assert packet_sizes(workdir / "final.mp4", "video") != packet_sizes(media.silent, "video")
    before, after = frame_at(media.silent, 1.5), frame_at(workdir / "final.mp4", 1.5)
    bottom_change = np.abs(after[90:] - before[90:]).mean()
    top_change = np.abs(after[:60] - before[:60]).mean()
    assert bottom_change > 5 * top_change


# --- run_pipeline without the real model ----------------------------------------------


def test_a_video_without_audio_succeeds_with_a_warning(tmp_path, media, spy):
    load_model_spy = spy("load_model")
    report, events = reporter()

    result = run_pipeline(media.no_audio, tmp_path / "work", PipelineOptions(), report)

    assert result.warning == NO_AUDIO_WARNING
    assert (result.vtt_path, result.srt_path, result.language) == (None, None, None)
    assert result.video_path == tmp_path / "work" / "video.mp4"
    assert streams(result.video_path) == [("video", "h264", "und")]
    assert load_model_spy.calls == 0
    assert events[-1] == (90, "subtitles")


def test_an_unusable_upload_fails_before_any_work(tmp_path, media, spy):
    load_model_spy = spy("load_model")
    run_ffmpeg_spy = spy("run_ffmpeg")

    with pytest.raises(InvalidMediaError, match=r"^The file is not a video we can read\.$"):
        run_pipeline(media.text, tmp_path / "work", PipelineOptions(), reporter()[0])

    assert load_model_spy.calls == 0
    assert run_ffmpeg_spy.calls == 0
    assert not (tmp_path / "work" / "video.mp4").exists()


def test_subtitle_files_are_utf8_and_match_the_transcript(tmp_path, media, fake_model):
    result = run_pipeline(media.silent, tmp_path / "work", PipelineOptions(), reporter()[0])

    assert result.warning is None
    assert result.language == "en"
    assert result.vtt_path is not None
    assert result.srt_path is not None
    assert result.vtt_path.read_bytes().decode("utf-8") == (
        "WEBVTT\n\n00:00:00.400 --> 00:00:01.600\nHello &amp; &lt;welcome&gt;\n\n"
        "00:00:01.800 --> 00:00:02.900\nSecond line\n"
    )
    assert result.srt_path.read_text(encoding="utf-8").startswith(
        "1\n00:00:00,400 --> 00:00:01,600\nHello & <welcome>\n"
    )
    assert streams(result.video_path)[-1] == ("subtitle", "mov_text", "eng")


def test_a_retry_after_a_crash_in_transcription_redoes_only_what_is_missing(
    tmp_path, media, fake_model, spy
):
    workdir = tmp_path / "work"

    def crash_in_transcription(percent, stage):
        if stage == "transcribe":
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError):
        run_pipeline(
            media.silent, workdir, PipelineOptions(), ProgressReporter(crash_in_transcription)
        )
    video = (workdir / "video.mp4").stat()
    assert not (workdir / "transcript.json").exists()
    assert fake_model.calls == 1

    run_ffmpeg_spy = spy("run_ffmpeg")
    result = run_pipeline(media.silent, workdir, PipelineOptions(), reporter()[0])

    assert fake_model.calls == 2
    # video.mp4 and audio.wav were complete: only the final mux runs again.
    assert run_ffmpeg_spy.calls == 1
    assert (workdir / "video.mp4").stat().st_ino == video.st_ino
    assert (workdir / "video.mp4").stat().st_mtime_ns == video.st_mtime_ns
    assert result.vtt_path is not None
    assert result.vtt_path.exists()
    assert sorted(p.name for p in workdir.iterdir() if ".part" in p.name) == []


def test_changed_options_start_over(tmp_path, media, fake_model, spy):
    workdir = tmp_path / "work"
    run_pipeline(media.silent, workdir, PipelineOptions(), reporter()[0])

    run_ffmpeg_spy = spy("run_ffmpeg")
    result = run_pipeline(
        media.silent, workdir, PipelineOptions(burn_subtitles=True), reporter()[0]
    )

    assert fake_model.calls == 2
    assert run_ffmpeg_spy.calls == 3  # prepare, extract, burn
    assert [kind for kind, _, _ in streams(result.video_path)] == ["video", "audio"]


def test_a_fresh_copy_of_the_same_upload_resumes_but_a_new_upload_starts_over(
    tmp_path, media, fake_model, spy
):
    workdir = tmp_path / "work"
    first_copy, second_copy = tmp_path / "first.mp4", tmp_path / "second.mp4"
    first_copy.write_bytes(media.silent.read_bytes())
    run_pipeline(first_copy, workdir, PipelineOptions(), reporter()[0])
    first_copy.unlink()
    second_copy.write_bytes(media.silent.read_bytes())
    run_ffmpeg_spy = spy("run_ffmpeg")

    run_pipeline(second_copy, workdir, PipelineOptions(), reporter()[0])
    assert (fake_model.calls, run_ffmpeg_spy.calls) == (1, 0)

    result = run_pipeline(media.no_audio, workdir, PipelineOptions(), reporter()[0])
    assert result.warning == NO_AUDIO_WARNING
    assert sorted(p.name for p in workdir.iterdir()) == [
        "media.json",
        "options.json",
        "source",
        "video.mp4",
    ]


# --- with the real model ------------------------------------------------------------


@pytest.fixture(scope="module")
def lecture_run(tmp_path_factory, model):
    """One real run of the whole pipeline on the lecture fixture."""
    workdir = tmp_path_factory.mktemp("lecture") / "work"
    report, events = reporter()
    result = run_pipeline(LECTURE_MP4, workdir, PipelineOptions(), report)
    return SimpleNamespace(workdir=workdir, result=result, events=events)


def cue_text(vtt):
    blocks = vtt.split("\n\n")[1:]
    return " ".join(block.split("\n", 1)[1] for block in blocks if block.strip())


@pytest.mark.slow
def test_lecture_fixture_is_transcribed_within_10_percent_wer(lecture_run):
    vtt = lecture_run.result.vtt_path.read_text(encoding="utf-8")

    assert word_error_rate(LECTURE_TEXT, cue_text(vtt)) <= 0.10
    assert lecture_run.result.language == "en"
    assert lecture_run.result.warning is None


@pytest.mark.slow
def test_lecture_result_is_a_playable_mp4_with_a_subtitle_track(lecture_run):
    result = lecture_run.result

    assert result.video_path == lecture_run.workdir / "final.mp4"
    assert streams(result.video_path) == [
        ("video", "h264", "und"),
        ("audio", "aac", "und"),
        ("subtitle", "mov_text", "eng"),
    ]
    assert packet_sizes(result.video_path, "video") == packet_sizes(LECTURE_MP4, "video")
    assert (result.duration_s, result.format_name) == (18.0, "mov,mp4,m4a,3gp,3g2,mj2")
    for text in (
        result.vtt_path.read_text(encoding="utf-8"),
        result.srt_path.read_text(encoding="utf-8"),
    ):
        for start, end in re.findall(r"(\S+) --> (\S+)", text):
            assert 0 <= cue_seconds(start) < cue_seconds(end) <= 18.0


@pytest.mark.slow
def test_progress_rises_through_every_stage_boundary(lecture_run):
    percents = [percent for percent, _ in lecture_run.events]
    stages = [stage for _, stage in lecture_run.events]

    assert percents == sorted(percents)
    assert {10, 30, 80, 90} <= set(percents)
    assert len(set(percents)) >= 6
    assert list(dict.fromkeys(stages)) == ["preprocess", "audio", "transcribe", "subtitles"]
    assert lecture_run.events[-1] == (90, "subtitles")


@pytest.mark.slow
def test_a_second_run_redoes_no_finished_stage(lecture_run, spy):
    checkpoints = {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in lecture_run.workdir.iterdir()
    }
    spies = {name: spy(name) for name in ("load_model", "run_ffmpeg", "transcribe", "probe")}
    report, events = reporter()

    result = run_pipeline(LECTURE_MP4, lecture_run.workdir, PipelineOptions(), report)

    assert result == lecture_run.result
    assert {name: wrapper.calls for name, wrapper in spies.items()} == dict.fromkeys(spies, 0)
    assert {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in lecture_run.workdir.iterdir()
    } == checkpoints
    assert "audio.wav" not in checkpoints  # dropped once the transcript was saved
    assert events[-1] == (90, "subtitles")


@pytest.mark.slow
def test_a_silent_video_succeeds_with_a_no_speech_warning(tmp_path, media, model):
    result = run_pipeline(media.silent, tmp_path / "work", PipelineOptions(), reporter()[0])

    assert result.warning == NO_SPEECH_WARNING
    assert (result.vtt_path, result.srt_path, result.language) == (None, None, None)
    assert result.video_path == tmp_path / "work" / "video.mp4"


@pytest.mark.slow
def test_the_model_is_loaded_once_per_process(model):
    assert load_model(None, cpu_threads=os.cpu_count() or 1) is model
    assert load_model(pipeline.default_model_path(), cpu_threads=os.cpu_count() or 1) is model


@pytest.mark.slow
@needs_jfk
@pytest.mark.parametrize("beam_size", [1, 5])
def test_jfk_is_transcribed_within_10_percent_wer(model, beam_size):
    fractions: list[float] = []

    transcript = transcribe(
        model,
        JFK_FLAC,
        duration_s=11.0,
        language=None,
        on_progress=fractions.append,
        beam_size=beam_size,
    )

    text = " ".join(segment.text for segment in transcript.segments)
    assert word_error_rate(JFK_TEXT, text) <= 0.10
    assert transcript.language == "en"
    assert fractions[-1] == 1.0


def test_word_error_rate_counts_edits_over_reference_words():
    assert word_error_rate("the cat sat", "The cat, sat.") == 0
    assert word_error_rate("the cat sat", "the bat sat down") == pytest.approx(2 / 3)


def test_checkpoint_json_round_trips(tmp_path, media, fake_model):
    run_pipeline(media.silent, tmp_path / "work", PipelineOptions(), reporter()[0])

    saved = json.loads((tmp_path / "work" / "transcript.json").read_text())
    assert saved["segments"][0] == {"start": 0.4, "end": 1.6, "text": "Hello & <welcome>"}
