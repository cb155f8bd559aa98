#!/usr/bin/env python3
"""Real players read every kind of title over HTTP.

Each case puts one title, made with ffmpeg (cached per build directory, the
same sources as tests/integration), into a fresh media directory, starts a
real pagecast-origin on a free loopback port, waits for the title to be
packaged (503 with Retry-After until then) and runs origintest.check_title():
ffprobe over HLS and DASH finds every packet of the source with its bytes,
times and audio/video offset, ffmpeg decodes both with no error, and the MPD
passes the DASH schema.  The origin must then stop with exit 0 on SIGTERM.

Run: test_titles.py CASE   (see tests/origin/meson.build)
"""

import os

import origintest
from origintest import Origin, check, check_title, link_or_copy, log, workdir
from pctest import AAC, src_edit_list, src_h264_aac, lavfi_audio, lavfi_video, media, probe, stream_packets, x264


# ---------------------------------------------------------------- sources
# The command lines are those of tests/integration/test_packaging.py, so the
# cache (keyed by command line) serves both suites.

def src_hevc():
    return media("hevc-aac", "mp4", lavfi_video() + lavfi_audio() + ["-map", "0:v", "-map", "1:a",
                 "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-tag:v", "hvc1",
                 "-x265-params", "keyint=24:min-keyint=24:scenecut=0:open-gop=0:frame-threads=1:"
                 "pools=none:log-level=error"] + AAC)


def src_av1():
    return media("av1-aac", "mp4", lavfi_video() + lavfi_audio() + ["-map", "0:v", "-map", "1:a",
                 "-c:v", "libaom-av1", "-usage", "realtime", "-cpu-used", "8", "-row-mt", "1",
                 "-threads", "2", "-g", "24", "-keyint_min", "24", "-pix_fmt", "yuv420p"] + AAC)


def src_vp9_opus():
    return media("vp9-opus", "webm", lavfi_video() + lavfi_audio() + ["-map", "0:v", "-map", "1:a",
                 "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-threads", "1",
                 "-g", "24", "-keyint_min", "24", "-b:v", "300k", "-pix_fmt", "yuv420p",
                 "-c:a", "libopus", "-b:a", "64k", "-ac", "2"])


def src_aac_only():
    return media("aac-only-14s", "m4a", lavfi_audio(dur=14) + AAC)


def src_ac3():
    return media("h264-ac3", "mp4", lavfi_video() + lavfi_audio() + ["-map", "0:v", "-map", "1:a"] +
                 x264() + ["-c:a", "ac3", "-b:a", "192k", "-ac", "2"])


def src_late_audio():
    return media("h264-aac-late-audio", "mp4", lavfi_video() + ["-itsoffset", "0.5"] + lavfi_audio(dur=7.5) +
                 ["-map", "0:v", "-map", "1:a"] + x264() + AAC)


def src_ladder():
    """Two H.264 renditions of one source (aligned GOPs) and two audio
    languages, as separate files."""
    videos = []
    for (w, h) in [(320, 240), (160, 120)]:
        videos.append(media("ladder-%dp-g24" % h, "mp4",
                            lavfi_video(dur=10) + ["-vf", "scale=%d:%d" % (w, h)] + x264(24) + ["-an"]))
    eng = media("ladder-audio-eng", "m4a", lavfi_audio(dur=10) + AAC + ["-metadata:s:a:0", "language=eng"])
    fra = media("ladder-audio-fra", "m4a", lavfi_audio(freq=660, dur=10) + AAC +
                ["-metadata:s:a:0", "language=fra"])
    return {"video-240p.mp4": videos[0], "video-120p.mp4": videos[1],
            "audio-eng.m4a": eng, "audio-fra.m4a": fra}


# ---------------------------------------------------------------- helpers

def serve_one(name, src):
    """A media directory holding @src as title @name; an origin over it."""
    d = workdir()
    m = os.path.join(d, "media")
    link_or_copy(src, os.path.join(m, name))
    return Origin(m), m


def serve_and_check(name, src):
    origin, _ = serve_one(name, src)
    check_title(origin, name, [src])
    origin.stop()


def first_presented(path, codec_type):
    pr = probe(path, hashes=False)
    s = [s for s in pr["streams"] if s["codec_type"] == codec_type][0]
    return float(min(p["t"] for p in stream_packets(pr, s["index"]) if p["t"] is not None and not p["discard"]))


def has_bframes(path):
    pr = probe(path, hashes=False)
    v = [s for s in pr["streams"] if s["codec_type"] == "video"][0]
    return any(p["pts"] != p["dts"] for p in stream_packets(pr, v["index"]) if isinstance(p.get("dts"), int))


# ---------------------------------------------------------------- cases

def serves_h264_with_bframes():
    src = src_h264_aac()
    check(has_bframes(src), "test source has no B-frames")
    serve_and_check("h264-bframes.mp4", src)


def serves_hevc():
    serve_and_check("hevc.mp4", src_hevc())


def serves_av1():
    serve_and_check("av1.mp4", src_av1())


def serves_vp9_opus_webm():
    serve_and_check("vp9-opus.webm", src_vp9_opus())


def serves_aac_audio_only():
    serve_and_check("audio-only.m4a", src_aac_only())


def serves_ac3_with_video():
    serve_and_check("ac3.mp4", src_ac3())


def serves_late_audio_offset():
    src = src_late_audio()
    off = first_presented(src, "audio") - first_presented(src, "video")
    check(abs(off - 0.5) < 0.025, "test source's audio starts %.3f s after video, wanted 0.5" % off)
    serve_and_check("late-audio.mp4", src)


def serves_edit_list():
    src = src_edit_list()
    log("edit-list source: first presented video %.4f s, audio %.4f s" %
        (first_presented(src, "video"), first_presented(src, "audio")))
    serve_and_check("edit-list.mp4", src)


def serves_ladder_title_dir():
    # a ".title" directory is one title of every media file in it; nested,
    # and with a space and a non-ASCII letter (percent-encoded in the URL)
    d = workdir()
    m = os.path.join(d, "media")
    title = "movies/ladder \u00e4.title"
    files = src_ladder()
    for name, src in files.items():
        link_or_copy(src, os.path.join(m, title, name))
    # not media: ignored (hidden file, text file)
    with open(os.path.join(m, title, ".notes.mp4"), "w") as f:
        f.write("hidden: not a source\n")
    with open(os.path.join(m, title, "README.txt"), "w") as f:
        f.write("not media\n")
    origin = Origin(m)
    # name order: audio-eng, audio-fra, video-120p, video-240p
    check_title(origin, title, [files[k] for k in sorted(files)])
    for other in ("movies/ladder \u00e4.title/video-240p.mp4", "movies/ladder \u00e4.title/README.txt",
                  "movies/ladder \u00e4.title/.notes.mp4", "movies/ladder \u00e4"):
        r = origintest.http_get(origin.url(other, "master.m3u8"))
        check(r.status == 404, "%s/master.m3u8: HTTP %d, expected 404 (a file inside a .title "
              "directory is not a title of its own)" % (other, r.status))
    origin.stop()


if __name__ == "__main__":
    origintest.main({
        "serves_h264_with_bframes": serves_h264_with_bframes,
        "serves_hevc": serves_hevc,
        "serves_av1": serves_av1,
        "serves_vp9_opus_webm": serves_vp9_opus_webm,
        "serves_aac_audio_only": serves_aac_audio_only,
        "serves_ac3_with_video": serves_ac3_with_video,
        "serves_late_audio_offset": serves_late_audio_offset,
        "serves_edit_list": serves_edit_list,
        "serves_ladder_title_dir": serves_ladder_title_dir,
    })
