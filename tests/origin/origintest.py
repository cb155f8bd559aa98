"""Shared helpers for pagecast's origin tests (Python 3 stdlib only).

The tests start a real `pagecast-origin` on 127.0.0.1:0 over a temporary
media directory filled with small titles that ffmpeg makes (cached, through
tests/integration/pctest.py: the same command lines give the same cached
files as the integration tests), and read every title over HTTP the way a
player does:

  (a) ffprobe reads master.m3u8 (ffmpeg's hls demuxer) and manifest.mpd (its
      dash demuxer): every video and audio packet of the source is there, in
      order, with the same bytes, in the variant / representation that matches
      the source rendition (each one of a ladder); every packet keeps its
      source time up to one shift, and the audio/video start offset is the
      source's (within 1 ms + 1 tick);
  (b) `ffmpeg -v error -xerror -i URL -map 0 -f null -` decodes everything
      with no error output;
  (c) the MPD passes `xmllint --schema ../shared/dash-schema/DASH-MPD.xsd`.

Environment (set by tests/origin/meson.build):
  PAGECAST_ORIGIN  the pagecast-origin binary under test
  PAGECAST_PACK    the pagecast-pack binary (--dump of store bundles)
  PC_TEST_MEDIA    cache directory for the media the tests make (shared with
                   the integration tests: same commands, same files)
  PC_SOURCE_ROOT   the source tree (samples/, ../shared/dash-schema/)
  PC_KEEP=1        keep each test's work directory (printed) for inspection

A test script is a table of named cases; meson runs `script.py CASE`, as in
tests/integration.  Exit codes: 0 pass, 1 fail, 77 skip.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("PC_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
# pctest (the media cache, shared with the integration tests) and what all
# the suites' helpers share (tests/common/pclib.py), beside this file.
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "common"))

import pclib  # noqa: E402  (after the path is set)
import pctest  # noqa: E402
from pclib import BCP47, _tb  # noqa: E402
from pctest import Fail, Skip, check, log, run, workdir  # noqa: E402,F401

ORIGIN = os.environ.get("PAGECAST_ORIGIN", "")
FFMPEG = pctest.FFMPEG
FFPROBE = pctest.FFPROBE
SCHEMA = os.path.join(os.path.dirname(SOURCE_ROOT), "shared", "dash-schema", "DASH-MPD.xsd")

# ffmpeg, ffprobe and urllib all honour these; the origin is on loopback.
for _v in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
    os.environ.pop(_v, None)

READY_TIMEOUT = 60      # a title being packaged answers 503 until then
MS = Fraction(1, 1000)


# ---------------------------------------------------------------- running

def main(cases):
    """Run the case named by argv[1]; as pctest.main, but for the origin."""
    pclib.case_from_argv(cases)
    pclib.require_executables(("PAGECAST_ORIGIN", ORIGIN))
    pctest.PACK = pctest.PACK or os.environ.get("PAGECAST_PACK", "")
    sys.argv = [sys.argv[0], sys.argv[1]]
    # pctest.main checks PAGECAST_PACK, runs the case, cleans work dirs;
    # origins still running are stopped whatever happens.
    try:
        pctest.main({sys.argv[1]: _with_origins_stopped(cases[sys.argv[1]])})
    finally:
        Origin.stop_all()


def _with_origins_stopped(fn):
    def wrapped():
        try:
            fn()
        finally:
            Origin.stop_all()
    return wrapped


def link_or_copy(src, dst):
    """Put @src at @dst: a hard link when possible (cached media is never
    written), else a copy.  Files a test changes must be copies."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def place(src, dst):
    """Put a copy of @src at @dst atomically (hidden temp name, then rename),
    the way an operator should: the origin never sees half a file."""
    d = os.path.dirname(dst)
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, ".tmp-%d-%s" % (os.getpid(), os.path.basename(dst)))
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


# ---------------------------------------------------------------- the origin

class Origin:
    """A pagecast-origin process on a free loopback port."""

    running = []

    def __init__(self, media, store=None, extra=()):
        self.media = media
        self.store = store or os.path.join(os.path.dirname(media.rstrip("/")), "store")
        self.dir = os.path.dirname(self.store)
        self.stdout_path = os.path.join(self.dir, "origin.stdout")
        self.stderr_path = os.path.join(self.dir, "origin.stderr")
        self.cmd = [ORIGIN, "--media", media, "--store", self.store, "--listen", "127.0.0.1:0",
                    "--access-log", os.path.join(self.dir, "access.log")] + list(extra)
        self.errf = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.errf)
        Origin.running.append(self)
        self.port = None
        self.base = None
        self._read_startup_line()

    def _read_startup_line(self):
        """Wait for the line that names the address (with port 0 the real
        port): 'pagecast-origin: listening on http://127.0.0.1:PORT/'."""
        try:
            self.port, line = pclib.origin_port(self.proc, 30, self.stderr)
        except Fail:
            self.stop(check_exit=False)
            raise
        self.base = "http://127.0.0.1:%d" % self.port
        # keep draining stdout (access log defaults there) so the origin
        # never blocks on a full pipe
        with open(self.stdout_path, "wb") as f:
            f.write(line)
        threading.Thread(target=self._drain, daemon=True).start()
        log("origin on %s (media %s)" % (self.base, self.media))

    def _drain(self):
        with open(self.stdout_path, "ab") as f:
            while True:
                chunk = self.proc.stdout.read1(65536) if hasattr(self.proc.stdout, "read1") else \
                    self.proc.stdout.read(65536)
                if not chunk:
                    return
                f.write(chunk)
                f.flush()

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def url(self, title, rest=""):
        """The URL of @rest (e.g. 'master.m3u8') in @title, percent-encoded."""
        return "%s/%s/%s" % (self.base, urllib.parse.quote(title, safe="/"), rest)

    def stop(self, check_exit=True):
        """SIGTERM: in-flight requests finish and the origin exits 0, with no
        sanitizer report on its stderr."""
        if self in Origin.running:
            Origin.running.remove(self)
        rc = pclib.stop_process(self.proc, 20)
        self.errf.close()
        if not check_exit:
            return
        check(rc is not None, "pagecast-origin did not exit within 20 s of SIGTERM; stderr:\n%s" %
              self.stderr()[-3000:])
        check(rc == 0, "pagecast-origin exited with %s after SIGTERM, expected 0; stderr:\n%s" %
              (pctest.describe_rc(rc), self.stderr()[-4000:]))
        pclib.check_sanitizers(self.stderr(), "pagecast-origin")

    @classmethod
    def stop_all(cls):
        for o in list(cls.running):
            try:
                o.stop(check_exit=False)
            except Exception:  # already reporting another failure
                pass

    def wait_ready(self, title, timeout=READY_TIMEOUT, what="master.m3u8"):
        """Poll @title's @what until 200 (503 with Retry-After while it is
        packaged; 404 until a rescan has found it).  @return the statuses
        seen, in order, without repeats."""
        url = self.url(title, what)
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            r = http_get(url)
            if not seen or seen[-1] != r.status:
                seen.append(r.status)
            if r.status == 200:
                return seen
            if r.status == 503:
                check(r.headers.get("Retry-After"), "%s: 503 without Retry-After" % url)
            elif r.status != 404:
                raise Fail("%s: HTTP %d while waiting for the title (expected 404/503, then 200): %s\n"
                           "origin stderr:\n%s" % (url, r.status, r.body[:300], self.stderr()[-2000:]))
            if time.monotonic() > deadline:
                raise Fail("%s: still %d after %d s (statuses seen: %s); origin stderr:\n%s" %
                           (url, r.status, timeout, seen, self.stderr()[-3000:]))
            time.sleep(0.1)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, timeout=30):
    """GET @url: a Response for any HTTP status (errors are responses too)."""
    try:
        with _opener.open(urllib.request.Request(url), timeout=timeout) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read())
    except (urllib.error.URLError, ConnectionError, OSError) as e:
        raise Fail("GET %s: %s" % (url, e))


def get_ok(url, what=None):
    r = http_get(url)
    check(r.status == 200, "GET %s: HTTP %d, expected 200: %r" % (url, r.status, r.body[:300]))
    return r.body


# ---------------------------------------------------------------- test media

LANG2 = BCP47


def norm_lang(s):
    s = (s or "").lower()
    return LANG2.get(s, s) if s not in ("", "und") else ""


class Stream:
    """One elementary stream as ffprobe demuxed it, with its packets in
    decode order: each (t, size, hash, key) with t = pts in seconds (a
    Fraction) or None."""

    def __init__(self, s, pkts):
        self.index = s["index"]
        self.kind = s.get("codec_type")
        self.codec = s.get("codec_name")
        self.width = s.get("width")
        self.height = s.get("height")
        self.tb = _tb(s["time_base"])
        tags = s.get("tags", {})
        self.lang = norm_lang(tags.get("language"))
        self.rep_id = tags.get("id")
        self.attached_pic = s.get("disposition", {}).get("attached_pic") == 1
        self.pkts = pkts

    def first_t(self):
        ts = [p[0] for p in self.pkts if p[0] is not None]
        return min(ts) if ts else None

    def label(self):
        if self.kind == "video":
            return "%s %sx%s" % (self.codec, self.width, self.height)
        return "%s%s" % (self.codec, " [%s]" % self.lang if self.lang else "")


def ffprobe_streams(url, timeout=300):
    """ffprobe @url with its packets.  @return (streams by index, programs as
    lists of stream indices, stderr)."""
    cmd = [FFPROBE, "-v", "error", "-show_programs", "-show_streams", "-show_packets",
           "-show_data_hash", "MD5",
           "-show_entries", "packet=stream_index,pts,size,flags,data_hash:"
           "stream=index,codec_type,codec_name,width,height,time_base:stream_tags=language,id:"
           "stream_disposition=attached_pic:program=program_id",
           "-of", "json", url]
    p = run(cmd, timeout=timeout)
    check(p.returncode == 0, "ffprobe %s: %s\n%s" % (url, pctest.describe_rc(p.returncode), p.stderr[-3000:]))
    d = json.loads(p.stdout)
    by = {}
    for pk in d.get("packets", []):
        by.setdefault(pk["stream_index"], []).append(pk)
    streams = {}
    for s in d.get("streams", []):
        tb = _tb(s["time_base"])
        pk = [(p["pts"] * tb if isinstance(p.get("pts"), int) else None, int(p.get("size", 0)),
               p.get("data_hash"), p.get("flags", "")[:1] == "K") for p in by.get(s["index"], [])]
        streams[s["index"]] = Stream(s, pk)
    programs = [[s["index"] for s in pr.get("streams", [])] for pr in d.get("programs", [])]
    return streams, programs, p.stderr


def source_streams(path):
    """The streams of a source file the origin must serve (no cover art)."""
    streams, _, _ = ffprobe_streams(path)
    return [s for s in streams.values()
            if s.kind in ("video", "audio") and not s.attached_pic and
            s.codec in pctest.VIDEO_CODECS | pctest.AUDIO_CODECS]


def framemd5(url, index, timeout=300):
    """Packets (size, hash) of stream @index alone: ffmpeg discards every
    other stream, so its dash demuxer reads only that representation."""
    p = run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-i", url, "-map", "0:%d" % index,
             "-c", "copy", "-f", "framemd5", "-"], timeout=timeout)
    check(p.returncode == 0, "ffmpeg -map 0:%d -c copy -f framemd5 %s: %s\n%s" %
          (index, url, pctest.describe_rc(p.returncode), p.stderr[-3000:]))
    out = []
    for line in p.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        f = [x.strip() for x in line.split(",")]
        out.append((int(f[4]), "MD5:" + f[5]))
    return out


# ---------------------------------------------------------------- the checks

def _match(src, cands, what):
    """The served stream that carries source stream @src (same kind, codec,
    video size or audio language)."""
    hit = [c for c in cands if c.kind == src.kind and c.codec == src.codec and
           (c.width, c.height) == (src.width, src.height) and
           (src.kind == "video" or not src.lang or not c.lang or c.lang == src.lang)]
    check(hit, "%s: no stream carries the source's %s (streams: %s)" %
          (what, src.label(), ", ".join("#%d %s" % (c.index, c.label()) for c in cands) or "none"))
    return hit


def compare_packets(what, src, got, pkts=None):
    """Every packet of source stream @src, in order, with the same bytes
    (and keyframe flags, where @got has them).  @pkts: (size, hash) pairs
    to compare instead of @got's packets."""
    mine = [(p[1], p[2]) for p in src.pkts]
    theirs = pkts if pkts is not None else [(p[1], p[2]) for p in got.pkts]
    check(len(theirs) == len(mine), "%s: %d %s packets, the source has %d%s" %
          (what, len(theirs), src.kind, len(mine),
           _first_difference(mine, theirs)))
    for k, (a, b) in enumerate(zip(mine, theirs)):
        check(a == b, "%s: %s packet %d (decode order) differs from the source's: size %d, source %d" %
              (what, src.kind, k, b[0], a[0]))
    if pkts is None:
        for k, (a, b) in enumerate(zip(src.pkts, got.pkts)):
            check(a[3] == b[3], "%s: packet %d keyframe flag %s, source %s" % (what, k, b[3], a[3]))


def _first_difference(a, b):
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return " (the first %d agree)" % n


def shift_of(what, src, got):
    """The constant by which @got's packet times differ from the source's:
    every packet must move by the same amount (up to rounding to the two
    time bases and 1 ms)."""
    sh = sorted(b[0] - a[0] for a, b in zip(src.pkts, got.pkts) if a[0] is not None and b[0] is not None)
    check(sh, "%s: no timestamps to compare" % what)
    tol = MS + src.tb + got.tb
    check(sh[-1] - sh[0] <= tol, "%s: %s packet times move by %.4f..%.4f s relative to the source, "
          "not by one constant (tolerance %.4f s)" % (what, src.kind, sh[0], sh[-1], tol))
    return sh[len(sh) // 2]


def check_av_offsets(what, pairs):
    """@pairs: (src_video, got_video, src_audio, got_audio) as played
    together.  The audio/video start offset (first audio packet's time minus
    first video packet's, over all packets as in pctest) is the source's."""
    for sv, gv, sa, ga in pairs:
        want = sa.first_t() - sv.first_t()
        got = ga.first_t() - gv.first_t()
        tol = MS + max(sv.tb, gv.tb, sa.tb, ga.tb)
        check(abs(got - want) <= tol,
              "%s: audio %s starts %.4f s after video %s, in the source %.4f s (off by %.2f ms, "
              "tolerance %.2f ms)" % (what, ga.label(), got, gv.label(), want,
                                     (got - want) * 1000, tol * 1000))


def check_hls(origin, title, sources, label=None):
    """(a) over HLS: ffprobe master.m3u8; for each source stream, the
    variant (video) or rendition (audio) that carries it has all its
    packets; each variant's video and audio keep the source's offset."""
    url = origin.url(title, "master.m3u8")
    what = "%s over HLS" % (label or title)
    streams, programs, err = ffprobe_streams(url)
    check(not err.strip(), "%s: ffprobe reported:\n%s" % (what, err[-3000:]))
    cands = list(streams.values())
    got_for = {}
    for src in sources:
        hit = _match(src, cands, what)
        # one stream per source stream (audio renditions are shared by
        # every variant, so they are one stream in ffmpeg's hls demuxer)
        check(len(hit) == 1, "%s: %d streams carry the source's %s: %s" %
              (what, len(hit), src.label(), ", ".join("#%d" % c.index for c in hit)))
        compare_packets("%s, %s" % (what, src.label()), src, hit[0])
        shift_of("%s, %s" % (what, src.label()), src, hit[0])
        got_for[id(src)] = hit[0]
    # every variant (program) plays one source video with the audio
    videos = [s for s in sources if s.kind == "video"]
    audios = [s for s in sources if s.kind == "audio"]
    pairs = []
    if videos:
        check(len(programs) == len(videos), "%s: %d variants, the sources have %d video renditions" %
              (what, len(programs), len(videos)))
        for prog in programs:
            pv = [s for s in videos if got_for[id(s)].index in prog]
            check(len(pv) == 1, "%s: a variant holds streams %s: not exactly one source video" % (what, prog))
            pa = [s for s in audios if got_for[id(s)].index in prog]
            check(len(pa) == len(audios), "%s: the variant of %s offers %d of the %d audio tracks" %
                  (what, pv[0].label(), len(pa), len(audios)))
            pairs += [(pv[0], got_for[id(pv[0])], a, got_for[id(a)]) for a in pa]
    else:
        check(programs, "%s: no variant (an audio-only title still needs EXT-X-STREAM-INF)" % what)
    check_av_offsets(what, pairs)
    log("%s: %s: all packets, offsets kept" % (what, ", ".join(
        "%s %d pkts" % (s.label(), len(s.pkts)) for s in sources)))


def check_dash(origin, title, sources, label=None):
    """(a) over DASH: ffprobe manifest.mpd for times and offsets; each
    representation alone (ffmpeg -map) for the complete packet list.

    ffmpeg 5.1's dash demuxer ends the whole presentation when the first
    representation reaches its end (dash_read_packet returns EOF as soon as
    the representation it picked has none left), so reading all of them at
    once can lose the last packet or two of the others; reading each one
    alone does not."""
    url = origin.url(title, "manifest.mpd")
    what = "%s over DASH" % (label or title)
    streams, _, err = ffprobe_streams(url)
    check(not err.strip(), "%s: ffprobe reported:\n%s" % (what, err[-3000:]))
    cands = list(streams.values())
    got_for = {}
    for src in sources:
        hit = _match(src, cands, what)
        check(len(hit) == 1, "%s: %d representations carry the source's %s: %s" %
              (what, len(hit), src.label(), ", ".join("#%d id=%s" % (c.index, c.rep_id) for c in hit)))
        g = hit[0]
        name = "%s, representation %s (%s)" % (what, g.rep_id, src.label())
        # what ffprobe read with all of them must be the start of the source
        n = len(g.pkts)
        check(n <= len(src.pkts) and all((a[1], a[2]) == (b[1], b[2]) for a, b in zip(src.pkts, g.pkts)),
              "%s: the packets ffprobe read (%d) are not the source's first ones%s" %
              (name, n, _first_difference([(p[1], p[2]) for p in src.pkts], [(p[1], p[2]) for p in g.pkts])))
        compare_packets(name, src, None, pkts=framemd5(url, g.index))
        shift_of(name, src, g)
        got_for[id(src)] = g
    videos = [s for s in sources if s.kind == "video"]
    audios = [s for s in sources if s.kind == "audio"]
    check_av_offsets(what, [(v, got_for[id(v)], a, got_for[id(a)]) for v in videos for a in audios])
    log("%s: %s: all packets, offsets kept" % (what, ", ".join(
        "%s %d pkts" % (s.label(), len(s.pkts)) for s in sources)))


def check_decodes(origin, title, label=None):
    """(b) ffmpeg decodes every stream of master.m3u8 and manifest.mpd with
    no error output."""
    for m in ("master.m3u8", "manifest.mpd"):
        url = origin.url(title, m)
        p = run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-xerror", "-i", url,
                 "-map", "0", "-f", "null", "-"], timeout=600)
        check(p.returncode == 0 and not p.stderr.strip(),
              "%s: ffmpeg -xerror -i %s -map 0 -f null -: %s, stderr:\n%s" %
              (label or title, m, pctest.describe_rc(p.returncode), p.stderr[-3000:] or "(none)"))
    log("%s: ffmpeg decodes HLS and DASH with no error" % (label or title))


def check_schema(origin, title, label=None):
    """(c) The MPD is valid against the MPEG-DASH schema."""
    if not os.path.exists(SCHEMA):
        raise Skip("the DASH schema is not at %s (../shared/dash-schema beside the source tree)" % SCHEMA)
    xmllint = shutil.which("xmllint")
    check(xmllint, "xmllint not found: install libxml2-utils (scripts/setup)")
    body = get_ok(origin.url(title, "manifest.mpd"))
    d = workdir()
    path = os.path.join(d, "manifest.mpd")
    with open(path, "wb") as f:
        f.write(body)
    p = run([xmllint, "--nonet", "--noout", "--schema", SCHEMA, path], timeout=60)
    check(p.returncode == 0, "%s: the MPD fails the DASH schema (xmllint %s):\n%s\nMPD:\n%s" %
          (label or title, pctest.describe_rc(p.returncode), p.stderr[-3000:],
           body.decode("utf-8", "replace")[:4000]))
    log("%s: MPD valid against DASH-MPD.xsd" % (label or title))


def check_title(origin, title, files, label=None):
    """(a), (b) and (c) for @title, made from the source @files."""
    sources = []
    for f in files:
        sources += source_streams(f)
    check(sources, "test error: the sources of %s have no streams" % title)
    origin.wait_ready(title)
    origin.wait_ready(title, what="manifest.mpd")
    check_schema(origin, title, label)
    check_hls(origin, title, sources, label)
    check_dash(origin, title, sources, label)
    check_decodes(origin, title, label)


# ---------------------------------------------------------------- playlists

def media_playlist_urls(origin, title):
    """The absolute segment URLs (init first) of every media playlist named
    by @title's master playlist: {playlist uri: [urls]}."""
    master = get_ok(origin.url(title, "master.m3u8")).decode()
    uris = re.findall(r'URI="([^"]+\.m3u8)"', master) + \
        [ln.strip() for ln in master.splitlines() if ln.strip().endswith(".m3u8") and not ln.startswith("#")]
    out = {}
    for u in uris:
        pl = get_ok(origin.url(title, u)).decode()
        urls = [origin.url(title, m) for m in re.findall(r'#EXT-X-MAP:URI="([^"]+)"', pl)]
        urls += [origin.url(title, ln.strip()) for ln in pl.splitlines()
                 if ln.strip() and not ln.startswith("#")]
        out[u] = urls
    return out


def generation(origin, title):
    """The bundle generation named by the title's segment URLs (16 hex)."""
    mpd = get_ok(origin.url(title, "manifest.mpd")).decode()
    m = re.search(r'initialization="([0-9a-f]{16})/', mpd)
    check(m, "%s: no generation in the MPD's SegmentTemplate:\n%s" % (title, mpd[:2000]))
    return m.group(1)
