#!/usr/bin/env python3
"""Good inputs package into bundles that play back the source's packets.

Each case makes a short source with ffmpeg (cached per build directory),
packages it with pagecast-pack and runs pctest.pack_ok(), which checks the
exit status, --check, page alignment of every blob, the CMAF boxes, the codec
string against the init segment and the source, that init + all segments of
each track demux to exactly the source stream's packets (count, keyframes,
bytes, timestamps up to one shift common to all tracks: the A/V offset is
kept), that every video segment starts with a keyframe, on its own too, and
that all tracks are cut at the same times.  Cases add what is special to them.

Run: test_packaging.py CASE   (see tests/integration/meson.build)
"""

import os
import subprocess

import pctest
from pctest import (AAC, check, derived, src_edit_list, src_h264_aac, expect_audio_only_segments,
                    expect_video_segments, lavfi_audio, lavfi_video, log, media,
                    pack_ok, probe, stream_packets, x264)


# ---------------------------------------------------------------- sources

def has_bframes(path):
    pr = probe(path, hashes=False)
    v = [s for s in pr["streams"] if s["codec_type"] == "video"][0]
    return any(p["pts"] != p["dts"] for p in stream_packets(pr, v["index"])
               if isinstance(p.get("dts"), int)) and v.get("has_b_frames", 0) > 0


def first_presented(pr, codec_type):
    s = [s for s in pr["streams"] if s["codec_type"] == codec_type][0]
    return float(min(p["t"] for p in stream_packets(pr, s["index"])
                     if p["t"] is not None and not p["discard"]))


# ---------------------------------------------------------------- cases

def packs_h264_with_bframes_mp4():
    src = src_h264_aac()
    check(has_bframes(src), "test source has no B-frames (pts == dts everywhere)")
    pk = pack_ok([src])
    check(sorted(t.kind for t in pk.tracks) == ["audio", "video"], "expected one video and one audio track")
    expect_video_segments(pk, 6)


def packs_hevc_mp4():
    src = media("hevc-aac", "mp4", lavfi_video() + lavfi_audio() + ["-map", "0:v", "-map", "1:a",
                "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-tag:v", "hvc1",
                "-x265-params", "keyint=24:min-keyint=24:scenecut=0:open-gop=0:frame-threads=1:"
                "pools=none:log-level=error"] + AAC)
    pk = pack_ok([src])
    expect_video_segments(pk, 6)


def packs_av1_mp4():
    src = media("av1-aac", "mp4", lavfi_video() + lavfi_audio() + ["-map", "0:v", "-map", "1:a",
                "-c:v", "libaom-av1", "-usage", "realtime", "-cpu-used", "8", "-row-mt", "1",
                "-threads", "2", "-g", "24", "-keyint_min", "24", "-pix_fmt", "yuv420p"] + AAC)
    pk = pack_ok([src])
    expect_video_segments(pk, 6)


def packs_vp9_opus_webm():
    src = media("vp9-opus", "webm", lavfi_video() + lavfi_audio() + ["-map", "0:v", "-map", "1:a",
                "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-threads", "1",
                "-g", "24", "-keyint_min", "24", "-b:v", "300k", "-pix_fmt", "yuv420p",
                "-c:a", "libopus", "-b:a", "64k", "-ac", "2"])
    pk = pack_ok([src])
    expect_video_segments(pk, 6)


def packs_h264_aac_mkv():
    src = media("h264-aac", "mkv", lavfi_video() + lavfi_audio() + ["-map", "0:v", "-map", "1:a"] +
                x264() + AAC)
    pk = pack_ok([src])
    expect_video_segments(pk, 6)


def packs_h264_aac_mpegts():
    src = media("h264-aac", "ts", lavfi_video() + lavfi_audio() + ["-map", "0:v", "-map", "1:a"] +
                x264() + AAC)
    pk = pack_ok([src])
    expect_video_segments(pk, 6)


def packs_aac_audio_only():
    src = media("aac-only-14s", "m4a", lavfi_audio(dur=14) + AAC)
    pk = pack_ok([src])
    expect_audio_only_segments(pk, 6)


def packs_ac3_with_video():
    src = media("h264-ac3", "mp4", lavfi_video() + lavfi_audio() + ["-map", "0:v", "-map", "1:a"] +
                x264() + ["-c:a", "ac3", "-b:a", "192k", "-ac", "2"])
    pk = pack_ok([src])
    check(sorted(t.codec for t in pk.tracks) == ["ac3", "h264"], "expected h264 + ac3 tracks")
    expect_video_segments(pk, 6)


def packs_eac3_audio_only():
    # a raw E-AC-3 elementary stream: no container timestamps at all
    src = media("eac3-only", "eac3", lavfi_audio(dur=10) + ["-c:a", "eac3", "-b:a", "192k", "-ac", "2"])
    pk = pack_ok([src])
    expect_audio_only_segments(pk, 6)


def packs_mp3_audio_only_with_cover_art():
    # an ID3 attached picture is not a video track
    src = media("mp3-cover", "mp3", lavfi_audio(freq=500, rate=44100, dur=10) +
                ["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=1:duration=1",
                 "-map", "0:a", "-map", "1:v", "-frames:v", "1", "-c:v", "mjpeg",
                 "-disposition:v", "attached_pic", "-c:a", "libmp3lame", "-b:a", "128k", "-ac", "2",
                 "-id3v2_version", "3"])
    pr = probe(src, hashes=False)
    check(any(s.get("disposition", {}).get("attached_pic") for s in pr["streams"]),
          "test source has no attached picture")
    pk = pack_ok([src])
    check([t.codec for t in pk.tracks] == ["mp3"], "expected one mp3 track, got %s" %
          [t.codec for t in pk.tracks])
    expect_audio_only_segments(pk, 6)


def packs_flac_audio_only():
    src = media("flac-only", "flac", lavfi_audio(dur=10) + ["-c:a", "flac", "-ac", "2"])
    pk = pack_ok([src])
    expect_audio_only_segments(pk, 6)


def _has_video_edit(path):
    """Whether an mp4's video trak has an edit list that skips media."""
    top, data = pctest.top_level_boxes(path)
    moov = [b for b in pctest.boxes(data) if b[0] == "moov"][0]
    for trak in pctest.boxes(data, moov[3], moov[2]):
        if trak[0] != "trak":
            continue
        mdia = pctest.child(data, trak, "mdia")
        hdlr = pctest.child(data, mdia, "hdlr")
        if data[hdlr[3] + 8:hdlr[3] + 12] != b"vide":
            continue
        edts = pctest.child(data, trak, "edts", required=False)
        if not edts:
            return False
        e = pctest.child(data, edts, "elst")
        v, n = data[e[3]], pctest.u32(data, e[3] + 4)
        o = e[3] + 8
        for _ in range(n):
            mt = int.from_bytes(data[o + (8 if v == 1 else 4):o + (16 if v == 1 else 8)], "big", signed=True)
            if mt > 0:
                return True
            o += 20 if v == 1 else 12
    return False


def honours_edit_list():
    src = src_edit_list()
    check(_has_video_edit(src), "test source has no video edit list skipping media")
    pk = pack_ok([src])
    pr = probe(src, hashes=False)
    log("source first presented video %.4f s, audio %.4f s" %
        (first_presented(pr, "video"), first_presented(pr, "audio")))


def keeps_late_audio_offset():
    # audio starts 0.5 s after the video
    src = media("h264-aac-late-audio", "mp4", lavfi_video() + ["-itsoffset", "0.5"] + lavfi_audio(dur=7.5) +
                ["-map", "0:v", "-map", "1:a"] + x264() + AAC)
    pr = probe(src, hashes=False)
    off = first_presented(pr, "audio") - first_presented(pr, "video")
    check(abs(off - 0.5) < 0.025, "test source's audio starts %.3f s after video, wanted 0.5" % off)
    pk = pack_ok([src])   # verify_sync: every packet keeps its time, so the offset is kept
    v = [tv for tv in pk.tracks if tv.kind == "video"][0]
    a = [tv for tv in pk.tracks if tv.kind == "audio"][0]
    got = (float(min(p["t"] for p in a.out_pkts if not p["discard"])) -
           float(min(p["t"] for p in v.out_pkts if not p["discard"])))
    log("audio starts %.4f s after video in the source, %.4f s in the bundle" % (off, got))


def cuts_10s_gop_at_keyframes():
    # target 6 s, keyframes every 10 s: segments are 10 s, each starting at a keyframe
    src = src_h264_aac(dur=25, gop=240)
    pk = pack_ok([src])
    expect_video_segments(pk, 10)
    v = [tv for tv in pk.tracks if tv.kind == "video"][0]
    check(len(v.t["segments"]) == 3, "expected 3 segments (10 + 10 + 5 s), got %d" % len(v.t["segments"]))


def packs_59_94_fps():
    src = media("h264-aac-5994", "mp4", lavfi_video(rate="60000/1001") + lavfi_audio() +
                ["-map", "0:v", "-map", "1:a"] + x264(gop=60) + AAC)
    pk = pack_ok([src])
    v = [tv for tv in pk.tracks if tv.kind == "video"][0]
    check(v.t["frame_rate"] == "60000/1001", "frame_rate %r, expected 60000/1001" % v.t["frame_rate"])
    # keyframes every 60 frames = 1.001 s: the first at or after 6 s is at 6.006 s
    expect_video_segments(pk, 6.006)


def _ladder(name, gops):
    """Renditions of one source, same frames and timestamps, GOPs as given."""
    outs = []
    sizes = [(320, 240), (160, 120)]
    for (w, h), gop in zip(sizes, gops):
        outs.append(media("%s-%dp-g%d" % (name, h, gop), "mp4",
                          lavfi_video(dur=10) + ["-vf", "scale=%d:%d" % (w, h)] + x264(gop) + ["-an"]))
    return outs


def packs_aligned_ladder_from_separate_files():
    videos = _ladder("ladder", [24, 24])
    audio = media("ladder-audio-eng", "m4a", lavfi_audio(dur=10) + AAC + ["-metadata:s:a:0", "language=eng"])
    pk = pack_ok(videos + [audio])
    check(sorted((t.t.get("height") or 0) for t in pk.tracks) == [0, 120, 240],
          "expected tracks 240p, 120p and audio")
    a = [tv for tv in pk.tracks if tv.kind == "audio"][0]
    check(a.t["language"] == "eng", "audio language %r, expected eng" % a.t["language"])
    expect_video_segments(pk, 6)


def skips_unsupported_streams_with_warning():
    # PCM audio is not one of pagecast's codecs: skipped with a warning
    src = media("h264-aac-pcm", "mkv", lavfi_video() + lavfi_audio() + lavfi_audio(freq=880) +
                ["-map", "0:v", "-map", "1:a", "-map", "2:a"] + x264() +
                ["-c:a:0", "aac", "-b:a:0", "96k", "-ac", "2", "-c:a:1", "pcm_s16le"])
    pk = pack_ok([src], expect_warning="pcm")
    check(sorted(t.codec for t in pk.tracks) == ["aac", "h264"], "expected h264 + aac tracks only")


def segment_duration_2_on_1s_gop():
    src = src_h264_aac(dur=8, gop=24)
    pk = pack_ok([src], "--segment-duration", "2")
    expect_video_segments(pk, 2)
    for tv in pk.tracks:
        check(len(tv.t["segments"]) == 4, "track %d: %d segments, expected 4 of 2 s" %
              (tv.t["index"], len(tv.t["segments"])))


def honours_page_size_option():
    src = src_h264_aac()
    pk = pack_ok([src], "--page-size", "65536")
    check(pk.dump["page_size"] == 65536, "page_size %r, expected 65536" % pk.dump["page_size"])


DAMAGE_AT = 0.5         # fraction of the file
DAMAGE_LEN = 87 * 188   # whole TS packets, ~16 KiB


def packages_damaged_ts_middle_with_warning():
    intact = media("h264-aac-10s", "ts", lavfi_video(dur=10) + lavfi_audio(dur=10) +
                   ["-map", "0:v", "-map", "1:a"] + x264() + AAC)
    size = os.path.getsize(intact)
    start = int(size * DAMAGE_AT) // 188 * 188
    end = start + DAMAGE_LEN

    def damage(src, dst):
        with open(src, "rb") as f:
            data = bytearray(f.read())
        garbage = bytes(pctest.random.Random(7).getrandbits(8) for _ in range(DAMAGE_LEN))
        data[start:end] = garbage
        with open(dst, "wb") as f:
            f.write(data)
    src = derived("h264-aac-10s-damaged", "ts", intact, "garbage@%d+%d" % (start, DAMAGE_LEN), damage)

    pk = pack_ok([src], expect_warning="", exact_packets=False)
    # Which packets of the intact file touch the damaged bytes: a packet's
    # bytes run from its first TS packet to the next packet of its stream.
    ref = probe(intact, hashes=False)
    for tv in pk.tracks:
        s = [x for x in ref["streams"] if x["codec_name"] == tv.codec][0]
        pk_ = stream_packets(ref, s["index"])
        # packets split from one PES by a parser (ADTS frames) have no
        # position of their own: they share their PES's
        pos = []
        for p in pk_:
            pos.append(p["pos"] if p["pos"] is not None else (pos[-1] if pos else 0))
        pos.append(size)
        nxt = [next((q for q in pos[i + 1:] if q > pos[i]), size) for i in range(len(pk_))]
        hit = sum(1 for a, b in zip(pos, nxt) if a < end + 188 and b > start - 188)
        want = len(pk_) - hit
        got = len(tv.out_pkts)
        log("track %d (%s): intact %d packets, %d touch the damage, bundle has %d" %
            (tv.t["index"], tv.codec, len(pk_), hit, got))
        check(hit > 0 or tv.kind == "audio", "the damage missed the video (test setup)")
        check(got >= want, "track %d (%s): %d packets, but only %d of %d touch the damaged bytes: "
              "lost more than the damaged part" % (tv.t["index"], tv.codec, got, hit, len(pk_)))
        check(got <= len(pk_), "track %d: %d packets, more than the intact file's %d" %
              (tv.t["index"], got, len(pk_)))


STRAIGHT = "straight from the source file"


def _same_bundle(a, b, what):
    """Bundles @a and @b hold the same index (but for the generation and the
    creation time, which every packaging run makes anew) and the same bytes
    from the first blob on."""
    da, db = pctest.dump(a), pctest.dump(b)
    for d in (da, db):
        d.pop("generation")
        d.pop("created_unix_ms")
    check(da == db, "%s: the two bundles' indexes differ" % what)
    with open(a, "rb") as fa, open(b, "rb") as fb:
        fa.seek(da["data_offset"])
        fb.seek(da["data_offset"])
        check(fa.read() == fb.read(), "%s: the two bundles' segment bytes differ" % what)


def _same_as_copy_samples(pk, src, what, unsaid):
    """Packaging @src again with --copy-samples (every sample through
    libavformat, every input probed) succeeds, -v there does not say
    @unsaid, and the bundle is the same as @pk's."""
    copied = os.path.join(pk.outdir, "copied.pcb")
    p = pctest.pack([src], copied, "-v", "--copy-samples")
    check(p.returncode == 0 and unsaid not in p.stderr,
          "%s with --copy-samples: rc %d, stderr:\n%s" % (what, p.returncode, p.stderr))
    _same_bundle(pk.bundle, copied, what)


def writes_plain_mp4_samples_straight_from_the_source():
    """An unfragmented MP4 whose streams need no libavformat parser (H.264,
    HEVC, AAC; with an edit list too) has its samples written to the bundle
    from the source's mapping, with no copy through the demuxer: -v says so,
    pack_ok() checks every packet's bytes against ffprobe's reading of the
    source, and --copy-samples (every sample through libavformat) makes the
    very same bundle.  Inputs that need parsing or are read fragment by
    fragment (fragmented MP4, AC-3 in MP4, MPEG-TS, Matroska) never go that
    way, and package all the same."""
    straight = {
        "h264-aac mp4": src_h264_aac(),
        "edit-list mp4": src_edit_list(),
        "aac m4a": media("aac-only-14s", "m4a", lavfi_audio(dur=14) + AAC),
    }
    not_straight = {
        "fragmented mp4": pctest.src_fragmented(),
        "ac3 mp4": media("h264-ac3", "mp4", lavfi_video() + lavfi_audio() + ["-map", "0:v", "-map", "1:a"] +
                         x264() + ["-c:a", "ac3", "-b:a", "192k", "-ac", "2"]),
        "h264-aac mpegts": media("h264-aac", "ts", lavfi_video() + lavfi_audio() +
                                 ["-map", "0:v", "-map", "1:a"] + x264() + AAC),
    }
    for what, src in list(straight.items()) + list(not_straight.items()):
        pk = pack_ok([src], "-v")
        said = STRAIGHT in pk.proc.stderr
        check(said == (what in straight), "%s: -v %s %r:\n%s" %
              (what, "does not say" if not said else "says", STRAIGHT, pk.proc.stderr))
        if what in straight:
            _same_as_copy_samples(pk, src, what, STRAIGHT)
        log("%s: %s" % (what, "straight from the source, same bundle as --copy-samples"
                        if what in straight else "through libavformat"))


NO_PROBE = "from the sample descriptions, no probe"


def _no_container_sar(src, dst):
    """For derived(): @src (one video track) with nothing in its container
    that says a pixel aspect ratio, so that only the SPS does: the pasp box
    renamed free (same size), and tkhd's display width set to the coded
    width (a display size that differs from the coded one is a ratio too)."""
    with open(src, "rb") as f:
        data = bytearray(f.read())
    moov = next(b for b in pctest.boxes(data) if b[0] == "moov")
    at = data.find(b"pasp", moov[3], moov[2])
    check(at > 0, "%s has no pasp box in its moov" % src)
    data[at:at + 4] = b"free"
    trak = pctest.child(data, moov, "trak")
    tkhd = pctest.child(data, trak, "tkhd")
    width_at = tkhd[3] + (88 if data[tkhd[3]] == 1 else 76)
    data[width_at:width_at + 4] = (320 << 16).to_bytes(4, "big")
    with open(dst, "wb") as f:
        f.write(data)


def takes_pixel_aspect_ratio_from_container_then_bitstream():
    """A video track's pixel aspect ratio is the container's where it says
    one (a pasp box, or a display size other than the coded one), else the
    bitstream's (the SPS): the ranking of libavformat and of `ffmpeg -c copy`.
    The track record and the init segment's pasp box both say it.  A plain
    MP4 whose sample descriptions say everything is packaged without
    libavformat's probing decode (-v says so), into the same bundle as the
    probed --copy-samples path; one whose container says no ratio is probed,
    and its SPS gives it."""
    anamorphic = media("h264-sar4x3", "mp4", lavfi_video(dur=2) + ["-vf", "setsar=4/3"] + x264())
    cases = [
        ("pasp and SPS 4:3", anamorphic, "4:3", True),
        ("SPS 4:3 only", derived("h264-sar4x3-sps-only", "mp4", anamorphic, "pasp-free-tkhd320",
                                 _no_container_sar),
         "4:3", False),
        ("pasp 1:1, SPS 4:3", media("h264-pasp1-sps4x3", "mp4", lavfi_video(dur=2) + ["-vf", "setsar=1"] +
                                    x264(extra="sar=4/3")), "1:1", True),
    ]
    for what, src, sar, unprobed in cases:
        pk = pack_ok([src], "-v")
        said = NO_PROBE in pk.proc.stderr
        check(said == unprobed, "%s: -v %s %r:\n%s" %
              (what, "says" if said else "does not say", NO_PROBE, pk.proc.stderr))
        track = pctest.dump(pk.bundle)["tracks"][0]
        check(track["sar"] == sar, "%s: the track record says sar %s, not %s" % (what, track["sar"], sar))
        init = pctest.parse_init(pctest.read_blob(pk.bundle, track["init"]))
        pasp = pctest.sample_entry_child(init, "pasp")
        got = "%d:%d" % (pctest.u32(pasp, 0), pctest.u32(pasp, 4))
        check(got == sar, "%s: the init segment's pasp says %s, not %s" % (what, got, sar))
        _same_as_copy_samples(pk, src, what, NO_PROBE)
        log("%s: sar %s, %s" % (what, sar, "not probed" if unprobed else "probed"))


def _signal_sbr(src, dst):
    """For derived(): @src (FFmpeg's AAC-LC, whose 5-byte AudioSpecificConfig
    ends in the sync extension saying "no SBR") with that flag set: the
    config now signals HE-AAC, with a 48 kHz extension rate."""
    with open(src, "rb") as f:
        data = bytearray(f.read())
    asc = bytes.fromhex("119056e500")
    at = data.find(asc)
    check(at > 0 and data.find(asc, at + 1) < 0, "%s: no single AAC-LC 48 kHz stereo config" % src)
    data[at + 4] = 0x98                     # sbrPresentFlag 1, extension rate index 3
    with open(dst, "wb") as f:
        f.write(data)


def probes_aac_whose_config_is_not_plain_lc():
    """Only AAC-LC with 1024-sample frames, as its AudioSpecificConfig says,
    skips libavformat's probe: a config that signals SBR (HE-AAC, whose
    frames decode to 2048 samples) is probed, and still packaged."""
    lc = media("aac-only-14s", "m4a", lavfi_audio(dur=14) + AAC)
    he = derived("aac-only-14s-sbr", "m4a", lc, "asc-sbr-flag", _signal_sbr)
    for what, src, unprobed in (("AAC-LC", lc, True), ("SBR signalled", he, False)):
        out = os.path.join(pctest.workdir(), "out.pcb")
        p = pctest.pack([src], out, "-v")
        check(p.returncode == 0, "%s: rc %d, stderr:\n%s" % (what, p.returncode, p.stderr))
        said = NO_PROBE in p.stderr
        check(said == unprobed, "%s: -v %s %r:\n%s" %
              (what, "says" if said else "does not say", NO_PROBE, p.stderr))
        log("%s: %s" % (what, "not probed" if unprobed else "probed"))


def _peak_rss_kib(inputs, out, *opts):
    """Package @inputs into @out; @return the packager's peak resident set
    (ru_maxrss, which counts the source pages it has mapped in)."""
    # In a sanitizer build, ASan's quarantine of freed memory and its fill
    # of new blocks would count: measure the packager, not the sanitizer.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "quarantine_size_mb=0",
                                                 "max_malloc_fill_size=0"]))
    proc = subprocess.Popen([pctest.PACK, "-q"] + list(opts) + ["-o", out] + list(inputs),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    check(proc.returncode == 0, "packaging %s: rc %d: %s" % (inputs, proc.returncode, err))
    check(pctest.run([pctest.PACK, "--check", out]).returncode == 0, "%s does not check out" % out)
    return usage.ru_maxrss


def keeps_resident_memory_flat_as_sources_grow():
    """The packager gives the source's pages back once their samples are in
    the bundle, so its resident memory does not grow with the source: an
    2-minute source (about 190 MB of lossless H.264) peaks within a quarter
    of the size difference of a 10-second one, whether its samples go
    straight from the mapping, through the demuxer (--copy-samples) or come
    from MPEG-TS.  (2 s segments: what is resident is the pages of the
    segments in flight plus 8-16 MiB behind them.)"""
    def lossless(dur):
        return media("h264-lossless-720p-%ds" % dur, "mp4",
                     lavfi_video(w=1280, h=720, dur=dur) + lavfi_audio(dur=dur) + ["-map", "0:v", "-map", "1:a"] +
                     ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-g", "48", "-x264-params",
                      "threads=2"] + AAC)
    short, long_ = lossless(10), lossless(120)
    grow = os.path.getsize(long_) - os.path.getsize(short)
    check(grow > 64 << 20, "the long source is only %d bytes longer" % grow)
    ts = [derived(os.path.basename(src)[:-4], "ts", src, "copy-to-ts", pctest.remux([], ["-f", "mpegts"]))
          for src in (short, long_)]
    out = os.path.join(pctest.workdir(), "out.pcb")
    for what, pair, opts in (("direct", (short, long_), ()), ("--copy-samples", (short, long_), ("--copy-samples",)),
                             ("mpegts", ts, ())):
        a, b = (_peak_rss_kib([src], out, "-s", "2", *opts) for src in pair)
        check((b - a) * 1024 < grow / 4, "%s: peak RSS %d KiB for the 10 s source, %d KiB for the 2-minute one "
              "(%d MB more source)" % (what, a, b, grow >> 20))
        log("%s: peak RSS %d MiB for 10 s, %d MiB for 120 s (+%d MB of source)" % (what, a >> 10, b >> 10, grow >> 20))


CASES = {f.__name__: f for f in [
    packs_h264_with_bframes_mp4, packs_hevc_mp4, packs_av1_mp4, packs_vp9_opus_webm,
    packs_h264_aac_mkv, packs_h264_aac_mpegts, packs_aac_audio_only, packs_ac3_with_video,
    packs_eac3_audio_only, packs_mp3_audio_only_with_cover_art, packs_flac_audio_only,
    honours_edit_list, keeps_late_audio_offset, cuts_10s_gop_at_keyframes, packs_59_94_fps,
    packs_aligned_ladder_from_separate_files, skips_unsupported_streams_with_warning,
    segment_duration_2_on_1s_gop, honours_page_size_option, packages_damaged_ts_middle_with_warning,
    writes_plain_mp4_samples_straight_from_the_source, takes_pixel_aspect_ratio_from_container_then_bitstream,
    probes_aac_whose_config_is_not_plain_lc, keeps_resident_memory_flat_as_sources_grow,
]}

if __name__ == "__main__":
    pctest.main(CASES)
