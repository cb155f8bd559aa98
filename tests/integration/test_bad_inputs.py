#!/usr/bin/env python3
"""Bad inputs are refused cleanly: exit 1, exactly one line on stderr
'pagecast-pack: <input path>: <reason>', no bundle and no temporary file left
in the output directory, never a crash or a hang; an existing bundle at the
output path is left as it was.

Run: test_bad_inputs.py CASE   (see tests/integration/meson.build)
"""

import hashlib
import os

import pctest
from pctest import (AAC, Skip, check, derived, expect_refusal, lavfi_audio, lavfi_video,
                    log, media, pack, workdir, x264)


def _out():
    d = os.path.join(workdir(), "out")
    os.mkdir(d)
    return d, os.path.join(d, "title.pcb")


def refuse(path, why=""):
    outdir, out = _out()
    p = pack([path], out)
    reason = expect_refusal(p, path, outdir)
    log("refused %s (%s): %s" % (os.path.basename(path), why, reason))
    return reason


def good_mp4(faststart=False):
    return media("h264-aac-8s%s" % ("-faststart" if faststart else ""), "mp4",
                 lavfi_video() + lavfi_audio() + ["-map", "0:v", "-map", "1:a"] + x264() + AAC +
                 (["-movflags", "+faststart"] if faststart else []))


def a_file(name, data):
    path = os.path.join(workdir(), name)
    with open(path, "wb") as f:
        f.write(data)
    return path


# ---------------------------------------------------------------- cases

def refuses_empty_file():
    refuse(a_file("empty.mp4", b""), "empty")


def refuses_truncated_mp4():
    # moov first (faststart), then only 30% of the media data
    src = derived("h264-aac-truncated30", "mp4", good_mp4(faststart=True), "first-30%",
                  lambda s, d: pctest.truncate_copy(s, d, 0.30))
    refuse(src, "truncated")


def refuses_mp4_without_moov():
    # moov last (ffmpeg's default): keep everything before it
    def cut(s, d):
        top, data = pctest.top_level_boxes(s)
        moov = [b for b in top if b[0] == "moov"]
        check(moov and moov[0][1] > 0, "test source has no trailing moov")
        with open(d, "wb") as f:
            f.write(data[:moov[0][1]])
    refuse(derived("h264-aac-no-moov", "mp4", good_mp4(), "cut-at-moov", cut), "no moov")


def refuses_random_bytes():
    path = os.path.join(workdir(), "noise.mp4")
    pctest.write_random(path, 64 * 1024, seed=1)
    refuse(path, "random bytes")


def refuses_text_file():
    refuse(a_file("notes.txt", b"This is not a media file.\n" * 200), "text")


def refuses_subtitle_only_file():
    srt = b"".join(b"%d\n00:00:0%d,000 --> 00:00:0%d,500\nline %d\n\n" % (i, i, i, i) for i in range(1, 9))
    refuse(a_file("subs.srt", srt), "subtitles only")


def refuses_only_unsupported_codecs_wav():
    refuse(media("pcm", "wav", lavfi_audio(dur=3) + ["-c:a", "pcm_s16le"]), "pcm only")


def refuses_only_unsupported_codecs_mpeg2_ts():
    refuse(media("mpeg2-mp2", "ts", lavfi_video(dur=3) + lavfi_audio(dur=3) +
                 ["-map", "0:v", "-map", "1:a", "-c:v", "mpeg2video", "-c:a", "mp2"]),
           "mpeg2video + mp2")


def refuses_directory_as_input():
    d = os.path.join(workdir(), "a-directory.mp4")
    os.mkdir(d)
    refuse(d, "directory")


def refuses_unreadable_file():
    if os.geteuid() == 0:
        raise Skip("running as root: file permissions do not stop root "
                   "(refuses_directory_as_input covers an input that cannot be read)")
    src = good_mp4()
    path = os.path.join(workdir(), "unreadable.mp4")
    with open(src, "rb") as f, open(path, "wb") as g:
        g.write(f.read())
    os.chmod(path, 0)
    refuse(path, "unreadable")


def refuses_missing_file():
    refuse(os.path.join(workdir(), "does-not-exist.mp4"), "missing")


def refuses_misaligned_ladder():
    # keyframes every 24 frames (1 s) and every 30 frames (1.25 s): the first
    # cut (6 s) finds a keyframe at 6 s in one and at 6.25 s in the other
    a = media("ladder-240p-g24", "mp4", lavfi_video(dur=10) + ["-vf", "scale=320:240"] + x264(24) + ["-an"])
    b = media("ladder-120p-g30", "mp4", lavfi_video(dur=10) + ["-vf", "scale=160:120"] + x264(30) + ["-an"])
    outdir, out = _out()
    p = pack([a, b], out)
    reason = expect_refusal(p, [a, b], outdir)
    log("refused misaligned ladder: %s" % reason)


def names_the_bad_input_among_good_ones():
    good = good_mp4()
    bad = a_file("notes.mp4", b"not media\n" * 100)
    outdir, out = _out()
    p = pack([good, bad], out)
    expect_refusal(p, bad, outdir)


def failed_repack_keeps_old_bundle():
    outdir, out = _out()
    p = pack([good_mp4()], out)
    check(p.returncode == 0, "packaging a good file failed: %s" % p.stderr)
    with open(out, "rb") as f:
        before = hashlib.sha256(f.read()).hexdigest()
    bad = a_file("empty.mp4", b"")
    p = pack([bad], out)
    expect_refusal(p, bad, outdir, keep=["title.pcb"])
    with open(out, "rb") as f:
        check(hashlib.sha256(f.read()).hexdigest() == before, "the old bundle was changed by a failed run")
    c = pctest.run([pctest.PACK, "--check", out])
    check(c.returncode == 0, "the old bundle no longer passes --check")


CASES = {f.__name__: f for f in [
    refuses_empty_file, refuses_truncated_mp4, refuses_mp4_without_moov, refuses_random_bytes,
    refuses_text_file, refuses_subtitle_only_file, refuses_only_unsupported_codecs_wav,
    refuses_only_unsupported_codecs_mpeg2_ts, refuses_directory_as_input, refuses_unreadable_file,
    refuses_missing_file, refuses_misaligned_ladder, names_the_bad_input_among_good_ones,
    failed_repack_keeps_old_bundle,
]}

if __name__ == "__main__":
    pctest.main(CASES)
