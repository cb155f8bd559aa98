"""Shared helpers for pagecast's integration tests (Python 3 stdlib only).

The tests package media files that they make with ffmpeg, then check the
bundle from the outside, the way a player would see it: every blob
[offset, offset+size) named by `pagecast-pack --dump` is read from the bundle
file, a track's init segment + media segments are concatenated and demuxed
with ffprobe, and the packets are compared with the source's.

Environment (set by tests/integration/meson.build):
  PAGECAST_PACK   the pagecast-pack binary under test
  PC_TEST_MEDIA   cache directory for the media the tests make (per build dir)
  PC_SOURCE_ROOT  the source tree
  PC_KEEP=1       keep each test's work directory (printed) for inspection

A test script is a table of named cases; meson runs `script.py CASE`.  A case
passes by returning; it fails by raising Fail (or anything else).  Exit codes:
0 pass, 1 fail, 77 skip (meson's convention).
"""

import json
import os
import random
import re
import subprocess
import sys
import tempfile

# What the suites' helpers share is in tests/common/pclib.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))

import pclib  # noqa: E402  (after the path is set)
from pclib import (FFMPEG, FFPROBE, Fail, Skip, _cached, _key, _tb, check,  # noqa: E402,F401
                   describe_rc, ffmpeg_version, log, run)

PACK = os.environ.get("PAGECAST_PACK", "")
MEDIA_DIR = os.environ.get("PC_TEST_MEDIA") or os.path.join(
    tempfile.gettempdir(), "pagecast-test-media")

# Generous: a hang is a failure, but a sanitizer build on a slow CI box is not.
PACK_TIMEOUT = pclib.RUN_TIMEOUT

VIDEO_CODECS = {"h264", "hevc", "av1", "vp9"}
AUDIO_CODECS = {"aac", "mp3", "ac3", "eac3", "opus", "flac"}

# ISO BMFF sample entry expected for each codec in a CMAF init segment.
SAMPLE_ENTRY = {"h264": "avc1", "hevc": "hvc1", "av1": "av01", "vp9": "vp09",
                "aac": "mp4a", "mp3": "mp4a", "ac3": "ac-3", "eac3": "ec-3",
                "opus": "Opus", "flac": "fLaC"}

MS = 0.001


# ---------------------------------------------------------------- running

def main(cases):
    """Run the case named by argv[1] from the dict @cases (name -> function):
    returns if it passes, else exits 1 (fail) or 77 (skip)."""
    name = pclib.case_from_argv(cases)
    pclib.require_executables(("PAGECAST_PACK", PACK))
    rc = pclib.run_case(name, cases[name], [_cleanup_workdirs])
    if rc:
        sys.exit(rc)


_workdirs = []


def workdir():
    """A fresh directory for one test's outputs, removed at exit unless PC_KEEP."""
    d = tempfile.mkdtemp(prefix="pagecast-it-")
    _workdirs.append(d)
    return d


def _cleanup_workdirs():
    for d in _workdirs:
        pclib.remove_workdir(d)


# ---------------------------------------------------------------- media cache

def media(name, ext, args):
    """A media file made by `ffmpeg <args> OUT`, cached by command line.
    @return its absolute path (the name ends in .@ext, which picks the muxer
    unless @args has -f)."""
    return pclib.ffmpeg_media(MEDIA_DIR, name, ext, args)


def derived(name, ext, src, how, fn):
    """A file made from @src by the Python function fn(src_path, out_path);
    @how names the transformation in the cache key (change it with fn)."""
    path = os.path.join(MEDIA_DIR, "%s-%s.%s" % (name, _key(src, how), ext))
    return _cached(path, lambda tmp: fn(src, tmp))


# Building blocks for ffmpeg command lines.
def lavfi_video(w=320, h=240, rate="24", dur=8, src="testsrc2"):
    return ["-f", "lavfi", "-i", "%s=size=%dx%d:rate=%s:duration=%s" % (src, w, h, rate, dur)]


def lavfi_audio(freq=440, rate=48000, dur=8):
    return ["-f", "lavfi", "-i", "sine=frequency=%d:sample_rate=%d:duration=%s" % (freq, rate, dur)]


def x264(gop=24, bframes=3, extra=""):
    params = "threads=1" + (":" + extra if extra else "")
    return ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
            "-bf", str(bframes), "-x264-params", params]


AAC = ["-c:a", "aac", "-b:a", "96k", "-ac", "2"]


# ---------------------------------------------------------------- packager

def pack(inputs, out, *opts):
    """Run `pagecast-pack [opts] -o OUT INPUT...`."""
    return run([PACK] + list(opts) + ["-o", out] + list(inputs))


def dump(bundle):
    p = run([PACK, "--dump", bundle])
    check(p.returncode == 0, "--dump %s: %s\n%s" % (bundle, describe_rc(p.returncode), p.stderr))
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        raise Fail("--dump output is not JSON (%s):\n%s" % (e, p.stdout[:2000]))


def read_blob(bundle, blob):
    with open(bundle, "rb") as f:
        f.seek(blob["offset"])
        data = f.read(blob["size"])
    check(len(data) == blob["size"], "blob at %d+%d runs past the end of %s" %
          (blob["offset"], blob["size"], bundle))
    return data


def expect_refusal(p, path, outdir, what="", keep=()):
    """A refused input: exit 1, exactly one stderr line
    'pagecast-pack: <path>: <reason>', nothing left in @outdir but @keep.
    @path may be a list: the line must name one of them."""
    check(p.returncode == 1, "%sexpected exit 1, got %s; stderr:\n%s" %
          (what, describe_rc(p.returncode), p.stderr))
    lines = p.stderr.splitlines()
    check(len(lines) == 1, "%sexpected exactly one line on stderr, got %d:\n%s" %
          (what, len(lines), p.stderr))
    paths = path if isinstance(path, list) else [path]
    prefixes = ["pagecast-pack: %s: " % x for x in paths]
    hit = [x for x in prefixes if lines[0].startswith(x) and len(lines[0].strip()) > len(x)]
    check(hit, "%sstderr line does not start with %s and give a reason: %r" %
          (what, " or ".join(repr(x) for x in prefixes), lines[0]))
    left = sorted(set(os.listdir(outdir)) - set(keep))
    check(not left, "%sfiles left in the output directory: %s" % (what, left))
    return lines[0][len(hit[0]):]


# ---------------------------------------------------------------- ffprobe

def probe(path, packets=True, hashes=True):
    """ffprobe @path: {'streams': [...], 'format': {...}, 'packets': [...]}.
    Each packet gets 't' (pts in seconds, a Fraction, or None), 'key',
    'discard', 'pos', 'size' and 'hash'; each stream gets 'tb' (Fraction)."""
    cmd = [FFPROBE, "-v", "error", "-show_streams", "-show_format", "-show_data"]
    if packets:
        cmd += ["-show_packets"]
        if hashes:
            cmd += ["-show_data_hash", "MD5"]
    cmd += ["-of", "json", path]
    p = run(cmd, timeout=300)
    check(p.returncode == 0, "ffprobe %s failed: %s" % (path, p.stderr[-2000:]))
    d = json.loads(p.stdout)
    d.setdefault("packets", [])
    for s in d["streams"]:
        s["tb"] = _tb(s["time_base"])
        s["extradata_bytes"] = parse_hexdump(s.get("extradata", ""))
    for pk in d["packets"]:
        tb = d["streams"][pk["stream_index"]]["tb"]
        pk["t"] = pk["pts"] * tb if isinstance(pk.get("pts"), int) else None
        pk["key"] = pk.get("flags", "")[:1] == "K"
        pk["discard"] = "D" in pk.get("flags", "")
        pk["pos"] = int(pk["pos"]) if str(pk.get("pos", "")).lstrip("-").isdigit() else None
        pk["size"] = int(pk.get("size", 0))
        pk["hash"] = pk.get("data_hash")
    return d


def parse_hexdump(s):
    """ffprobe -show_data's hexdump ('00000000: 0164 000d ...  text') to bytes."""
    out = bytearray()
    for line in s.splitlines():
        m = re.match(r"^[0-9a-f]{8}: ((?:[0-9a-f]{2,4} ?)+)", line)
        if m:
            out += bytes.fromhex(m.group(1).replace(" ", ""))
    return bytes(out)


def stream_packets(d, index):
    return [p for p in d["packets"] if p["stream_index"] == index]


def usable_streams(d):
    """The streams pagecast must turn into tracks (cover art is not video)."""
    out = []
    for s in d["streams"]:
        if s.get("disposition", {}).get("attached_pic"):
            continue
        if s.get("codec_name") in VIDEO_CODECS | AUDIO_CODECS:
            out.append(s)
    return out


def frame_duration(pkts):
    """Typical packet duration (s) of an audio stream, from its timestamps."""
    ts = sorted(p["t"] for p in pkts if p["t"] is not None)
    gaps = sorted(b - a for a, b in zip(ts, ts[1:]) if b > a)
    return float(gaps[len(gaps) // 2]) if gaps else 0.0


# ---------------------------------------------------------------- ISO BMFF

def boxes(buf, start=0, end=None):
    """Yield (type, box_start, box_end, payload_start) for the boxes that
    exactly tile buf[start:end]; Fail if they do not."""
    end = len(buf) if end is None else end
    pos = start
    while pos < end:
        check(end - pos >= 8, "box header at %d overruns its parent (%d bytes left)" % (pos, end - pos))
        size = int.from_bytes(buf[pos:pos + 4], "big")
        typ = buf[pos + 4:pos + 8].decode("latin-1")
        hdr = 8
        if size == 1:
            check(end - pos >= 16, "largesize box at %d overruns" % pos)
            size = int.from_bytes(buf[pos + 8:pos + 16], "big")
            hdr = 16
        elif size == 0:
            size = end - pos
        check(size >= hdr and pos + size <= end,
              "box %r at %d has size %d, overrunning its parent (ends at %d)" % (typ, pos, size, end))
        yield typ, pos, pos + size, pos + hdr
        pos += size


def child(buf, parent, typ, required=True):
    """First child box of type @typ inside @parent (a tuple from boxes())."""
    for b in boxes(buf, parent[3], parent[2]):
        if b[0] == typ:
            return b
    check(not required, "no %r box inside %r" % (typ, parent[0]))
    return None


def u32(b, o):
    return int.from_bytes(b[o:o + 4], "big")


def u64(b, o):
    return int.from_bytes(b[o:o + 8], "big")


def parse_init(data):
    """Check a CMAF init segment (ftyp + moov with one trak and mvex) and
    return what the media segments and the codec string depend on."""
    top = list(boxes(data))
    types = [b[0] for b in top]
    check(types[:1] == ["ftyp"] and "moov" in types, "init segment boxes are %s, expected ftyp, moov" % types)
    check("moof" not in types and "mdat" not in types, "init segment carries media: %s" % types)
    moov = top[types.index("moov")]
    traks = [b for b in boxes(data, moov[3], moov[2]) if b[0] == "trak"]
    check(len(traks) == 1, "init segment has %d traks, CMAF wants 1" % len(traks))
    mvex = child(data, moov, "mvex")
    trex = child(data, mvex, "trex")
    trak = traks[0]
    mdia = child(data, trak, "mdia")
    mdhd = child(data, mdia, "mdhd")
    v = data[mdhd[3]]
    timescale = u32(data, mdhd[3] + (20 if v == 1 else 12))
    hdlr = child(data, mdia, "hdlr")
    handler = data[hdlr[3] + 8:hdlr[3] + 12].decode("latin-1")
    stsd = child(data, child(data, child(data, mdia, "minf"), "stbl"), "stsd")
    # stsd: full box header (4) + entry_count (4), then the sample entries
    entries = list(boxes(data, stsd[3] + 8, stsd[2]))
    check(len(entries) == 1, "stsd has %d entries, expected 1" % len(entries))
    entry = entries[0]
    elst = None
    edts = child(data, trak, "edts", required=False)
    if edts:
        e = child(data, edts, "elst", required=False)
        if e:
            elst = data[e[3]:e[2]]
    return {
        "timescale": timescale,
        "handler": handler,
        "entry": entry[0],
        "entry_box": entry,
        "data": data,
        "default_duration": u32(data, trex[3] + 12),
        "elst": elst,
    }


def sample_entry_child(init, typ):
    """A box inside the sample entry (avcC, hvcC, av1C, vpcC, esds, dOps, ...)."""
    data, e = init["data"], init["entry_box"]
    # skip the fixed part of a VisualSampleEntry (78 bytes) / AudioSampleEntry (28)
    fixed = 78 if init["handler"] == "vide" else 28
    for b in boxes(data, e[3] + fixed, e[2]):
        if b[0] == typ:
            return data[b[3]:b[2]]
    raise Fail("sample entry %r has no %r box" % (init["entry"], typ))


def parse_segment(data, init):
    """Check a CMAF media segment: optional styp/sidx/prft/emsg, then one or
    more moof + mdat pairs, nothing else, exactly filling the blob.  Returns
    {'seq': [mfhd numbers], 'tfdt': first base decode time, 'samples': n,
    'duration': sum of sample durations (track timescale)}."""
    top = list(boxes(data))
    types = [b[0] for b in top]
    i = 0
    while i < len(types) and types[i] in ("styp", "sidx", "prft", "emsg"):
        i += 1
    rest = types[i:]
    check(rest and len(rest) % 2 == 0 and all(rest[j] == "moof" and rest[j + 1] == "mdat"
                                              for j in range(0, len(rest), 2)),
          "media segment boxes are %s, expected [styp] (moof mdat)+" % types)
    out = {"seq": [], "tfdt": None, "samples": 0, "duration": 0}
    for j in range(i, len(top), 2):
        moof, mdat = top[j], top[j + 1]
        mfhd = child(data, moof, "mfhd")
        out["seq"].append(u32(data, mfhd[3] + 4))
        trafs = [b for b in boxes(data, moof[3], moof[2]) if b[0] == "traf"]
        check(len(trafs) == 1, "moof has %d trafs, CMAF wants 1" % len(trafs))
        traf = trafs[0]
        tfhd = child(data, traf, "tfhd")
        flags = u32(data, tfhd[3]) & 0xFFFFFF
        check(flags & 0x020000, "tfhd lacks default-base-is-moof (flags %06x)" % flags)
        check(not flags & 0x000001, "tfhd has a base-data-offset (flags %06x); CMAF forbids it" % flags)
        o = tfhd[3] + 8
        o += 8 if flags & 0x01 else 0
        o += 4 if flags & 0x02 else 0
        default_dur = u32(data, o) if flags & 0x08 else init["default_duration"]
        tfdt = child(data, traf, "tfdt")
        bdt = u64(data, tfdt[3] + 4) if data[tfdt[3]] == 1 else u32(data, tfdt[3] + 4)
        if out["tfdt"] is None:
            out["tfdt"] = bdt
        truns = [b for b in boxes(data, traf[3], traf[2]) if b[0] == "trun"]
        check(truns, "traf has no trun")
        for trun in truns:
            tflags = u32(data, trun[3]) & 0xFFFFFF
            n = u32(data, trun[3] + 4)
            check(tflags & 0x01, "trun has no data offset")
            doff = int.from_bytes(data[trun[3] + 8:trun[3] + 12], "big", signed=True)
            check(mdat[3] <= moof[1] + doff <= mdat[2],
                  "trun data offset %d points outside the following mdat" % doff)
            o = trun[3] + 12 + (4 if tflags & 0x04 else 0)
            per = sum(4 for bit in (0x100, 0x200, 0x400, 0x800) if tflags & bit)
            for k in range(n):
                out["duration"] += u32(data, o + k * per) if tflags & 0x100 else default_dur
            out["samples"] += n
    return out


# Codec strings (RFC 6381 and the codec-specific ISO BMFF bindings), derived
# here from the init segment's own configuration boxes.

def hevc_codecs(hvcc):
    b1 = hvcc[1]
    space = "" if b1 >> 6 == 0 else "ABC"[(b1 >> 6) - 1]
    tier = "H" if b1 & 0x20 else "L"
    compat = int.from_bytes(hvcc[2:6], "big")
    rev = int("{:032b}".format(compat)[::-1], 2)
    cons = list(hvcc[6:12])
    while cons and cons[-1] == 0:
        cons.pop()
    s = "hvc1.%s%d.%X.%s%d" % (space, b1 & 0x1F, rev, tier, hvcc[12])
    return s + "".join(".%X" % c for c in cons)


def av1_codecs(av1c):
    profile = av1c[1] >> 5
    level = av1c[1] & 0x1F
    tier = "H" if av1c[2] & 0x80 else "M"
    depth = 12 if (av1c[2] & 0x40 and profile == 2 and av1c[2] & 0x20) else 10 if av1c[2] & 0x40 else 8
    return "av01.%d.%02d%s.%02d" % (profile, level, tier, depth)


def av1_long_tail(av1c):
    """The optional fields after av01.P.LLT.DD that av1C determines:
    .M.CCC (monochrome, subsampling_x, subsampling_y, chroma_sample_position)."""
    b = av1c[2]
    return ".%d.%d%d%d" % ((b >> 4) & 1, (b >> 3) & 1, (b >> 2) & 1, b & 3)


def same_codecs(got, want, codec, av1c=None):
    """RFC 6381 hex digits are case-insensitive; AV1 strings may carry the
    optional colour fields (AV1 in ISOBMFF, Codecs Parameter String)."""
    if got.lower() == want.lower():
        return True
    if codec == "av1" and got.startswith(want + "."):
        tail = got[len(want):]
        m = re.fullmatch(r"(\.[01]\.[01]{2}[0-3])\.\d\d\.\d\d\.\d\d\.[01]", tail)
        return bool(m) and (av1c is None or m.group(1) == av1_long_tail(av1c))
    return False


def esds_oti_aot(esds):
    """(objectTypeIndication, AAC audio object type or None) from an esds box."""
    b = esds[4:]   # skip the full box header

    def desc(o):
        tag = b[o]
        o += 1
        size = 0
        for _ in range(4):
            c = b[o]
            o += 1
            size = (size << 7) | (c & 0x7F)
            if not c & 0x80:
                break
        return tag, o, size
    tag, o, size = desc(0)
    check(tag == 3, "esds does not start with an ES_Descriptor")
    flags = b[o + 2]
    o += 3
    if flags & 0x80:
        o += 2
    if flags & 0x40:
        o += 1 + b[o]
    if flags & 0x20:
        o += 2
    tag, o, size = desc(o)
    check(tag == 4, "esds has no DecoderConfigDescriptor")
    oti = b[o]
    aot = None
    o2 = o + 13
    if o2 < len(b) and b[o2] == 5:
        tag, o3, size = desc(o2)
        aot = b[o3] >> 3
        if aot == 31:
            aot = 32 + (((b[o3] & 7) << 3) | (b[o3 + 1] >> 5))
    return oti, aot


def expected_codecs(init, codec):
    """The codec string the init segment's configuration implies: a string
    for an exact match, or a compiled regex."""
    if codec == "h264":
        c = sample_entry_child(init, "avcC")
        return "avc1.%02X%02X%02X" % (c[1], c[2], c[3])
    if codec == "hevc":
        return hevc_codecs(sample_entry_child(init, "hvcC"))
    if codec == "av1":
        return av1_codecs(sample_entry_child(init, "av1C"))
    if codec == "vp9":
        c = sample_entry_child(init, "vpcC")   # full box: 4 bytes, then profile, level, depth<<4|...
        return re.compile(r"vp09\.%02d\.%02d\.%02d(\.\d\d){0,5}$" % (c[4], c[5], c[6] >> 4))
    if codec in ("aac", "mp3"):
        oti, aot = esds_oti_aot(sample_entry_child(init, "esds"))
        if oti == 0x40:
            return "mp4a.40.%d" % aot
        return re.compile(r"mp4a\.%02x$" % oti, re.I)
    if codec == "ac3":
        return "ac-3"
    if codec == "eac3":
        return "ec-3"
    if codec == "opus":
        return "opus"
    if codec == "flac":
        return re.compile(r"(fLaC|flac)$")
    raise Fail("no codec string rule for %s" % codec)


# What the codec string must look like regardless of the init segment, for
# the sources these tests make (High-profile x264, Main HEVC, AV1 Main 8-bit,
# VP9 profile 0 8-bit, AAC-LC, MPEG-1 Layer III).
CODECS_SHAPE = {
    "h264": r"avc1\.(64|4[dD]|42)[0-9A-Fa-f]{4}$",
    "hevc": r"hvc1\.1\.6\.L\d+(\.[0-9A-Fa-f]{1,2}){0,6}$",
    "av1": r"av01\.0\.\d\d[MH]\.08(\..*)?$",
    "vp9": r"vp09\.00\.(10|11|20|21|30|31|40|41|50|51|52|60|61|62)\.08(\.\d\d){0,5}$",
    "aac": r"mp4a\.40\.2$",
    "mp3": r"mp4a\.6[Bb]$",
    "ac3": r"ac-3$",
    "eac3": r"ec-3$",
    "opus": r"opus$",
    "flac": r"(fLaC|flac)$",
}


def source_codecs(stream):
    """The codec string implied by the source's own parameter sets, where the
    source carries them in a form we can read (avcC/hvcC/av1C extradata)."""
    x = stream.get("extradata_bytes", b"")
    c = stream["codec_name"]
    if c == "h264":
        if x[:1] == b"\x01" and len(x) >= 4:
            return "avc1.%02X%02X%02X" % (x[1], x[2], x[3])
        m = re.search(b"\x00\x00\x01([\x27\x47\x67])(...)", x, re.S)
        if m:
            return "avc1.%02X%02X%02X" % tuple(m.group(2))
    if c == "hevc" and x[:1] == b"\x01" and len(x) >= 23:
        return hevc_codecs(x)
    if c == "av1" and x[:1] == b"\x81" and len(x) >= 4:
        return av1_codecs(x)
    return None


# ---------------------------------------------------------------- the checks

def fsec(x):
    return float(x)


class Packed:
    """A bundle made from good inputs and verified (see verify())."""

    def __init__(self, inputs, opts, tmp):
        self.inputs = list(inputs)
        self.opts = list(opts)
        self.tmp = tmp
        self.outdir = os.path.join(tmp, "out")
        os.mkdir(self.outdir)
        self.bundle = os.path.join(self.outdir, "title.pcb")
        self.proc = None
        self.dump = None
        self.tracks = []   # TrackView, in bundle order


class TrackView:
    def __init__(self, t):
        self.t = t
        self.kind = t["kind"]
        self.codec = t["codec"]
        self.src = None          # source stream (ffprobe dict)
        self.src_input = None
        self.src_pkts = None
        self.out_pkts = None     # packets of init + all segments, decode order
        self.seg_pkts = []       # per segment: its packets (from the full file)
        self.init = None
        self.seg_info = []


def pack_ok(inputs, *opts, expect_warning=None, exact_packets=True, check_sync=True,
            same_payload=None):
    """Package good @inputs and verify everything a player relies on.

    @expect_warning  None: stderr is not checked; a string: stderr must have
                     a line starting 'pagecast-pack: ' that contains it
                     (case-insensitive)
    @exact_packets   every track demuxes to exactly the source's packets
                     (same count, same timestamps up to one constant shift
                     per title, same bytes unless the source is MPEG-TS,
                     whose Annex B / ADTS framing the packager must convert)
    @check_sync      the per-track timestamp shift is the same for all
                     tracks (the A/V offset is the source's)
    """
    pk = Packed(inputs, opts, workdir())
    p = pack(inputs, pk.bundle, *opts)
    pk.proc = p
    check(p.returncode == 0, "pagecast-pack %s: %s, expected 0; stderr:\n%s" %
          (" ".join(list(opts) + list(inputs)), describe_rc(p.returncode), p.stderr))
    if p.stderr:
        log("pagecast-pack stderr:\n" + p.stderr.rstrip())
    if expect_warning is not None:
        lines = [ln for ln in p.stderr.splitlines()
                 if ln.startswith("pagecast-pack: ") and expect_warning.lower() in ln.lower()]
        check(lines, "expected a warning line mentioning %r on stderr, got:\n%s" %
              (expect_warning, p.stderr))
    left = sorted(os.listdir(pk.outdir))
    check(left == ["title.pcb"], "output directory holds %s, expected only title.pcb" % left)

    c = run([PACK, "--check", pk.bundle])
    check(c.returncode == 0, "--check of a fresh bundle: %s\n%s%s" %
          (describe_rc(c.returncode), c.stdout, c.stderr))

    pk.dump = dump(pk.bundle)
    verify_layout(pk)
    match_tracks(pk)
    for tv in pk.tracks:
        verify_track(pk, tv, exact_packets, same_payload)
    verify_alignment_across_tracks(pk)
    if check_sync and exact_packets:
        verify_sync(pk)
    return pk


def verify_layout(pk):
    d = pk.dump
    size = os.path.getsize(pk.bundle)
    ps = d.get("page_size")
    check(isinstance(ps, int) and ps >= 4096 and ps & (ps - 1) == 0,
          "page_size %r is not a power of two >= 4096" % ps)
    if "--page-size" not in pk.opts:
        check(ps == 4096, "default page_size is %d, expected 4096" % ps)
    check(isinstance(d.get("generation"), str) and re.fullmatch(r"[0-9a-fA-F]+", d["generation"]),
          "generation %r is not a hex string" % d.get("generation"))
    tracks = d.get("tracks")
    check(isinstance(tracks, list) and tracks, "dump has no tracks")
    check([t.get("index") for t in tracks] == list(range(len(tracks))),
          "track indices are %s, expected 0..%d" % ([t.get("index") for t in tracks], len(tracks) - 1))
    blobs = []
    for t in tracks:
        check(t.get("kind") in ("video", "audio"), "track %d: kind %r" % (t["index"], t.get("kind")))
        check(t["segments"], "track %d has no segments" % t["index"])
        blobs.append(("track %d init" % t["index"], t["init"]))
        for i, s in enumerate(t["segments"]):
            blobs.append(("track %d segment %d" % (t["index"], i), s))
    for name, b in blobs:
        check(b["size"] > 0, "%s is empty" % name)
        check(b["offset"] % ps == 0, "%s offset %d is not a multiple of the page size %d" %
              (name, b["offset"], ps))
        check(b["offset"] >= ps, "%s offset %d lies in page 0 (the header)" % (name, b["offset"]))
        check(b["offset"] + b["size"] <= size, "%s [%d, +%d) runs past the end of the %d-byte file" %
              (name, b["offset"], b["size"], size))
    order = sorted(blobs, key=lambda nb: nb[1]["offset"])
    for (n1, b1), (n2, b2) in zip(order, order[1:]):
        check(b1["offset"] + b1["size"] <= b2["offset"], "%s overlaps %s" % (n1, n2))


def _attrs_match(t, s, src_input):
    if t["codec"] != s["codec_name"]:
        return False
    if t["kind"] == "video":
        return t.get("width") == s.get("width") and t.get("height") == s.get("height")
    lang = s.get("tags", {}).get("language", "und")
    return (t.get("sample_rate") == int(s.get("sample_rate", 0)) and
            t.get("channels") == s.get("channels") and t.get("language", "und") == lang)


def match_tracks(pk):
    """Pair every usable source stream with one bundle track (by codec,
    resolution / rate / channels / language, in input and stream order)."""
    sources = []
    for path in pk.inputs:
        pr = probe(path)
        for s in usable_streams(pr):
            sources.append((path, pr, s))
    tracks = pk.dump["tracks"]
    check(len(tracks) == len(sources),
          "bundle has %d tracks, the inputs have %d usable streams (%s)" %
          (len(tracks), len(sources), ", ".join("%s#%d %s" % (os.path.basename(p), s["index"], s["codec_name"])
                                                for p, _, s in sources)))
    free = list(range(len(tracks)))
    views = [None] * len(tracks)
    for path, pr, s in sources:
        hit = [i for i in free if _attrs_match(tracks[i], s, path)]
        check(hit, "no track matches source stream %s#%d (%s); tracks: %s" %
              (path, s["index"], s["codec_name"],
               json.dumps([{k: t.get(k) for k in ("index", "kind", "codec", "width", "height",
                                                 "sample_rate", "channels", "language")}
                           for t in tracks])))
        i = hit[0]
        free.remove(i)
        tv = TrackView(tracks[i])
        tv.src, tv.src_input = s, path
        tv.src_format = pr["format"]["format_name"]
        tv.src_pkts = stream_packets(pr, s["index"])
        views[i] = tv
    pk.tracks = views


def verify_track(pk, tv, exact_packets, same_payload):
    t, s = tv.t, tv.src
    name = "track %d (%s from %s#%d)" % (t["index"], t["codec"], os.path.basename(tv.src_input), s["index"])
    want_kind = "video" if s["codec_type"] == "video" else "audio"
    check(t["kind"] == want_kind, "%s: kind %s, expected %s" % (name, t["kind"], want_kind))

    # Init segment: CMAF structure, timescale, handler, sample entry, codec string.
    init_data = read_blob(pk.bundle, t["init"])
    tv.init = init = parse_init(init_data)
    check(init["timescale"] == t["timescale"], "%s: mdhd timescale %d, dump says %d" %
          (name, init["timescale"], t["timescale"]))
    check(init["handler"] == ("vide" if want_kind == "video" else "soun"),
          "%s: handler %r" % (name, init["handler"]))
    check(init["entry"] == SAMPLE_ENTRY[t["codec"]], "%s: sample entry %r, expected %r" %
          (name, init["entry"], SAMPLE_ENTRY[t["codec"]]))
    codecs = t.get("codecs", "")
    check(re.match(CODECS_SHAPE[t["codec"]], codecs), "%s: codecs %r does not look like %s" %
          (name, codecs, CODECS_SHAPE[t["codec"]]))
    exp = expected_codecs(init, t["codec"])
    av1c = sample_entry_child(init, "av1C") if t["codec"] == "av1" else None
    if isinstance(exp, str):
        check(same_codecs(codecs, exp, t["codec"], av1c),
              "%s: codecs %r, but the init segment's configuration says %r" % (name, codecs, exp))
    else:
        check(exp.match(codecs), "%s: codecs %r does not match the init segment's configuration (%s)" %
              (name, codecs, exp.pattern))
    src_exp = source_codecs(s)
    if src_exp:
        check(same_codecs(codecs, src_exp, t["codec"]),
              "%s: codecs %r, but the source's parameter sets say %r" % (name, codecs, src_exp))

    # Track attributes.
    lang = s.get("tags", {}).get("language", "und")
    check(t.get("language") == lang, "%s: language %r, source has %r" % (name, t.get("language"), lang))
    check(t.get("bitrate_avg", 0) > 0 and t.get("bitrate_peak", 0) >= t["bitrate_avg"],
          "%s: bitrate_peak %r / bitrate_avg %r (want peak >= avg > 0)" %
          (name, t.get("bitrate_peak"), t.get("bitrate_avg")))
    if want_kind == "video":
        check((t.get("width"), t.get("height")) == (s["width"], s["height"]),
              "%s: %sx%s, source is %dx%d" % (name, t.get("width"), t.get("height"), s["width"], s["height"]))
        fr = t.get("frame_rate", "")
        check(re.fullmatch(r"\d+/\d+", fr or "") is not None, "%s: frame_rate %r is not num/den" % (name, fr))
        src_fr = _tb(s["avg_frame_rate"]) if s.get("avg_frame_rate", "0/0") != "0/0" else _tb(s["r_frame_rate"])
        check(abs(float(_tb(fr)) / float(src_fr) - 1) < 0.002,
              "%s: frame_rate %s, source has %s" % (name, fr, src_fr))
        for seg in t["segments"]:
            check(seg.get("key") is True, "%s: a video segment is not marked key: %s" % (name, seg))
    else:
        check(t.get("sample_rate") == int(s["sample_rate"]), "%s: sample_rate %r, source %s" %
              (name, t.get("sample_rate"), s["sample_rate"]))
        check(t.get("channels") == s["channels"], "%s: channels %r, source %s" %
              (name, t.get("channels"), s["channels"]))

    # Segment index: times consistent with ticks, contiguous, non-empty.
    ts = t["timescale"]
    segs = t["segments"]
    for i, seg in enumerate(segs):
        check(seg["samples"] > 0 and seg["duration_ts"] > 0, "%s: segment %d is empty: %s" % (name, i, seg))
        check(abs(seg["start"] - seg["start_ts"] / ts) < MS and abs(seg["duration"] - seg["duration_ts"] / ts) < MS,
              "%s: segment %d seconds disagree with its ticks: %s" % (name, i, seg))
        if i + 1 < len(segs):
            check(seg["start_ts"] + seg["duration_ts"] == segs[i + 1]["start_ts"],
                  "%s: segment %d ends at %d ticks, segment %d starts at %d" %
                  (name, i, seg["start_ts"] + seg["duration_ts"], i + 1, segs[i + 1]["start_ts"]))

    # Media segments: CMAF structure, continuous decode times, sample counts.
    seg_data = [read_blob(pk.bundle, seg) for seg in segs]
    prev = None
    for i, (seg, data) in enumerate(zip(segs, seg_data)):
        info = parse_segment(data, init)
        tv.seg_info.append(info)
        check(info["samples"] == seg["samples"], "%s: segment %d: trun has %d samples, dump says %d" %
              (name, i, info["samples"], seg["samples"]))
        if prev is not None:
            check(info["tfdt"] == prev["tfdt"] + prev["duration"],
                  "%s: segment %d tfdt %d, but segment %d ended at %d (a gap or overlap)" %
                  (name, i, info["tfdt"], i - 1, prev["tfdt"] + prev["duration"]))
            check(info["seq"][0] > prev["seq"][-1], "%s: segment %d mfhd sequence %d does not increase" %
                  (name, i, info["seq"][0]))
        prev = info

    # The whole track as a player sees it: init + every segment.
    full = os.path.join(pk.tmp, "track%d.mp4" % t["index"])
    with open(full, "wb") as f:
        f.write(init_data)
        for data in seg_data:
            f.write(data)
    pr = probe(full)
    check(len(pr["streams"]) == 1, "%s: init + segments demux to %d streams" % (name, len(pr["streams"])))
    tv.out_tb = pr["streams"][0]["tb"]
    out = tv.out_pkts = stream_packets(pr, 0)
    src = tv.src_pkts
    if exact_packets:
        check(len(out) == len(src), "%s: init + segments demux to %d packets, the source stream has %d" %
              (name, len(out), len(src)))
        if same_payload is None:
            same_payload = "mpegts" not in tv.src_format
        if same_payload:
            for k, (a, b) in enumerate(zip(src, out)):
                check(a["hash"] == b["hash"] and a["size"] == b["size"],
                      "%s: packet %d differs from the source's (size %d vs %d)" % (name, k, b["size"], a["size"]))
        for k, (a, b) in enumerate(zip(src, out)):
            check(a["key"] == b["key"], "%s: packet %d keyframe flag %s, source %s" % (name, k, b["key"], a["key"]))

    # Which packets belong to which segment (by their byte position).
    bounds = []
    pos = len(init_data)
    for data in seg_data:
        bounds.append((pos, pos + len(data)))
        pos += len(data)
    tv.seg_pkts = [[] for _ in segs]
    for p in out:
        check(p["pos"] is not None, "%s: ffprobe gave no position for a packet" % name)
        idx = [i for i, (a, b) in enumerate(bounds) if a <= p["pos"] < b]
        check(len(idx) == 1, "%s: packet at %d lies in no segment" % (name, p["pos"]))
        tv.seg_pkts[idx[0]].append(p)
    for i, (seg, sp) in enumerate(zip(segs, tv.seg_pkts)):
        check(len(sp) == seg["samples"], "%s: segment %d demuxes to %d packets, dump says %d" %
              (name, i, len(sp), seg["samples"]))
        if want_kind == "video":
            check(sp[0]["key"], "%s: segment %d does not start with a keyframe (flags %s)" %
                  (name, i, sp[0].get("flags")))

    # Each segment on its own (a player that starts or seeks there): init +
    # that segment alone demuxes to the same packets with the same times.
    for i, data in enumerate(seg_data):
        one = os.path.join(pk.tmp, "track%d-seg%d.mp4" % (t["index"], i))
        with open(one, "wb") as f:
            f.write(init_data)
            f.write(data)
        alone = stream_packets(probe(one, hashes=False), 0)
        os.unlink(one)
        check(len(alone) == segs[i]["samples"], "%s: init + segment %d alone demuxes to %d packets, expected %d" %
              (name, i, len(alone), segs[i]["samples"]))
        if want_kind == "video":
            check(alone[0]["key"], "%s: init + segment %d alone does not start with a keyframe" % (name, i))
        got = [p["pts"] for p in alone]
        want = [p["pts"] for p in tv.seg_pkts[i]]
        check(got == want, "%s: segment %d alone gives timestamps %s..., in sequence %s... (tfdt wrong?)" %
              (name, i, got[:4], want[:4]))

    # The index's start times are the segments' real first presentation times
    # (up to one constant offset per title, checked across tracks later).
    tv.start_offsets = []
    for i, (seg, sp) in enumerate(zip(segs, tv.seg_pkts)):
        if sp[0]["t"] is not None:
            tv.start_offsets.append(seg["start"] - fsec(sp[0]["t"]))
    tol = MS + fsec(tv.out_tb)
    if len(tv.start_offsets) > 2:
        # segment 0 may start at the title's zero rather than at its first sample
        rest = tv.start_offsets[1:]
        check(max(rest) - min(rest) <= tol,
              "%s: segment start times drift from the packets' times by %.4f..%.4f s" %
              (name, min(rest), max(rest)))

    # Average bitrate: payload bits over duration (boxes add a little).
    dur = sum(seg["duration"] for seg in segs)
    payload = sum(p["size"] for p in out) * 8 / dur
    check(0.8 * payload <= t["bitrate_avg"] <= 1.25 * payload + 2000,
          "%s: bitrate_avg %d, but its payload alone is %.0f bit/s" % (name, t["bitrate_avg"], payload))


def _shift_tolerance(tv):
    return MS + fsec(tv.src["tb"]) + fsec(tv.out_tb)


def verify_sync(pk):
    """Every packet of every track keeps its source presentation time, up to
    one shift common to the whole title: so the A/V offset is the source's."""
    shifts = []
    for tv in pk.tracks:
        sh = [fsec(b["t"] - a["t"]) for a, b in zip(tv.src_pkts, tv.out_pkts)
              if a["t"] is not None and b["t"] is not None]
        check(sh, "track %d: no timestamps to compare" % tv.t["index"])
        sh.sort()
        tol = _shift_tolerance(tv)
        check(sh[-1] - sh[0] <= tol, "track %d (%s): packet times move by %.4f..%.4f s relative to the "
              "source, not by one constant (tolerance %.4f s)" % (tv.t["index"], tv.codec, sh[0], sh[-1], tol))
        shifts.append((tv, sh[len(sh) // 2]))
    ref_tv, ref = shifts[0]
    for tv, sh in shifts[1:]:
        tol = _shift_tolerance(tv) + _shift_tolerance(ref_tv)
        check(abs(sh - ref) <= tol,
              "track %d (%s) is shifted %.4f s from its source, track %d (%s) %.4f s: the A/V offset "
              "changed by %.1f ms" % (tv.t["index"], tv.codec, sh, ref_tv.t["index"], ref_tv.codec, ref,
                                      (sh - ref) * 1000))
    # The index timelines of all tracks agree too.
    offs = [(tv, sorted(tv.start_offsets[1:])) for tv in pk.tracks if len(tv.start_offsets) > 1]
    if len(offs) > 1:
        (tv0, o0) = offs[0]
        for tv, o in offs[1:]:
            m0, m = o0[len(o0) // 2], o[len(o) // 2]
            check(abs(m - m0) <= _shift_tolerance(tv) + _shift_tolerance(tv0),
                  "the dump's segment start times of track %d and track %d use timelines %.4f s apart" %
                  (tv0.t["index"], tv.t["index"], m - m0))


def audio_half_frame(pk):
    fr = [frame_duration(tv.src_pkts) for tv in pk.tracks if tv.kind == "audio"]
    return max(fr) / 2 if fr else 0.0


def verify_alignment_across_tracks(pk):
    """All tracks are cut at the same times: the same number of segments and,
    after the first, starts within half an audio frame of each other."""
    if len(pk.tracks) < 2:
        return
    counts = [len(tv.t["segments"]) for tv in pk.tracks]
    check(len(set(counts)) == 1, "tracks have different segment counts: %s" % counts)
    tol = audio_half_frame(pk) + MS + max(fsec(tv.out_tb) for tv in pk.tracks)
    videos = [tv for tv in pk.tracks if tv.kind == "video"]
    for i in range(1, counts[0]):
        starts = [(tv.t["index"], tv.t["segments"][i]["start"]) for tv in pk.tracks]
        vs = [tv.t["segments"][i]["start"] for tv in videos]
        check(not vs or max(vs) - min(vs) <= MS, "segment %d: video tracks start at different times: %s" %
              (i, starts))
        ss = [s for _, s in starts]
        check(max(ss) - min(ss) <= tol, "segment %d starts at %s (track, seconds): more than %.4f s apart" %
              (i, starts, tol))


def expect_video_segments(pk, seg_len, last_max=None):
    """Every video segment but the last lasts @seg_len seconds (the first
    keyframe at or after each multiple of the target, on a regular GOP)."""
    for tv in pk.tracks:
        if tv.kind != "video":
            continue
        segs = tv.t["segments"]
        durs = [round(s["duration"], 4) for s in segs]
        tol = MS + fsec(tv.out_tb)
        for i, s in enumerate(segs[:-1]):
            check(abs(s["duration"] - seg_len) <= tol, "track %d: segment durations %s, expected %s s "
                  "but the last" % (tv.t["index"], durs, seg_len))
        check(segs[-1]["duration"] <= seg_len + tol, "track %d: last segment %.3f s, longer than %s" %
              (tv.t["index"], segs[-1]["duration"], seg_len))


def expect_audio_only_segments(pk, target):
    """Audio-only: boundaries at the audio frame nearest each multiple of
    the target (counted from the first segment's start)."""
    for tv in pk.tracks:
        segs = tv.t["segments"]
        frame = frame_duration(tv.src_pkts)
        t0 = segs[0]["start"]
        for i, s in enumerate(segs[1:], 1):
            check(abs((s["start"] - t0) - i * target) <= frame + MS,
                  "track %d: segment %d starts at %.4f s, expected %.3f s +/- one frame" %
                  (tv.t["index"], i, s["start"] - t0, i * target))
        end = segs[-1]["start"] + segs[-1]["duration"]
        # a cut within a frame or two of the end may or may not be made
        hi = 1 + sum(1 for k in range(1, 1000) if t0 + k * target < end - MS)
        lo = 1 + sum(1 for k in range(1, 1000) if t0 + k * target < end - 2 * frame)
        check(lo <= len(segs) <= hi, "track %d: %d segments for %.3f s of audio at %s s, expected %s" %
              (tv.t["index"], len(segs), end - t0, target, lo if lo == hi else "%d or %d" % (lo, hi)))


# ---------------------------------------------------------------- file tools

def write_random(path, n, seed):
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(n)))


def truncate_copy(src, dst, fraction):
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data[:int(len(data) * fraction)])


def top_level_boxes(path):
    with open(path, "rb") as f:
        data = f.read()
    return [(b[0], b[1], b[2]) for b in boxes(data)], data


# Sources more than one suite packages (the integration and origin suites
# share <build>/test-media, so one recipe means one cached file).
def src_h264_aac(dur=8, gop=24, bframes=3):
    """H.264 (High, B-frames, closed GOP of @gop frames at 24 fps) + stereo AAC."""
    return media("h264-aac-%ds-g%d-b%d" % (dur, gop, bframes), "mp4",
                 lavfi_video(dur=dur) + lavfi_audio(dur=dur) +
                 ["-map", "0:v", "-map", "1:a"] + x264(gop, bframes) + AAC)


def remux(before, after):
    """For derived(): `ffmpeg BEFORE -i SRC -map 0 -c copy AFTER DST`."""
    def fn(src, dst):
        p = subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y"] + before +
                           ["-i", src, "-map", "0", "-c", "copy"] + after + [dst],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode:
            raise Fail("remuxing %s failed: %s" % (src, p.stderr.decode()[-2000:]))
    return fn


def src_edit_list():
    """An MP4 whose video edit list hides media: a stream copy from 1.3 s
    starts at the keyframe before 1.3 s and hides the frames before it."""
    return derived("h264-aac-elst", "mp4", src_h264_aac(dur=8, gop=24), "ss1.3-copy",
                   remux(["-ss", "1.3"], ["-f", "mp4"]))


def src_fragmented():
    """src_h264_aac() as a fragmented MP4: an empty moov, a moof per GOP."""
    return derived("h264-aac-frag", "mp4", src_h264_aac(), "frag_keyframe+empty_moov",
                   remux([], ["-movflags", "frag_keyframe+empty_moov", "-f", "mp4"]))
