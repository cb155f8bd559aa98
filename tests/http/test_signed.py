#!/usr/bin/env python3
"""Signed URLs (issue 6, item 5; docs/security.md): a real pagecast-origin
with --sign-secret-file, driven with raw requests.  Tokens are made here
with Python's hmac module, not with pagecast's code, so a test passes only
if the origin follows the documented format.

Run one case:  test_signed.py CASE   (meson runs each case as its own test).
"""

import hashlib
import hmac
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

from httptest import (FFMPEG, Conn, Fail, Origin, av_clip, check, check_eq, find_bundles, get,
                      head, main, metrics, quote, request, wait_for, workdir)

TITLE = "sub/My Movie \u00e9.mp4"          # a space and UTF-8, in a subdirectory
OTHER = "b.mp4"                             # a second title
SECRET = b"3f8a0c5e9b7d1f2a4c6e8b0d2f4a6c8e"
OTHER_SECRET = b"not-the-origin-secret-at-all-0123"
MPD_NS = "{urn:mpeg:dash:schema:mpd:2011}"


def token(acl, exp, secret=SECRET):
    """The token of docs/security.md, made independently of pagecast."""
    msg = "exp=%d~acl=%s" % (exp, acl)
    return msg + "~hmac=" + hmac.new(secret, msg.encode(), hashlib.sha256).hexdigest()


def acl_of(title):
    return "/" + quote(title) + "/*"


class Signed:
    """Two titles served by an origin with signing on (or off)."""

    def __init__(self, sign=True, extra_args=()):
        self.dir = workdir()
        self.media = os.path.join(self.dir, "media")
        os.makedirs(os.path.join(self.media, "sub"))
        for t in (TITLE, OTHER):
            shutil.copy(av_clip(), os.path.join(self.media, t))
        self.secret_file = os.path.join(self.dir, "secret")
        with open(self.secret_file, "wb") as f:
            f.write(SECRET + b"\n")
        os.chmod(self.secret_file, 0o600)
        args = ["--segment-duration", "1"] + list(extra_args)
        if sign:
            args += ["--sign-secret-file", self.secret_file]
        self.origin = Origin(self.media, args=args)
        self.port = self.origin.port
        self.base = "/" + quote(TITLE) + "/"
        self.exp = int(time.time()) + 3600
        self.tok = token(acl_of(TITLE), self.exp)
        for t in (TITLE, OTHER):
            self.wait_ready(t)
        bundles = find_bundles(self.origin.store)
        check_eq(len(bundles), 2, "bundles in the store")

    def wait_ready(self, title):
        path = "/%s/master.m3u8?token=%s" % (quote(title), token(acl_of(title), self.exp))

        def ready():
            r = get(self.port, path)
            check(r.status in (200, 503), "waiting for %s: %d %r" % (title, r.status, r.body))
            return r.status == 200
        wait_for(title + " to be packaged", ready, timeout=120, interval=0.05)

    def signed(self, path, tok=None):
        return path + "?token=" + (tok or self.tok)


def hls_uris(text):
    """Every URL an HLS playlist names: URI lines and URI attributes."""
    out = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    out += re.findall(r'URI="([^"]+)"', text)
    return out


def mpd_urls(text):
    """Every init and segment URL the MPD's SegmentTemplates give, expanded
    for each Representation and each segment of its SegmentTimeline."""
    root = ET.fromstring(text)
    urls = []
    for aset in root.iter(MPD_NS + "AdaptationSet"):
        for rep in aset.iter(MPD_NS + "Representation"):
            tpl = rep.find(MPD_NS + "SegmentTemplate")
            if tpl is None:
                tpl = aset.find(MPD_NS + "SegmentTemplate")
            check(tpl is not None, "no SegmentTemplate for Representation %s" % rep.get("id"))
            n = sum(int(s.get("r", "0")) + 1 for s in tpl.iter(MPD_NS + "S"))
            start = int(tpl.get("startNumber", "1"))
            rid = rep.get("id")
            urls.append(tpl.get("initialization").replace("$RepresentationID$", rid))
            for k in range(start, start + n):
                urls.append(tpl.get("media").replace("$RepresentationID$", rid)
                            .replace("$Number$", str(k)))
    return urls


def check_403(r, what, is_head=False):
    check_eq(r.status, 403, what)
    check_eq(r.body, b"" if is_head else b"403 forbidden\n", what + ": body")
    check_eq(r.header("Cache-Control"), "no-store", what + ": Cache-Control")
    check_eq(r.header("Access-Control-Allow-Origin"), "*", what + ": CORS")


# ------------------------------------------------------------------ cases

def signed_urls_open_every_object_and_manifests_pass_the_token_on():
    s = Signed()
    suffix = "?token=" + s.tok
    fetched = 0
    # HLS: master -> media playlists -> init and segments, following only
    # the URLs the manifests name; each must carry exactly our token.
    master = get(s.port, s.signed(s.base + "master.m3u8"))
    check_eq(master.status, 200, "signed master")
    uris = hls_uris(master.body.decode())
    check(len(uris) >= 2, "master names %r" % uris)
    for u in uris:
        check(u.endswith(suffix) and u.count("?") == 1, "master URI %r lacks the token" % u)
        r = get(s.port, s.base + u)
        check_eq(r.status, 200, "media playlist " + u)
        seg_uris = hls_uris(r.body.decode())
        check(len(seg_uris) >= 5, "playlist %s names %r" % (u, seg_uris))
        for su in seg_uris:
            check(su.endswith(suffix) and su.count("?") == 1, "%s: URI %r lacks the token" % (u, su))
            check_eq(get(s.port, s.base + su).status, 200, "GET " + su)
            # the token is what opens it
            check_403(get(s.port, s.base + su[:-len(suffix)]), "unsigned " + su)
            fetched += 1
    # DASH: every template URL carries the token and works.
    mpd = get(s.port, s.signed(s.base + "manifest.mpd"))
    check_eq(mpd.status, 200, "signed MPD")
    urls = mpd_urls(mpd.body.decode())
    check(len(urls) >= 10, "MPD names %r" % urls)
    for u in urls:
        check(u.endswith(suffix), "MPD URL %r lacks the token" % u)
        check_eq(get(s.port, s.base + u).status, 200, "GET " + u)
        fetched += 1
    check(fetched >= 20, "only %d objects fetched" % fetched)
    # The cached manifests stay token-free: the same manifest under another
    # token names that token only.
    tok2 = token(acl_of(TITLE), s.exp + 60)
    m2 = get(s.port, s.signed(s.base + "master.m3u8", tok2)).body.decode()
    check(s.tok not in m2 and all(u.endswith("?token=" + tok2) for u in hls_uris(m2)),
          "a second token's master:\n%s" % m2)
    # The bytes differ with the token, so does the ETag; a segment's bytes
    # and ETag do not.
    e1 = get(s.port, s.signed(s.base + "master.m3u8")).header("ETag")
    e2 = get(s.port, s.signed(s.base + "master.m3u8", tok2)).header("ETag")
    check(e1 != e2, "two tokens' masters share the ETag %s" % e1)
    seg = hls_uris(get(s.port, s.signed(s.base + "0.m3u8")).body.decode())[1]
    seg = seg[:seg.index("?")]
    r1 = get(s.port, s.signed(s.base + seg))
    r2 = get(s.port, s.signed(s.base + seg, tok2))
    check(r1.body == r2.body and r1.header("ETag") == r2.header("ETag"),
          "a segment differs with the token")


def signed_urls_refuse_missing_expired_forged_and_replayed_tokens():
    s = Signed()
    now = int(time.time())
    acl = acl_of(TITLE)
    good = s.tok
    msg, _, mac = good.rpartition("~hmac=")
    flipped = msg + "~hmac=" + mac[:-1] + ("0" if mac[-1] != "0" else "1")
    other_acl = acl_of(OTHER)
    seg = hls_uris(get(s.port, s.signed(s.base + "0.m3u8")).body.decode())[1]
    seg = seg[:seg.index("?")]
    bad = [
        ("no token", "", "no token"),
        ("expired a second ago", "?token=" + token(acl, now - 1), "expired token"),
        ("expired a day ago", "?token=" + token(acl, now - 86400), "expired token"),
        ("forged hmac", "?token=%s~hmac=%s" % (msg, "0" * 64), "bad signature"),
        ("one hmac digit changed", "?token=" + flipped, "bad signature"),
        ("another secret", "?token=" + token(acl, s.exp, OTHER_SECRET), "bad signature"),
        ("expiry pushed later", "?token=" + good.replace("exp=%d" % s.exp, "exp=%d" % (s.exp + 86400)),
         "bad signature"),
        ("acl widened to everything", "?token=" + good.replace("acl=" + acl, "acl=/*"), "bad signature"),
        ("malformed", "?token=exp=%d~acl=%s" % (s.exp, acl), "malformed token"),
        ("two tokens", "?token=%s&token=%s" % (good, good), "malformed token"),
        ("upper-case hmac", "?token=" + msg + "~hmac=" + mac.upper(), "malformed token"),
    ]
    t0 = time.monotonic()
    for path in (s.base + "master.m3u8", s.base + "1.m3u8", s.base + "manifest.mpd", s.base + seg):
        for what, query, _ in bad:
            check_403(get(s.port, path + query), "%s: %s" % (path, what))
            check_403(head(s.port, path + query), "HEAD %s: %s" % (path, what), is_head=True)
    # Replayed onto another path: the title's token on the other title, and a
    # token for one URL (an exact acl) on another URL of the same title.
    ob = "/" + quote(OTHER) + "/"
    for p in ("master.m3u8", "manifest.mpd", "0.m3u8"):
        check_403(get(s.port, ob + p + "?token=" + good), "title's token on " + OTHER)
        check_eq(get(s.port, ob + p + "?token=" + token(other_acl, s.exp)).status, 200,
                 OTHER + "'s own token")
    exact = token(s.base + "master.m3u8", s.exp)
    check_eq(get(s.port, s.base + "master.m3u8?token=" + exact).status, 200, "exact acl, its URL")
    check_403(get(s.port, s.base + "manifest.mpd?token=" + exact), "exact acl on the MPD")
    check_403(get(s.port, s.base + seg + "?token=" + exact), "exact acl on a segment")
    # The other title's acl, with our title's hmac: tampered, not replayed.
    check_403(get(s.port, ob + "master.m3u8?token=" + good.replace(acl, other_acl)), "acl tampered")
    # Refused before the catalog is asked: no 404/503 tells an unsigned
    # client which titles exist.
    check_403(get(s.port, "/nope.mp4/master.m3u8"), "unknown title, no token")
    check_403(get(s.port, "/nope.mp4/master.m3u8?token=" + good), "unknown title, other token")
    check_eq(get(s.port, "/nope.mp4/master.m3u8?token=" + token("/nope.mp4/*", s.exp)).status, 404,
             "unknown title, its own token")
    check_403(get(s.port, "/robots.txt"), "not a URL of ours, no token")
    refused = 4 * 2 * len(bad) + 3 + 2 + 1 + 3
    burst = time.monotonic() - t0
    # Each refusal is logged with its reason, never with the token, at most
    # PC_SIGN_LOG_PER_SECOND (20) lines a second: the burst above is
    # accounted for exactly by lines logged plus lines reported left out
    # (reported with the first refusal of a later second).
    time.sleep(1.1)
    for what, query, _ in bad[:4]:
        check_403(get(s.port, s.base + "master.m3u8" + query), "after the burst: " + what)
    check_403(get(s.port, ob + "master.m3u8?token=" + good), "after the burst: replayed")
    err = s.origin.stderr()
    lines = [ln for ln in err.splitlines() if ln.startswith("pagecast-origin: 403")]
    logged = [ln for ln in lines if ln.startswith("pagecast-origin: 403 for ")]
    dropped = sum(int(m) for m in re.findall(r"^pagecast-origin: 403: (\d+) more signed-URL "
                                             r"refusals not logged$", err, re.M))
    check_eq(len(logged) + dropped, refused + 5, "refusals logged + left out")
    # the burst spans at most int(burst) + 2 wall-clock seconds
    if refused > 20 * (int(burst) + 2):
        check(dropped > 0, "%d refusals in %.1f s, none left out of the log" % (refused, burst))
    check(len(logged) <= 20 * (int(burst) + 2) + 5, "%d refusal lines in %.1f s" %
          (len(logged), burst))
    for _, _, reason in bad:
        check(any(ln.endswith(": " + reason) for ln in logged), "no '%s' line in stderr:\n%s" %
              (reason, err[-3000:]))
    check("pagecast-origin: 403 for GET %s: path outside the token's acl" % (ob + "master.m3u8")
          in logged, "no path-mismatch line for %s:\n%s" % (OTHER, err[-3000:]))
    check("hmac=" not in err and mac not in err, "stderr holds a token:\n%s" % err[-3000:])
    # and counted
    m = metrics(s.port)
    check(m.get('pagecast_requests_total{kind="master",code="403"}', 0) >= len(bad),
          "403s not counted: %r" % {k: v for k, v in m.items() if "403" in k})


def signed_urls_head_range_and_conditionals_work_with_a_token():
    s = Signed()
    for p in ("master.m3u8", "0.m3u8", "manifest.mpd"):
        g = get(s.port, s.signed(s.base + p))
        h = head(s.port, s.signed(s.base + p))
        check_eq((g.status, h.status), (200, 200), p)
        check_eq(h.body, b"", p + " HEAD body")
        for k in ("Content-Length", "ETag", "Content-Type", "Cache-Control", "Last-Modified"):
            check_eq(h.header(k), g.header(k), "%s HEAD %s" % (p, k))
        check_eq(int(g.header("Content-Length")), len(g.body), p + " Content-Length")
        # a range of the signed manifest is a range of the bytes sent
        r = get(s.port, s.signed(s.base + p), [("Range", "bytes=-40")])
        check_eq(r.status, 206, p + " range")
        check_eq(r.body, g.body[-40:], p + " range bytes")
        check_eq(r.header("Content-Range"), "bytes %d-%d/%d" % (len(g.body) - 40, len(g.body) - 1,
                                                               len(g.body)), p + " Content-Range")
        # revalidation with the ETag of the signed bytes
        r = get(s.port, s.signed(s.base + p), [("If-None-Match", g.header("ETag"))])
        check_eq(r.status, 304, p + " If-None-Match")
    seg = hls_uris(get(s.port, s.signed(s.base + "0.m3u8")).body.decode())[1]
    full = get(s.port, s.base + seg)
    check_eq(full.status, 200, "segment")
    r = get(s.port, s.base + seg, [("Range", "bytes=100-199")])
    check_eq((r.status, r.body), (206, full.body[100:200]), "segment range")
    h = head(s.port, s.base + seg)
    check_eq((h.status, h.header("Content-Length")), (200, str(len(full.body))), "segment HEAD")
    # keep-alive: a 403 and a 200 on one connection
    c = Conn(s.port)
    try:
        check_403(c.request("GET", s.base + "master.m3u8"), "first request on the connection")
        check_eq(c.request("GET", s.signed(s.base + "master.m3u8")).status, 200, "then signed")
    finally:
        c.close()


def signed_urls_leave_healthz_metrics_and_options_open():
    s = Signed()
    r = get(s.port, "/healthz")
    check_eq((r.status, r.body), (200, b"ok\n"), "/healthz without a token")
    check_eq(get(s.port, "/metrics").status, 200, "/metrics without a token")
    r = request(s.port, "OPTIONS", s.base + "master.m3u8",
                [("Origin", "https://player.example"), ("Access-Control-Request-Method", "GET")])
    check_eq(r.status, 204, "CORS preflight without a token")
    # other methods are still 405, not 403
    check_eq(request(s.port, "DELETE", s.base + "master.m3u8").status, 405, "DELETE")
    # malformed targets are still 400 (syntax before tokens)
    check_eq(get(s.port, "/a/../b.mp4/master.m3u8?token=" + s.tok).status, 400, "dot-segments")


def signing_off_ignores_tokens():
    s = Signed(sign=False)
    now = int(time.time())
    plain = get(s.port, s.base + "master.m3u8")
    check_eq(plain.status, 200, "unsigned master")
    for q in ("?token=" + token(acl_of(TITLE), now - 100), "?token=garbage",
              "?token=" + token(acl_of(OTHER), now + 100, OTHER_SECRET)):
        r = get(s.port, s.base + "master.m3u8" + q)
        check_eq(r.status, 200, "signing off, " + q)
        check_eq(r.body, plain.body, "signing off: the manifest is not rewritten")
        check_eq(r.header("ETag"), plain.header("ETag"), "signing off: ETag")
    for u in hls_uris(plain.body.decode()):
        check("token" not in u, "unsigned URI %r" % u)
        check_eq(get(s.port, s.base + u).status, 200, u)


def make_token_and_documented_examples_open_the_title():
    s = Signed()
    origin = os.environ["PAGECAST_ORIGIN"]
    acl = acl_of(TITLE)
    # --make-token --expires: byte for byte the token Python makes
    exp = s.exp + 7
    p = subprocess.run([origin, "--make-token", "--sign-secret-file", s.secret_file, "--acl", acl,
                        "--expires", str(exp)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    check_eq((p.returncode, p.stderr), (0, b""), "--make-token")
    check_eq(p.stdout.decode(), "token=%s\n" % token(acl, exp), "--make-token output")
    # --acl given decoded is encoded: the same token
    p = subprocess.run([origin, "--make-token", "--sign-secret-file", s.secret_file, "--acl",
                        "/" + TITLE + "/*", "--expires", str(exp)], stdout=subprocess.PIPE,
                       timeout=30)
    check_eq(p.stdout.decode(), "token=%s\n" % token(acl, exp), "--make-token, decoded acl")
    # --ttl: expires that far ahead, and opens the title
    t0 = int(time.time())
    p = subprocess.run([origin, "--make-token", "--sign-secret-file", s.secret_file, "--acl", acl,
                        "--ttl", "120"], stdout=subprocess.PIPE, timeout=30)
    q = p.stdout.decode().strip()
    m = re.match(r"^token=exp=(\d+)~acl=", q)
    check(m and t0 + 120 <= int(m.group(1)) <= int(time.time()) + 120, "--ttl 120 gave %r" % q)
    check_eq(get(s.port, s.base + "master.m3u8?" + q).status, 200, "--make-token's token")
    # The examples in docs/operations.md, run as written with the test's
    # secret file, title and origin put in place of the example's.
    doc = open(os.path.join(os.environ["PC_SOURCE_ROOT"], "docs", "operations.md"),
               encoding="utf-8").read()
    marker = doc.index("<!-- tested by http-signed-make-token-and-documented-examples-open-the-title")
    blocks = re.findall(r"```(sh|python)\n(.*?)```", doc[marker:], re.S)[:2]
    check_eq([b[0] for b in blocks], ["sh", "python"], "example blocks after the marker")
    for lang, code in blocks:
        code = (code.replace("/etc/pagecast/secret", s.secret_file)
                .replace("/movies/My%20Movie.mp4", "/" + quote(TITLE))
                .replace("https://cdn.example.com", "http://127.0.0.1:%d" % s.port))
        cmd = ["bash", "-euo", "pipefail", "-c", code] if lang == "sh" else ["python3", "-c", code]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        check_eq(p.returncode, 0, "%s example: %s" % (lang, p.stderr.decode()))
        url = p.stdout.decode().strip().splitlines()[-1]
        check(url.startswith("http://127.0.0.1:%d%smaster.m3u8?token=exp=" % (s.port, s.base)),
              "%s example printed %r" % (lang, url))
        path = url[len("http://127.0.0.1:%d" % s.port):]
        r = get(s.port, path)
        check_eq(r.status, 200, "%s example's URL %s" % (lang, url))
        check(all(u.endswith(path[path.index("?"):]) for u in hls_uris(r.body.decode())),
              "%s example: the manifest passes the token on" % lang)


def secret_file_errors_are_one_line():
    d = workdir()
    media = os.path.join(d, "media")
    os.makedirs(media)
    origin = os.environ["PAGECAST_ORIGIN"]

    def secret(name, data, mode=0o600):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)
        return p

    cases = [
        (os.path.join(d, "missing"), "cannot read the secret file %s: No such file or directory"),
        (secret("empty", b""), "the secret file %s: no key"),
        (secret("blank", b"\n\n"), "the secret file %s: no key"),
        (secret("short", b"hunter2\n"), "the secret file %s: the key on line 1 is 7 bytes"),
        (secret("nul", SECRET + b"\0\n"), "the secret file %s: a NUL byte"),
        (d, "the secret file %s: not a regular file of at most 64 KiB"),
    ]
    for path, want in cases:
        for extra in (["--media", media, "--listen", "127.0.0.1:0"],
                      ["--make-token", "--acl", "/a.mp4/*"]):
            p = subprocess.run([origin, "--sign-secret-file", path] + extra, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            err = p.stderr.decode()
            check_eq(p.returncode, 1, "exit status for secret file %s (%s)" % (path, extra[0]))
            check(err.count("\n") == 1 and err.startswith("pagecast-origin: " + want % path),
                  "error for %s: %r" % (path, err))
            check_eq(p.stdout, b"", "no output for a bad secret file")
    # a readable-by-others secret works, with a warning
    loose = secret("loose", SECRET + b"\n", 0o644)
    p = subprocess.run([origin, "--make-token", "--sign-secret-file", loose, "--acl", "/a.mp4/*"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    check_eq(p.returncode, 0, "loose secret file")
    check_eq(p.stderr.decode(), "pagecast-origin: warning: the secret file %s can be read by other "
             "users (mode 0644): chmod 600 it\n" % loose, "loose secret warning")
    # usage errors: exit 2
    good = secret("good", SECRET + b"\n")
    for args in (["--make-token", "--acl", "/a.mp4/*"],
                 ["--make-token", "--sign-secret-file", good],
                 ["--media", media, "--sign-secret-file", good, "--acl", "/a.mp4/*"],
                 ["--make-token", "--sign-secret-file", good, "--acl", "a.mp4/*"],
                 ["--make-token", "--sign-secret-file", good, "--acl", "/a%2Fb/*"],
                 ["--make-token", "--sign-secret-file", good, "--acl", "/a/*", "--ttl", "0"],
                 ["--make-token", "--sign-secret-file", good, "--acl", "/a/*", "--ttl", "1",
                  "--expires", "2000000000"],
                 ["--make-token", "--sign-secret-file", good, "--acl", "/a/*", "--expires", "x"]):
        p = subprocess.run([origin] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        check_eq(p.returncode, 2, "usage error %r" % args)
        check(p.stderr.decode().startswith("pagecast-origin: "), "usage message %r" % p.stderr)
        check_eq(p.stdout, b"", "no token printed for %r" % args)


def ffmpeg_plays_signed_hls_and_dash():
    s = Signed()
    for p in ("master.m3u8", "manifest.mpd"):
        url = "http://127.0.0.1:%d%s" % (s.port, s.signed(s.base + p))
        r = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", url, "-map", "0", "-f", "null",
                            "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        check_eq(r.returncode, 0, "ffmpeg on the signed %s: %s" % (p, r.stderr.decode()[-2000:]))
        # and without the token it cannot
        r = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i",
                            "http://127.0.0.1:%d%s%s" % (s.port, s.base, p), "-f", "null", "-"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        check(r.returncode != 0, "ffmpeg played %s without a token" % p)
    # ffmpeg reached the segments through the propagated tokens: the access
    # log has segment requests with the token, and every one succeeded.
    def segment_lines():
        return [ln for ln in s.origin.log_lines() if ".m4s?token=" in ln]
    lines = wait_for("segment requests in the access log", segment_lines, timeout=5)
    check(len(lines) >= 8, "ffmpeg fetched %d segments" % len(lines))
    failed = [ln for ln in lines if not re.search(r'" 20[06] ', ln)]
    check(not failed, "segment requests that failed: %r" % failed[:5])


CASES = {f.__name__: f for f in [
    signed_urls_open_every_object_and_manifests_pass_the_token_on,
    signed_urls_refuse_missing_expired_forged_and_replayed_tokens,
    signed_urls_head_range_and_conditionals_work_with_a_token,
    signed_urls_leave_healthz_metrics_and_options_open,
    signing_off_ignores_tokens,
    make_token_and_documented_examples_open_the_title,
    secret_file_errors_are_one_line,
    ffmpeg_plays_signed_hls_and_dash,
]}

if __name__ == "__main__":
    main(CASES)
