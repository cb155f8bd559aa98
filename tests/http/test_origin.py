#!/usr/bin/env python3
"""The http suite: a real pagecast-origin over media the test makes, checked
with raw requests (issue 3, items 7-9; docs/http.md is the specification).

Run one case:  test_origin.py CASE   (meson runs each case as its own test).
"""

import ctypes
import errno
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from httptest import (Conn, Fail, Origin, Skip, av_clip, check, check_eq, dump_bundle,
                      find_bundles, get, head, log, long_clip, long_titles_media, main, metrics,
                      quote, request, wait_for, workdir)

TITLE = "sub/My Movie \u00e9.mp4"          # a space and UTF-8, in a subdirectory
IMMUTABLE = "public, max-age=31536000, immutable"
IMF_RE = r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$"


# ---------------------------------------------------------------- fixture

class Served:
    """One title packaged and served: the origin, the title's URLs, and the
    bundle's --dump."""

    def __init__(self, extra_args=(), files=None):
        self.dir = workdir()
        self.media = os.path.join(self.dir, "media")
        os.makedirs(os.path.join(self.media, "sub"))
        shutil.copy(av_clip(), os.path.join(self.media, TITLE))
        for name, src in (files or {}).items():
            os.makedirs(os.path.dirname(os.path.join(self.media, name)), exist_ok=True)
            shutil.copy(src, os.path.join(self.media, name))
        self.origin = Origin(self.media, args=["--segment-duration", "1"] + list(extra_args),
                             wait_title=TITLE)
        self.port = self.origin.port
        self.base = "/" + quote(TITLE) + "/"
        bundles = find_bundles(self.origin.store)
        check_eq(len(bundles), 1, "bundles in the store %r" % bundles)
        self.bundle_path = bundles[0]
        self.dump = dump_bundle(self.bundle_path)
        self.gen = self._generation()
        self.tracks = self.dump["tracks"]

    def _generation(self):
        r = get(self.port, self.base + "0.m3u8")
        check_eq(r.status, 200, "media playlist status")
        m = re.search(r'#EXT-X-MAP:URI="([0-9a-f]{16})/0/init\.mp4"', r.body.decode())
        check(m, "no EXT-X-MAP with a generation in:\n%s" % r.body.decode())
        return m.group(1)

    def seg_path(self, track, n):
        return "%s%s/%d/%d.m4s" % (self.base, self.gen, track, n)

    def init_path(self, track):
        return "%s%s/%d/init.mp4" % (self.base, self.gen, track)

    def blob(self, rec):
        with open(self.bundle_path, "rb") as f:
            f.seek(rec["offset"])
            return f.read(rec["size"])

    def segment_record(self, track, n):
        return self.tracks[track]["segments"][n - 1]

    def init_record(self, track):
        return self.tracks[track]["init"]

    def track_of_kind(self, kind):
        for i, t in enumerate(self.tracks):
            if t["kind"] == kind:
                return i
        raise Fail("no %s track in %r" % (kind, [t["kind"] for t in self.tracks]))


def assert_no_path_leak(r, *paths):
    body = r.body.decode("utf-8", "replace")
    for p in paths:
        check(p not in body, "body %r reveals the path %s" % (body, p))
    check("/tmp" not in body and "pagecast-http-" not in body and ".pcb" not in body,
          "body %r reveals a filesystem path" % body)


def assert_cors(r, what):
    check_eq(r.header("Access-Control-Allow-Origin"), "*", what + ": Access-Control-Allow-Origin")
    expose = [x.strip().lower() for x in (r.header("Access-Control-Expose-Headers") or "").split(",")]
    for h in ("content-length", "content-range", "etag"):
        check(h in expose, "%s: %s not exposed (%r)" % (what, h, expose))


# ------------------------------------------------------ content and headers

def content_types_and_cache_headers():
    s = Served(extra_args=["--manifest-max-age", "7"])
    v, a = s.track_of_kind("video"), s.track_of_kind("audio")
    cases = [
        (s.base + "master.m3u8", "application/vnd.apple.mpegurl", "public, max-age=7"),
        (s.base + "%d.m3u8" % v, "application/vnd.apple.mpegurl", "public, max-age=7"),
        (s.base + "%d.m3u8" % a, "application/vnd.apple.mpegurl", "public, max-age=7"),
        (s.base + "manifest.mpd", "application/dash+xml", "public, max-age=7"),
        (s.init_path(v), "video/mp4", IMMUTABLE),
        (s.init_path(a), "audio/mp4", IMMUTABLE),
        (s.seg_path(v, 1), "video/mp4", IMMUTABLE),
        (s.seg_path(a, 2), "audio/mp4", IMMUTABLE),
    ]
    etags = set()
    for path, ctype, cc in cases:
        r = get(s.port, path)
        check_eq(r.status, 200, path)
        check_eq(r.header("Content-Type"), ctype, path + " Content-Type")
        check_eq(r.header("Cache-Control"), cc, path + " Cache-Control")
        check_eq(r.header("Accept-Ranges"), "bytes", path + " Accept-Ranges")
        check_eq(int(r.header("Content-Length")), len(r.body), path + " Content-Length")
        check(re.match(IMF_RE, r.header("Last-Modified") or ""), "%s Last-Modified %r" %
              (path, r.header("Last-Modified")))
        et = r.header("ETag") or ""
        check(re.match(r'^"%s-[0-9a-z.-]+"$' % s.gen, et), "%s: ETag %r is not strong or lacks "
              "the generation %s" % (path, et, s.gen))
        etags.add(et)
        assert_cors(r, path)
    check_eq(len(etags), len(cases), "distinct ETags")
    check(get(s.port, s.base + "master.m3u8").body.startswith(b"#EXTM3U"), "master body")
    check(b"<MPD" in get(s.port, s.base + "manifest.mpd").body, "MPD body")


def segment_bytes_equal_bundle_blobs():
    s = Served()
    n = 0
    c = Conn(s.port)          # all of them on one keep-alive connection
    for t, track in enumerate(s.tracks):
        r = c.request("GET", s.init_path(t))
        check_eq(r.status, 200, "init %d" % t)
        check(r.body == s.blob(s.init_record(t)), "track %d: init segment bytes differ from "
              "the bundle's blob at %r" % (t, s.init_record(t)))
        for k in range(1, len(track["segments"]) + 1):
            r = c.request("GET", s.seg_path(t, k))
            check_eq(r.status, 200, "segment %d/%d" % (t, k))
            rec = s.segment_record(t, k)
            check_eq(len(r.body), rec["size"], "segment %d/%d length" % (t, k))
            check(r.body == s.blob(rec), "segment %d/%d bytes differ from the bundle's blob "
                  "at offset %d" % (t, k, rec["offset"]))
            n += 1
    c.close()
    check(n >= 8, "expected at least 4 segments per track, got %d in all" % n)


def manifests_name_urls_that_work():
    s = Served()
    master = get(s.port, s.base + "master.m3u8").body.decode()
    uris = [ln for ln in master.splitlines() if ln and not ln.startswith("#")]
    uris += re.findall(r'URI="([^"]+)"', master)
    check(uris, "no URIs in the master playlist")
    count = 0
    for u in uris:
        r = get(s.port, s.base + u)
        check_eq(r.status, 200, "playlist " + u)
        for ln in r.body.decode().splitlines():
            m = re.search(r'URI="([^"]+)"', ln)
            target = m.group(1) if m else (ln if ln and not ln.startswith("#") else None)
            if target:
                rr = head(s.port, s.base + target)
                check_eq(rr.status, 200, "HEAD " + target)
                count += 1
    check(count >= 10, "only %d segment URLs checked" % count)


# ------------------------------------------------------------------ ranges

def byte_range_forms():
    s = Served()
    t = s.track_of_kind("video")
    path = s.seg_path(t, 1)
    full = s.blob(s.segment_record(t, 1))
    size = len(full)
    check(size > 2000, "segment too small for the test: %d" % size)
    forms = [
        ("bytes=0-99", 0, 99),
        ("bytes=100-199", 100, 199),
        ("bytes=0-0", 0, 0),
        ("bytes=%d-" % (size - 10), size - 10, size - 1),
        ("bytes=-100", size - 100, size - 1),
        ("bytes=-1", size - 1, size - 1),
        ("bytes=-%d" % (size * 3), 0, size - 1),                 # suffix larger than the object
        ("bytes=%d-%d" % (size - 5, size + 1000), size - 5, size - 1),  # clamped
        ("bytes=0-99999999999999999999999", 0, size - 1),         # overflow: clamped
        ("Bytes=10-19", 10, 19),
    ]
    for value, a, b in forms:
        r = get(s.port, path, [("Range", value)])
        check_eq(r.status, 206, value)
        check_eq(r.header("Content-Range"), "bytes %d-%d/%d" % (a, b, size), value + " Content-Range")
        check_eq(int(r.header("Content-Length")), b - a + 1, value + " Content-Length")
        check(r.body == full[a:b + 1], value + ": wrong bytes")
        check_eq(r.header("Cache-Control"), IMMUTABLE, value + " Cache-Control")
        check(r.header("ETag"), value + ": no ETag on 206")
        assert_cors(r, value)
    for value in ("bytes=%d-" % size, "bytes=%d-%d" % (size + 5, size + 10), "bytes=-0",
                  "bytes=99999999999999999999999-"):
        r = get(s.port, path, [("Range", value)])
        check_eq(r.status, 416, value)
        check_eq(r.header("Content-Range"), "bytes */%d" % size, value + " Content-Range")
        assert_cors(r, value)
    # ignored: the whole object, 200
    for value in ("bytes=5-1", "bytes=abc", "items=0-1", "bytes=0-1,5-6", "bytes=", "bytes=--5"):
        r = get(s.port, path, [("Range", value)])
        check_eq(r.status, 200, value)
        check(not r.has("Content-Range"), value + ": Content-Range on a 200")
        check(r.body == full, value + ": wrong body")
    # HEAD ignores Range (RFC 9110 14.2: ranges are defined for GET only)
    r = head(s.port, path, [("Range", "bytes=0-9")])
    check_eq(r.status, 200, "HEAD with Range")
    check_eq(int(r.header("Content-Length")), size, "HEAD with Range Content-Length")
    # a manifest honours ranges too
    m = get(s.port, s.base + "master.m3u8").body
    r = get(s.port, s.base + "master.m3u8", [("Range", "bytes=0-6")])
    check_eq((r.status, r.body), (206, m[:7]), "range of the master playlist")


def if_range():
    s = Served()
    path = s.seg_path(0, 2)
    r0 = get(s.port, path)
    etag, lm = r0.header("ETag"), r0.header("Last-Modified")
    r = get(s.port, path, [("Range", "bytes=0-9"), ("If-Range", etag)])
    check_eq((r.status, r.body), (206, r0.body[:10]), "If-Range with the current ETag")
    r = get(s.port, path, [("Range", "bytes=0-9"), ("If-Range", '"0000000000000000-0-2"')])
    check_eq((r.status, r.body), (200, r0.body), "If-Range with a stale ETag")
    r = get(s.port, path, [("Range", "bytes=0-9"), ("If-Range", "W/" + etag)])
    check_eq(r.status, 200, "If-Range with a weak ETag")
    r = get(s.port, path, [("Range", "bytes=0-9"), ("If-Range", lm)])
    check_eq((r.status, r.body), (206, r0.body[:10]), "If-Range with Last-Modified")
    r = get(s.port, path, [("Range", "bytes=0-9"), ("If-Range", "Thu, 01 Jan 1970 00:00:00 GMT")])
    check_eq(r.status, 200, "If-Range with another date")


# --------------------------------------------------------- HEAD and 304s

def head_has_get_headers_and_no_body():
    s = Served()
    for path in (s.base + "master.m3u8", s.base + "manifest.mpd", s.seg_path(0, 1),
                 s.init_path(1), "/healthz", s.base + "nope.m3u8"):
        c = Conn(s.port)
        g = c.request("GET", path)
        h = c.request("HEAD", path)
        # the next response on the connection must parse: HEAD sent no body
        g2 = c.request("GET", path)
        c.close()
        check_eq(h.status, g.status, "HEAD %s status" % path)
        check_eq(g2.body, g.body, "GET after HEAD")
        drop = {"date"}
        gh = [(k.lower(), v) for k, v in g.headers if k.lower() not in drop]
        hh = [(k.lower(), v) for k, v in h.headers if k.lower() not in drop]
        check_eq(sorted(hh), sorted(gh), "HEAD %s headers" % path)


def conditional_requests_304():
    s = Served()
    for path in (s.seg_path(0, 1), s.base + "master.m3u8", s.init_path(0)):
        r0 = get(s.port, path)
        etag, lm = r0.header("ETag"), r0.header("Last-Modified")
        c = Conn(s.port)
        for inm in (etag, "W/" + etag, '"x", ' + etag, "*"):
            r = c.request("GET", path, [("If-None-Match", inm)])
            check_eq(r.status, 304, "If-None-Match: %s" % inm)
            check_eq(r.header("ETag"), etag, "304 ETag")
            check_eq(r.header("Last-Modified"), lm, "304 Last-Modified")
            check_eq(r.header("Cache-Control"), r0.header("Cache-Control"), "304 Cache-Control")
            check(not r.has("Content-Type"), "304 with Content-Type")
            assert_cors(r, "304")
            # RFC 9110 8.6 wants no Content-Length or the 200's; libmicrohttpd
            # 0.9.75 frames every response, so "0" is what it can do (see
            # docs/http.md).  What matters: no content follows the header,
            # so the next response on the connection parses.
            cl = r.header("Content-Length")
            check(cl in (None, "0", str(len(r0.body))), "304 Content-Length %r" % cl)
            check_eq(c.request("GET", "/healthz").body, b"ok\n", "request after a 304")
        c.close()
        r = get(s.port, path, [("If-None-Match", '"other"')])
        check_eq(r.status, 200, "non-matching If-None-Match")
        r = head(s.port, path, [("If-None-Match", etag)])
        check_eq(r.status, 304, "HEAD If-None-Match")
        # If-Modified-Since, in all three date forms
        lm_t = time.strptime(lm, "%a, %d %b %Y %H:%M:%S GMT")
        rfc850 = time.strftime("%A, %d-%b-%y %H:%M:%S GMT", lm_t)
        asctime = time.strftime("%a %b ", lm_t) + ("%2d" % lm_t.tm_mday) + time.strftime(" %H:%M:%S %Y", lm_t)
        for ims in (lm, rfc850, asctime):
            r = get(s.port, path, [("If-Modified-Since", ims)])
            check_eq(r.status, 304, "If-Modified-Since: %s" % ims)
        r = get(s.port, path, [("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")])
        check_eq(r.status, 200, "If-Modified-Since before Last-Modified")
        r = get(s.port, path, [("If-Modified-Since", "garbage")])
        check_eq(r.status, 200, "invalid If-Modified-Since")
        # RFC 9110 13.2.2: If-None-Match wins over If-Modified-Since
        r = get(s.port, path, [("If-None-Match", '"other"'), ("If-Modified-Since", lm)])
        check_eq(r.status, 200, "If-None-Match (no match) with If-Modified-Since (match)")
        # If-Match
        check_eq(get(s.port, path, [("If-Match", '"other"')]).status, 412, "If-Match mismatch")
        check_eq(get(s.port, path, [("If-Match", etag)]).status, 200, "If-Match match")


# -------------------------------------------------------------- CORS, 405

def cors_preflight_and_options():
    s = Served()
    path = s.seg_path(0, 1)
    r = request(s.port, "OPTIONS", path, [("Origin", "https://player.example"),
                                          ("Access-Control-Request-Method", "GET"),
                                          ("Access-Control-Request-Headers", "range")])
    check_eq(r.status, 204, "preflight status")
    check_eq(r.header("Access-Control-Allow-Origin"), "*", "preflight ACAO")
    methods = [m.strip() for m in r.header("Access-Control-Allow-Methods", "").split(",")]
    for m in ("GET", "HEAD", "OPTIONS"):
        check(m in methods, "preflight does not allow %s: %r" % (m, methods))
    allowed = [h.strip().lower() for h in r.header("Access-Control-Allow-Headers", "").split(",")]
    check("range" in allowed, "preflight does not allow Range: %r" % allowed)
    check_eq(r.header("Access-Control-Max-Age"), "86400", "preflight max age")
    # without a header list, the default list allows Range and the validators
    r = request(s.port, "OPTIONS", s.base + "master.m3u8",
                [("Origin", "https://p.example"), ("Access-Control-Request-Method", "GET")])
    allowed = [h.strip().lower() for h in r.header("Access-Control-Allow-Headers", "").split(",")]
    for h in ("range", "if-none-match", "if-modified-since", "if-range"):
        check(h in allowed, "default preflight list lacks %s: %r" % (h, allowed))
    # a hostile header list is not echoed
    r = request(s.port, "OPTIONS", path, [("Origin", "x"), ("Access-Control-Request-Method", "GET"),
                                          ("Access-Control-Request-Headers", "range;<script>")])
    check("<" not in r.header("Access-Control-Allow-Headers", ""), "unsafe list echoed")
    # plain OPTIONS
    r = request(s.port, "OPTIONS", "*")
    check_eq(r.status, 204, "OPTIONS *")
    check_eq(r.header("Allow"), "GET, HEAD, OPTIONS", "OPTIONS Allow")
    # a normal GET from a browser carries CORS headers too
    r = get(s.port, path, [("Origin", "https://player.example")])
    assert_cors(r, "GET with Origin")


def other_methods_get_405():
    s = Served()
    for m in ("POST", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "PROPFIND", "BREW"):
        c = Conn(s.port)
        r = c.request(m, s.base + "master.m3u8", body=b"x=1" if m in ("POST", "PUT") else b"")
        check_eq(r.status, 405, m)
        check_eq(r.header("Allow"), "GET, HEAD, OPTIONS", m + " Allow")
        assert_cors(r, m)
        # the connection stays usable after a discarded body
        check_eq(c.request("GET", "/healthz").status, 200, "GET after " + m)
        c.close()


# ------------------------------------------------------------- not found

def unknown_titles_and_objects_404():
    s = Served()
    v = s.track_of_kind("video")
    nseg = len(s.tracks[v]["segments"])
    other_gen = "%016x" % (int(s.gen, 16) ^ 1)
    paths = [
        "/nope.mp4/master.m3u8",
        "/sub/nope.mp4/manifest.mpd",
        "/sub/master.m3u8",                          # a directory is not a title
        s.base + "9.m3u8",                           # no such track
        s.seg_path(v, nseg + 1),                     # past the end
        s.seg_path(v, 999999999),
        "%s%s/%d/1.m4s" % (s.base, other_gen, v),    # wrong generation
        "%s%s/%d/init.mp4" % (s.base, other_gen, v),
        "%s%s/7/1.m4s" % (s.base, s.gen),            # no such track
        "%s%s/%d/0.m4s" % (s.base, s.gen, v),        # segments are 1-based
        "%s%s/%d/01.m4s" % (s.base, s.gen, v),
        "%s%s/%d/1.m4s" % (s.base, s.gen.upper(), v),
        s.base + "index.html",
        "/",
        "/favicon.ico",
    ]
    for p in paths:
        r = get(s.port, p)
        check_eq(r.status, 404, p)
        check_eq(r.header("Cache-Control"), "no-store", p + " Cache-Control")
        assert_cors(r, p)
        assert_no_path_leak(r, s.media, s.origin.store)
        check(len(r.body) < 100, "%s: long 404 body %r" % (p, r.body))


def traversal_is_refused():
    s = Served()
    outside = os.path.join(s.dir, "outside")
    os.makedirs(outside)
    shutil.copy(av_clip(), os.path.join(outside, "secret.mp4"))
    # symlinks out of DIR: to a file and to a directory
    os.symlink(os.path.join(outside, "secret.mp4"), os.path.join(s.media, "link.mp4"))
    os.symlink(outside, os.path.join(s.media, "linkdir"))
    check_eq(subprocess.run(["kill", "-HUP", str(s.origin.proc.pid)]).returncode, 0, "kill -HUP")
    time.sleep(1.5)  # the rescan (and any wrong packaging) has time to happen
    targets = [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/..%2f..%2fetc%2fpasswd",
        "/sub/..%2f..%2foutside%2fsecret.mp4/master.m3u8",
        "/sub/../../outside/secret.mp4/master.m3u8",
        "/sub/%2e%2e/%2e%2e/outside/secret.mp4/master.m3u8",
        "/%2F%2Fetc/passwd",
        "//etc/passwd",
        "/" + s.dir.lstrip("/") + "/outside/secret.mp4/master.m3u8",       # absolute path
        "/%2F" + quote(s.dir.lstrip("/")) + "/outside/secret.mp4/master.m3u8",
        "/..\\..\\outside\\secret.mp4/master.m3u8",
        "/..%5c..%5coutside%5csecret.mp4/master.m3u8",
        "/%c0%ae%c0%ae/%c0%ae%c0%ae/outside/secret.mp4/master.m3u8",    # overlong UTF-8
        "/sub%00/x.mp4/master.m3u8",
        "/.pagecast-store/x/master.m3u8",
        "/store/x/master.m3u8",
        "/link.mp4/master.m3u8",                                         # symlink to a file
        "/linkdir/secret.mp4/master.m3u8",                               # symlink to a dir
        "/linkdir/secret.mp4/manifest.mpd",
        "/./sub/x/master.m3u8",
        "/sub/./My%20Movie%20%C3%A9.mp4/master.m3u8",
        "http://127.0.0.1/../etc/passwd",
        "/sub%2fMy%20Movie%20%C3%A9.mp4/master.m3u8",                   # encoded '/'
    ]
    for t in targets:
        r = get(s.port, t)
        check(r.status in (400, 404), "%s: status %d (must be refused)" % (t, r.status))
        assert_no_path_leak(r, s.media, outside)
        check(b"root:" not in r.body, "%s leaked /etc/passwd" % t)
    check(s.origin.alive(), "origin died")
    for b in find_bundles(s.origin.store):
        check("secret" not in b and "link" not in b, "a title outside DIR was packaged: %s" % b)
    # and the real title is still served
    check_eq(get(s.port, s.base + "master.m3u8").status, 200, "real title after the attacks")


def oversized_requests_are_refused():
    s = Served()
    # longer than the router accepts, shorter than libmicrohttpd's buffer
    r = get(s.port, "/" + "a" * 5000 + "/master.m3u8")
    check_eq(r.status, 414, "5 kB URL")
    # longer than libmicrohttpd's per-connection buffer
    for path, hdrs, want in (("/" + "b" * 200000, [], (414,)),
                             ("/healthz", [("X-Big", "y" * 100000)], (431,)),
                             ("/healthz", [("X-%d" % i, "z" * 100) for i in range(2000)], (431,))):
        c = Conn(s.port)
        try:
            r = c.request("GET", path, hdrs)
            check(r.status in want, "oversized request: status %d, expected %r" % (r.status, want))
        except (EOFError, ConnectionResetError, BrokenPipeError):
            pass        # closing the connection is a refusal too; a crash is not
        finally:
            c.close()
        check(s.origin.alive(), "origin died on an oversized request")
    check_eq(get(s.port, "/healthz").status, 200, "healthz after oversized requests")


# ------------------------------------------------------------- keep-alive

def keep_alive_three_requests():
    s = Served()
    c = Conn(s.port)
    local = c.sock.getsockname()
    paths = [s.base + "master.m3u8", s.seg_path(0, 1), s.base + "manifest.mpd"]
    for p in paths:
        r = c.request("GET", p)
        check_eq(r.status, 200, p)
        check(r.header("Connection", "").lower() != "close", "%s: Connection: close" % p)
    check_eq(c.sock.getsockname(), local, "same connection")
    # pipelined: three requests in one write, three responses in order
    reqs = "".join("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p for p in paths)
    c.send(reqs)
    bodies = [c.read_response().body for _ in paths]
    check(bodies[0].startswith(b"#EXTM3U") and b"<MPD" in bodies[2], "pipelined responses out of order")
    check_eq(c.request("HEAD", "/healthz").status, 200, "fourth request")
    c.close()
    # HTTP/1.0 closes unless asked to keep alive
    c = Conn(s.port)
    r = c.request("GET", "/healthz", version="HTTP/1.0")
    check_eq(r.status, 200, "HTTP/1.0")
    check(c.closed_by_server(), "HTTP/1.0 connection left open")
    c.close()


# ----------------------------------------------------------- packaging

def busy_title_answers_503_then_200():
    d = workdir()
    # eight 20-minute titles (hard links: no copying) and one packaging
    # thread: right after start, most of them are still waiting
    media, names = long_titles_media(d, 8)
    o = Origin(media, args=["--workers", "1"])
    busy = 0
    for n in names:
        r = get(o.port, "/%s/master.m3u8" % n)
        check(r.status in (200, 503), "%s: status %d" % (n, r.status))
        if r.status == 503:
            busy += 1
            check_eq(r.header("Retry-After"), "5", "Retry-After")
            check_eq(r.header("Cache-Control"), "no-store", "503 Cache-Control")
            assert_cors(r, "503")
            for path in ("/%s/manifest.mpd" % n, "/%s/0.m3u8" % n,
                         "/%s/0123456789abcdef/0/1.m4s" % n):
                rr = get(o.port, path)
                check(rr.status in (200, 503, 404), "%s: status %d" % (path, rr.status))
    check(busy >= 1, "no title answered 503 while 8 waited for one packaging thread")
    log("%d of %d titles answered 503 right after start" % (busy, len(names)))
    for n in names:
        o.wait_ready(n)
    check_eq(get(o.port, "/%s/manifest.mpd" % names[0]).status, 200, "MPD when ready")


def unpackageable_source_answers_422():
    d = workdir()
    media = os.path.join(d, "media")
    os.makedirs(media)
    with open(os.path.join(media, "broken.mp4"), "wb") as f:
        f.write(b"this is not a movie\n" * 100)
    shutil.copy(av_clip(), os.path.join(media, "good.mp4"))
    o = Origin(media, wait_title="good.mp4")

    def settled():
        r = get(o.port, "/broken.mp4/master.m3u8")
        return r if r.status != 503 else None
    r = wait_for("broken.mp4 to fail packaging", settled)
    check_eq(r.status, 422, "unpackageable source")
    check(len(r.body) < 100, "long 422 body %r" % r.body)
    assert_no_path_leak(r, media)
    time.sleep(0.5)
    get(o.port, "/broken.mp4/master.m3u8")
    err = o.stderr()
    lines = [ln for ln in err.splitlines() if "broken.mp4" in ln]
    check_eq(len(lines), 1, "lines naming broken.mp4 (the packager's reason, once):\n" + err)


def out_of_fds_answers_503():
    import resource
    # segments small enough go out from the bundle's mapping and need no fd
    # (docs/serving.md); force the fd path, whose dup() is what runs out
    os.environ["PAGECAST_MEM_MAX"] = "0"
    try:
        s = Served()
    finally:
        del os.environ["PAGECAST_MEM_MAX"]
    pid = s.origin.proc.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    base = len(os.listdir("/proc/%d/fd" % pid))
    # a few fds to spare: connections take them, and then the dup() of the
    # bundle's fd that every segment response needs fails with EMFILE
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (base + 6, hard))
    conns, statuses = [], []
    try:
        for _ in range(12):
            conns.append(Conn(s.port))
        time.sleep(0.3)
        for c in conns:
            c.send("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % s.seg_path(0, 1))
        for c in conns:
            c.sock.settimeout(1.0)
            try:
                r = c.read_response()
                statuses.append(r.status)
                if r.status == 503:
                    check_eq(r.header("Retry-After"), "1", "Retry-After when out of fds")
                    check_eq(r.header("Cache-Control"), "no-store", "Cache-Control when out of fds")
            except (socket.timeout, EOFError, ConnectionResetError):
                statuses.append(None)       # not accepted while out of fds
    finally:
        for c in conns:
            c.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    check(503 in statuses, "no 503 when out of fds: %r" % statuses)
    check(set(statuses) <= {200, 503, None}, "statuses when out of fds: %r" % statuses)
    check(s.origin.alive(), "origin died when out of fds")
    wait_for("serving again", lambda: get(s.port, s.seg_path(0, 1)).status == 200, timeout=30)


# ------------------------------------------------------------ operations

def healthz_and_metrics():
    s = Served()
    r = get(s.port, "/healthz")
    check_eq((r.status, r.body), (200, b"ok\n"), "/healthz")
    check_eq(r.header("Cache-Control"), "no-store", "/healthz Cache-Control")
    r = get(s.port, "/metrics")
    check(r.header("Content-Type").startswith("text/plain; version=0.0.4"), "metrics Content-Type")
    m0 = metrics(s.port)
    seg = s.segment_record(0, 1)["size"]
    check_eq(get(s.port, s.seg_path(0, 1)).status, 200, "segment")
    check_eq(get(s.port, "/nope.mp4/master.m3u8").status, 404, "404")
    check_eq(get(s.port, s.seg_path(0, 1), [("Range", "bytes=0-9")]).status, 206, "206")
    # counters move when a response completes, which another thread may
    # record a moment after the client has the bytes
    k206 = 'pagecast_requests_total{kind="segment",code="206"}'

    def moved():
        m = metrics(s.port)
        return m if m.get(k206, 0) > m0.get(k206, 0) else None
    m1 = wait_for("the counters to move", moved, timeout=5)

    def delta(k):
        return m1.get(k, 0) - m0.get(k, 0)
    check_eq(delta('pagecast_requests_total{kind="segment",code="200"}'), 1, "segment 200 counter")
    check_eq(delta('pagecast_requests_total{kind="segment",code="206"}'), 1, "segment 206 counter")
    check_eq(delta('pagecast_requests_total{kind="master",code="404"}'), 1, "master 404 counter")
    check(delta('pagecast_requests_total{kind="metrics",code="200"}') >= 1, "metrics counter")
    # bytes: the segment, the 404 body, the 10 range bytes, the first /metrics body
    check(delta("pagecast_bytes_sent_total") >= seg + 10, "bytes_sent_total moved by %d, "
          "expected at least %d" % (delta("pagecast_bytes_sent_total"), seg + 10))
    check(m1["pagecast_titles"] == 1 and m1["pagecast_titles_ready"] == 1, "titles %r" % m1)
    check(m1['pagecast_packaging_jobs_total{result="done"}'] >= 1, "jobs done")
    check_eq(m1['pagecast_packaging_jobs_total{result="failed"}'], 0, "jobs failed")
    check_eq(m1["pagecast_packaging_jobs_queued"], 0, "jobs queued")
    check(m1["pagecast_connections"] >= 1, "current connections (this one)")
    # three idle keep-alive connections show up in the gauge
    conns = [Conn(s.port) for _ in range(3)]
    for c in conns:
        c.request("GET", "/healthz")
    check(metrics(s.port)["pagecast_connections"] >= 4, "connections gauge")
    for c in conns:
        c.close()


def access_log_lines():
    s = Served()
    get(s.port, s.seg_path(0, 1), [("User-Agent", 'evil"agent\\\x01'), ("Referer", "https://r.example/")])

    def line():
        for ln in s.origin.log_lines():
            if "/1.m4s HTTP/1.1\"" in ln:
                return ln
    ln = wait_for("the access log line", line, timeout=10)
    m = re.match(r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET (\S+) HTTP/1\.1" '
                 r'200 (\d+) "https://r\.example/" "evil\\x22agent\\x5c\\x01" (\d+\.\d{6})$', ln)
    check(m, "access log line %r" % ln)
    check_eq(int(m.group(2)), s.segment_record(0, 1)["size"], "bytes in the log")
    # to a file, and none at all
    d = workdir()
    media = os.path.join(d, "media")
    os.makedirs(media)
    shutil.copy(av_clip(), os.path.join(media, "a.mp4"))
    logf = os.path.join(d, "access.log")
    o = Origin(media, args=["--access-log", logf], wait_title="a.mp4")
    get(o.port, "/healthz")
    wait_for("a line in the log file", lambda: "GET /healthz" in open(logf).read(), timeout=10)
    check_eq(o.log_lines(), [], "stdout with --access-log FILE")
    # SIGHUP reopens it (log rotation)
    os.rename(logf, logf + ".1")
    o.signal(signal.SIGHUP)
    wait_for("a new log file", lambda: os.path.exists(logf), timeout=10)
    get(o.port, "/metrics")
    wait_for("a line in the new log file", lambda: "GET /metrics" in open(logf).read(), timeout=10)
    o2 = Origin(media, store=o.store, args=["--no-access-log"], wait_title="a.mp4")
    get(o2.port, "/healthz")
    time.sleep(0.3)
    check_eq(o2.log_lines(), [], "stdout with --no-access-log")


def sigterm_drains_and_exits_zero():
    d = workdir()
    media = os.path.join(d, "media")
    os.makedirs(media)
    shutil.copy(long_clip(60), os.path.join(media, "long.mp4"))   # 4 minutes
    o = Origin(media, args=["--segment-duration", "60"], wait_title="long.mp4")
    b = dump_bundle(find_bundles(o.store)[0])
    gen = b["generation"]
    pl = get(o.port, "/long.mp4/0.m3u8").body.decode()
    seg_url = [ln for ln in pl.splitlines() if ln.endswith(".m4s")][0]
    check(seg_url.startswith(gen), "segment URL %s lacks generation %s" % (seg_url, gen))
    size = b["tracks"][0]["segments"][0]["size"]
    check(size > 1000000, "segment too small for a drain test: %d" % size)
    # a slow reader with a small receive buffer: the response is in flight
    c = Conn(o.port, rcvbuf=4096)
    c.send("GET /long.mp4/%s HTTP/1.1\r\nHost: x\r\n\r\n" % seg_url)
    got = b""
    while b"\r\n\r\n" not in got:
        got += c.sock.recv(4096)
    idle = Conn(o.port)
    check_eq(idle.request("GET", "/healthz").status, 200, "idle keep-alive connection")
    o.signal(signal.SIGTERM)
    # new connections are refused soon
    def refused():
        try:
            x = socket.create_connection(("127.0.0.1", o.port), timeout=1)
        except OSError:
            return True
        x.close()
        return False
    wait_for("the listening socket to close", refused, timeout=5)
    # the idle keep-alive connection is closed, the slow download finishes
    check(idle.closed_by_server(timeout=10), "idle connection not closed while draining")
    head_part, body = got.split(b"\r\n\r\n", 1)
    check(b" 200 " in head_part.split(b"\r\n")[0], "status %r" % head_part[:40])
    while len(body) < size:
        time.sleep(0.002)
        chunk = c.sock.recv(16384)
        if not chunk:
            break
        body += chunk
    check_eq(len(body), size, "bytes of the in-flight response")
    check_eq(o.wait(30), 0, "exit status after SIGTERM")
    check("stopped" in o.stderr(), "no 'stopped' line")


def sigint_exits_zero():
    s = Served()
    s.origin.signal(signal.SIGINT)
    check_eq(s.origin.wait(30), 0, "exit status after SIGINT")


def sighup_rescans():
    s = Served(extra_args=["--no-watch"])
    shutil.copy(av_clip(freq=660), os.path.join(s.media, "new.mp4"))
    time.sleep(1.0)
    check_eq(get(s.port, "/new.mp4/master.m3u8").status, 404, "new title before SIGHUP (--no-watch)")
    s.origin.signal(signal.SIGHUP)
    wait_for("the rescan to find new.mp4",
             lambda: get(s.port, "/new.mp4/master.m3u8").status != 404, timeout=30)
    s.origin.wait_ready("new.mp4", timeout=60)
    check(s.origin.alive(), "origin died on SIGHUP")


def titles_added_changed_removed_are_picked_up():
    s = Served()
    # added (copied under a hidden name, then renamed: what a careful
    # uploader does; the catalog ignores hidden files)
    tmp = os.path.join(s.media, ".added.tmp")
    shutil.copy(av_clip(freq=660), tmp)
    os.rename(tmp, os.path.join(s.media, "added.mp4"))
    wait_for("added.mp4 to be noticed",
             lambda: get(s.port, "/added.mp4/master.m3u8").status != 404, timeout=30)
    s.origin.wait_ready("added.mp4", timeout=60)
    # changed: a different source under the same name gets a new generation;
    # old segment URLs keep working until the new bundle is in place, and
    # nothing answers 5xx meanwhile
    old_seg = s.seg_path(0, 1)
    old_master = get(s.port, s.base + "master.m3u8").header("ETag")
    tmp = os.path.join(s.media, "sub", ".incoming")
    shutil.copy(av_clip(seconds=6, freq=880), tmp)
    os.rename(tmp, os.path.join(s.media, TITLE))
    statuses = set()

    def changed():
        r1 = get(s.port, s.base + "master.m3u8")
        r2 = get(s.port, old_seg)
        statuses.update((r1.status, r2.status))
        return r1.status == 200 and r1.header("ETag") != old_master
    wait_for("the changed title's new bundle", changed, timeout=60, interval=0.02)
    check(all(x < 500 for x in statuses), "5xx while the title was repackaged: %r" % statuses)
    check_eq(get(s.port, old_seg).status, 404, "old generation after the change")
    # removed
    os.unlink(os.path.join(s.media, "added.mp4"))
    wait_for("the removed title to be gone",
             lambda: get(s.port, "/added.mp4/master.m3u8").status == 404, timeout=30)


def segments_go_out_by_sendfile():
    strace = shutil.which("strace")
    if not strace:
        raise Skip("strace is not installed (apt-get install strace)")
    # the fd path (libmicrohttpd's trap 3); segments small enough go out
    # from the bundle's mapping in one sendmsg instead (docs/serving.md)
    os.environ["PAGECAST_MEM_MAX"] = "0"
    try:
        s = Served()
    finally:
        del os.environ["PAGECAST_MEM_MAX"]
    out = os.path.join(s.dir, "strace.txt")
    p = subprocess.Popen([strace, "-c", "-f", "-q", "-o", out, "-p", str(s.origin.proc.pid)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)
    if p.poll() is not None:
        raise Skip("strace cannot attach (ptrace not permitted here?): %s" %
                   p.stderr.read().decode().strip())
    c = Conn(s.port)
    n = 0
    total = 0
    for t, track in enumerate(s.tracks):
        for k in range(1, len(track["segments"]) + 1):
            r = c.request("GET", s.seg_path(t, k))
            check_eq(r.status, 200, "segment")
            n += 1
            total += len(r.body)
    c.close()
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    p.wait(30)
    summary = open(out).read()
    calls = {}
    for ln in summary.splitlines():
        f = ln.split()
        if len(f) >= 5 and f[-1].isidentifier() and f[3].isdigit():
            calls[f[-1]] = int(f[3])
    check(calls.get("sendfile", 0) >= n, "sendfile called %d times for %d segments (%d bytes); "
          "strace -c says:\n%s" % (calls.get("sendfile", 0), n, total, summary))
    # the fallback libmicrohttpd uses without sendfile reads the file with pread
    check(calls.get("pread64", 0) < n, "segments were read with pread (%d calls):\n%s" %
          (calls.get("pread64", 0), summary))


def behind_nginx_shield():
    """The shield configuration of docs/operations.md works: nginx caches
    segments once, serves ranges from its cache, and revalidates expired
    manifests with a 304 from the origin."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not nginx:
        raise Skip("nginx is not installed (apt-get install nginx-light)")
    s = Served(extra_args=["--manifest-max-age", "1"])
    prefix = os.path.join(s.dir, "nginx")
    os.makedirs(os.path.join(prefix, "cache"))
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nginx-shield.conf")
    conf = open(src).read()
    conf = (conf.replace("@CACHE_DIR@", os.path.join(prefix, "cache"))
                .replace("@ORIGIN@", "127.0.0.1:%d" % s.port)
                .replace("@LISTEN@", "127.0.0.1:%d" % port))
    conf_path = os.path.join(prefix, "nginx.conf")
    with open(conf_path, "w") as f:
        f.write(conf)
    err = open(os.path.join(prefix, "stderr.txt"), "wb")
    ng = subprocess.Popen([nginx, "-p", prefix, "-c", conf_path, "-e", os.path.join(prefix, "error.log"),
                           "-g", "daemon off; master_process off; pid %s/nginx.pid;" % prefix],
                          stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    try:
        def listening():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                check(ng.poll() is None, "nginx exited: %s" %
                      open(os.path.join(prefix, "stderr.txt")).read())
                return False
        wait_for("nginx to listen", listening, timeout=20)
        seg = s.seg_path(0, 2)
        want = s.blob(s.segment_record(0, 2))
        r1 = get(port, seg)
        r2 = get(port, seg)
        check_eq((r1.status, r1.header("X-Cache-Status")), (200, "MISS"), "first segment fetch")
        check_eq((r2.status, r2.header("X-Cache-Status")), (200, "HIT"), "second segment fetch")
        check(r1.body == want and r2.body == want, "segment bytes through nginx")
        check_eq(r2.header("ETag"), r1.header("ETag"), "ETag through the cache")
        check_eq(r2.header("Cache-Control"), IMMUTABLE, "Cache-Control through the cache")
        r = get(port, seg, [("Range", "bytes=100-199")])
        check_eq((r.status, r.body), (206, want[100:200]), "range served from nginx's cache")
        def fetched():
            return [ln for ln in s.origin.log_lines() if ("%s HTTP/1.1" % seg) in ln]
        wait_for("the origin's log line for the segment", fetched, timeout=5)
        time.sleep(0.3)
        check_eq(len(fetched()), 1, "origin fetches of the segment: %r" % fetched())
        # a manifest: cached for --manifest-max-age, then revalidated (304)
        m = s.base + "master.m3u8"
        check_eq(get(port, m).header("X-Cache-Status"), "MISS", "first manifest fetch")
        check_eq(get(port, m).header("X-Cache-Status"), "HIT", "second manifest fetch")
        time.sleep(2.2)
        r = get(port, m)
        # expired: revalidated at once, or (proxy_cache_background_update)
        # served stale while nginx revalidates in the background
        check(r.status == 200 and r.header("X-Cache-Status") in ("REVALIDATED", "STALE"),
              "expired manifest: %d %s" % (r.status, r.header("X-Cache-Status")))
        check(r.body.startswith(b"#EXTM3U"), "manifest body after revalidation")
        wait_for("the origin's 304 in its log", lambda: any(
            ("%s HTTP/1.1\" 304" % m) in ln for ln in s.origin.log_lines()), timeout=5)
        check_eq(get(port, m).header("X-Cache-Status"), "HIT", "manifest after revalidation")
        # errors are not cached: an unknown title stays a MISS
        for _ in range(2):
            r = get(port, "/nope.mp4/master.m3u8")
            check_eq(r.status, 404, "404 through nginx")
            check(r.header("X-Cache-Status") != "HIT", "a 404 was cached")
    finally:
        ng.terminate()
        ng.wait(10)
        err.close()


def rss_file_kib(pid):
    """The file-backed part of @pid's resident set (RssFile, Linux 4.5)."""
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("RssFile:"):
                return int(ln.split()[1])
    raise Skip("/proc/%d/status has no RssFile" % pid)


def memory_responses_give_their_pages_back():
    # docs/serving.md section 1: small segments go out by sendmsg from the
    # bundle's mapping, which maps their pages into the origin; each serving
    # thread gives them back (MADV_DONTNEED) at least once a second
    d = workdir()
    media = os.path.join(d, "media")
    os.makedirs(media)
    shutil.copy(long_clip(40), os.path.join(media, "long.mp4"))
    o = Origin(media, args=["--segment-duration", "1"], wait_title="long.mp4")
    dump = dump_bundle(find_bundles(o.store)[0])
    m = re.search(r'#EXT-X-MAP:URI="([0-9a-f]{16})/0/init\.mp4"', get(o.port, "/long.mp4/0.m3u8").body.decode())
    check(m, "no generation in the media playlist")
    time.sleep(1.5)
    base = rss_file_kib(o.proc.pid)
    c = Conn(o.port)
    total = 0
    for t, track in enumerate(dump["tracks"]):
        for k, seg in enumerate(track["segments"], 1):
            check(seg["size"] <= 256 * 1024, "segment %d/%d is %d bytes: not a memory response" % (t, k, seg["size"]))
            r = c.request("GET", "/long.mp4/%s/%d/%d.m4s" % (m.group(1), t, k))
            check_eq(r.status, 200, "segment %d/%d" % (t, k))
            total += len(r.body)
    c.close()
    check(total > 4 << 20, "only %d bytes of segments" % total)
    # every page was mapped in while sent; a second later they are given back
    wait_for("the origin's RssFile to fall back", lambda: rss_file_kib(o.proc.pid) - base < total / 1024 / 4,
             timeout=5)
    log("RssFile %d KiB before %d KiB of segments, %d KiB after" % (base, total >> 10, rss_file_kib(o.proc.pid)))


# ------------------------------------------------------------- startup

TCP_NOTSENT_LOWAT = 25             # <netinet/tcp.h>; Python's socket module lacks it
SYS_PIDFD_GETFD = 438              # x86_64 and the other common ABIs


def origin_socket_option(pid, client_addr, level, option):
    """getsockopt on the origin's own end of our connection from @client_addr:
    the socket is taken out of the origin with pidfd_getfd (Linux 5.6; needs
    ptrace rights over it, which root has)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        for name in os.listdir("/proc/%d/fd" % pid):
            try:
                if not os.readlink("/proc/%d/fd/%s" % (pid, name)).startswith("socket:"):
                    continue
            except OSError:
                continue
            fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(name), 0)
            if fd < 0:
                e = ctypes.get_errno()
                if e in (errno.EPERM, errno.ENOSYS):
                    raise Skip("pidfd_getfd: %s (ptrace not permitted here?)" % os.strerror(e))
                continue
            sk = socket.socket(fileno=fd)
            try:
                if sk.type == socket.SOCK_STREAM and sk.getpeername() == client_addr:
                    return sk.getsockopt(level, option) & 0xffffffff
            except OSError:
                pass
            finally:
                sk.close()
    finally:
        os.close(pidfd)
    raise Fail("no socket of the origin is connected to %r" % (client_addr,))


def connections_carry_the_send_low_water_mark():
    # docs/serving.md section 7: 128 KiB by default, --tcp-notsent-lowat to
    # change it; 0 leaves the socket's own mark unset (getsockopt reads 0),
    # so the kernel applies net.ipv4.tcp_notsent_lowat
    d = workdir()
    media = os.path.join(d, "media")
    os.makedirs(media)
    for args, want in (((), 128 * 1024),
                       (("--tcp-notsent-lowat", "262144"), 262144),
                       (("--tcp-notsent-lowat", "0"), 0)):
        o = Origin(media, args=list(args))
        c = Conn(o.port)
        check_eq(c.request("GET", "/healthz").status, 200, "/healthz with %r" % (args,))
        got = origin_socket_option(o.proc.pid, c.sock.getsockname(), socket.IPPROTO_TCP,
                                   TCP_NOTSENT_LOWAT)
        check_eq(got, want, "TCP_NOTSENT_LOWAT of the origin's socket with %r" % (args,))
        c.close()
        o.signal(signal.SIGTERM)
        check_eq(o.wait(30), 0, "exit status after SIGTERM")
    p = subprocess.run([os.environ["PAGECAST_ORIGIN"], "--media", media, "--tcp-notsent-lowat", "1e6"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    check_eq(p.returncode, 2, "a bad --tcp-notsent-lowat is a usage error")
    check(p.stderr.decode().startswith("pagecast-origin: --tcp-notsent-lowat takes bytes"),
          "the usage error names the option: %r" % p.stderr)


def startup_errors_are_one_line():
    d = workdir()
    media = os.path.join(d, "media")
    os.makedirs(media)
    # port in use
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    p = subprocess.run([os.environ["PAGECAST_ORIGIN"], "--media", media, "--listen",
                        "127.0.0.1:%d" % port], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    busy.close()
    err = p.stderr.decode()
    check_eq(p.returncode, 1, "exit status with the port in use")
    check_eq(err, "pagecast-origin: cannot listen on 127.0.0.1:%d: Address already in use\n" % port,
             "port-in-use message")
    # missing and unreadable media directories
    for args, word in ((["--media", os.path.join(d, "missing")], "No such file or directory"),
                       (["--media", os.path.join(media, "x.mp4")], "")):
        if word == "":
            open(os.path.join(media, "x.mp4"), "w").close()
        p = subprocess.run([os.environ["PAGECAST_ORIGIN"], "--listen", "127.0.0.1:0"] + args,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        err = p.stderr.decode()
        check_eq(p.returncode, 1, "exit status for %r" % args)
        check(err.count("\n") == 1 and err.startswith("pagecast-origin: ") and word in err,
              "startup error for %r: %r" % (args, err))
    # usage errors
    for args in ([], ["--media"], ["--media", media, "--threads", "0"],
                 ["--media", media, "--listen", "nowhere"], ["--media", media, "--bogus"],
                 ["--media", media, "--listen", "127.0.0.1:70000"],
                 ["--media", media, "--manifest-max-age", "-1"]):
        p = subprocess.run([os.environ["PAGECAST_ORIGIN"]] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        check_eq(p.returncode, 2, "usage error %r" % args)
        check(p.stderr.decode().startswith("pagecast-origin: "), "usage message %r" % p.stderr)
    p = subprocess.run([os.environ["PAGECAST_ORIGIN"], "--help"], stdout=subprocess.PIPE, timeout=30)
    check(p.returncode == 0 and b"--media" in p.stdout and b"--listen" in p.stdout, "--help")
    p = subprocess.run([os.environ["PAGECAST_ORIGIN"], "--version"], stdout=subprocess.PIPE, timeout=30)
    check(p.returncode == 0 and re.match(rb"pagecast-origin \d+\.\d+\.\d+\n$", p.stdout), "--version")


CASES = {f.__name__: f for f in [
    content_types_and_cache_headers,
    segment_bytes_equal_bundle_blobs,
    manifests_name_urls_that_work,
    byte_range_forms,
    if_range,
    head_has_get_headers_and_no_body,
    conditional_requests_304,
    cors_preflight_and_options,
    other_methods_get_405,
    unknown_titles_and_objects_404,
    traversal_is_refused,
    oversized_requests_are_refused,
    keep_alive_three_requests,
    busy_title_answers_503_then_200,
    unpackageable_source_answers_422,
    out_of_fds_answers_503,
    healthz_and_metrics,
    access_log_lines,
    sigterm_drains_and_exits_zero,
    sigint_exits_zero,
    sighup_rescans,
    titles_added_changed_removed_are_picked_up,
    segments_go_out_by_sendfile,
    memory_responses_give_their_pages_back,
    connections_carry_the_send_low_water_mark,
    behind_nginx_shield,
    startup_errors_are_one_line,
]}

if __name__ == "__main__":
    main(CASES)
