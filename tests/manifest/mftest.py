"""Shared helpers for pagecast's manifest tests (Python 3 stdlib only).

A case is a title: media made with ffmpeg (cached per build directory),
packaged with the real pagecast-pack into a fresh temp directory, its index
read back with `pagecast-pack --dump` and its manifests printed by
print-manifests (the manifest cache the origin serves from).  The checks
compare the manifests with the dump, never with the program's own output.

Environment (set by tests/manifest/meson.build):
  PAGECAST_PACK       the pagecast-pack binary
  PC_PRINT_MANIFESTS  the print-manifests binary
  PC_TEST_MEDIA       cache directory for the media the tests make
  PC_SOURCE_ROOT      the source tree (the DASH schema is in ../shared)
  PC_KEEP=1           keep the work directory (printed) for inspection

Exit codes: 0 pass, 1 fail, 77 skip (meson's convention).
"""

import json
import os
import sys
import tempfile

# What the suites' helpers share is in tests/common/pclib.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))

import pclib  # noqa: E402  (after the path is set)
from pclib import BCP47, FFMPEG, Fail, Skip, _cached, check, log  # noqa: E402,F401

PACK = os.environ.get("PAGECAST_PACK", "")
PRINT = os.environ.get("PC_PRINT_MANIFESTS", "")
SOURCE_ROOT = os.environ.get("PC_SOURCE_ROOT", "")
MEDIA_DIR = os.environ.get("PC_TEST_MEDIA") or os.path.join(
    tempfile.gettempdir(), "pagecast-test-media-manifest")


def run(cmd, timeout=300):
    """Run @cmd; @return its stdout (bytes).  Any exit status but 0 is a
    Fail, as is not ending within @timeout seconds."""
    p = pclib.spawn(cmd, timeout)
    pclib.expect_rc(cmd, p, 0, p.stderr.decode("utf-8", "replace"))
    return p.stdout


# ------------------------------------------------------------------ media

def media(name, ext, args):
    """`ffmpeg <args> OUT`, cached by its command line; returns the path."""
    return pclib.ffmpeg_media(MEDIA_DIR, name, ext, args)


X264_GOP48 = ["-c:v", "libx264", "-preset", "veryfast", "-g", "48", "-keyint_min", "48",
              "-sc_threshold", "0"]


def h264(name, w, h, rate="24", secs=10, crf="28", bframes=True):
    return media(name, "mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=%dx%d:rate=%s:duration=%d" % (w, h, rate, secs),
        *X264_GOP48, "-crf", crf, "-pix_fmt", "yuv420p", *([] if bframes else ["-bf", "0"]),
        "-an"])


def aac(name, lang, freq, secs=10, rate=48000, title=None):
    """AAC audio tagged with @lang; with a @title, in Matroska (whose track
    names the packager keeps; MP4 has no per-track title)."""
    meta = ["-metadata:s:a:0", "language=" + lang]
    if title is not None:
        meta += ["-metadata:s:a:0", "title=" + title]
    return media(name, "mp4" if title is None else "mka", [
        "-f", "lavfi", "-i", "sine=frequency=%d:sample_rate=%d:duration=%d" % (freq, rate, secs),
        "-ac", "2", "-c:a", "aac", "-b:a", "96k", *meta, "-vn"])


def title_inputs(case):
    """(inputs, segment duration) of each test title."""
    fra = aac("fra", "fra", 660, title='Fran\u00e7ais "VF" & <co>')
    # A second English track at another sampling rate: same HLS group (so
    # its NAME must differ) and same DASH AdaptationSet, but a different
    # timescale, so its SegmentTemplate must be its own.
    eng44 = aac("eng44", "eng", 550, rate=44100)
    if case == "ladder_two_languages":
        return [h264("lad640", 640, 480, crf="26"), h264("lad480", 480, 360, crf="28"),
                h264("lad320", 320, 240, crf="30"), aac("eng", "eng", 440), fra, eng44], 2
    if case == "audio_only":
        return [aac("eng", "eng", 440), fra, eng44], 6
    if case == "two_audio_codecs":
        # AAC and AC-3: two audio groups, each video track listed with each.
        return [h264("lad480", 480, 360, crf="28"), h264("lad320", 320, 240, crf="30"),
                aac("eng", "eng", 440),
                media("ac3", "mp4", [
                    "-f", "lavfi", "-i", "sine=frequency=350:sample_rate=48000:duration=10",
                    "-ac", "2", "-c:a", "ac3", "-b:a", "192k", "-metadata:s:a:0", "language=spa",
                    "-vn"])], 6
    if case == "vp9_opus":
        return [media("vp9opus", "webm", [
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=8",
            "-f", "lavfi", "-i", "sine=frequency=500:sample_rate=48000:duration=8",
            "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k",
            "-g", "50", "-keyint_min", "50", "-c:a", "libopus", "-b:a", "64k",
            "-metadata:s:a:0", "language=deu"])], 4
    if case == "ntsc_rate":
        return [media("ntsc", "mp4", [
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30000/1001:duration=9",
            "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=44100:duration=9",
            *X264_GOP48, "-crf", "30", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "64k", "-ac", "1"])], 3
    raise Fail("unknown case " + case)


# ------------------------------------------------------------------ titles

class Title:
    """A packaged title: its bundle, its --dump and its manifests."""

    def __init__(self, case, work):
        inputs, seg = title_inputs(case)
        self.bundle = os.path.join(work, case + ".pcb")
        run([PACK, "-q", "-s", str(seg), "-o", self.bundle] + inputs)
        self.dump = json.loads(run([PACK, "--dump", self.bundle]))
        self.gen = self.dump["generation"]
        self.tracks = self.dump["tracks"]

    def manifest(self, kind, track=None):
        args = [PRINT, self.bundle, kind] + ([] if track is None else [str(track)])
        return run(args).decode("utf-8")


def main(cases):
    """Run the case named by argv[1] with a fresh work directory: cases maps
    a name to fn(Title, workdir)."""
    name = pclib.case_from_argv(cases)
    pclib.require_executables(("PAGECAST_PACK", PACK), ("PC_PRINT_MANIFESTS", PRINT))
    work = tempfile.mkdtemp(prefix="pagecast-mf-")
    rc = pclib.run_case(name, lambda: cases[name](Title(name, work), work),
                        [lambda: pclib.remove_workdir(work)])
    if rc:
        sys.exit(rc)


# ------------------------------------------------------------------ shared facts

def bcp47(lang):
    if not lang or lang == "und":
        return None
    return BCP47.get(lang, lang)


def ts_of(track, key="duration_ts"):
    """A track's segments as (start_ts, duration_ts) pairs."""
    return [(s["start_ts"], s["duration_ts"]) for s in track["segments"]]
