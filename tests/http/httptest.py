"""Helpers for pagecast's http suite (Python 3 stdlib only).

Each test case starts a real pagecast-origin on 127.0.0.1:0 over a fresh
temporary media directory, talks to it over raw sockets (so every byte of
a request is chosen by the test and every byte of the answer is seen), and
stops it.  Media are made with ffmpeg once per build directory.

Environment (set by tests/http/meson.build):
  PAGECAST_ORIGIN     the pagecast-origin binary under test
  PAGECAST_PACK       pagecast-pack (for --dump of the bundles)
  PC_TEST_MEDIA_HTTP  cache directory for generated media
  PC_SOURCE_ROOT      the source tree
  PC_KEEP=1           keep each test's work directory (printed)

A case passes by returning, fails by raising Fail (or anything else), and
skips by raising Skip (exit 77, meson's convention).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# What the suites' helpers share is in tests/common/pclib.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))

import pclib  # noqa: E402  (after the path is set)
from pclib import (FFMPEG, Fail, Skip, _cached, check, check_eq, check_sanitizers,  # noqa: E402,F401
                   log)

ORIGIN = os.environ.get("PAGECAST_ORIGIN", "")
PACK = os.environ.get("PAGECAST_PACK", "")
MEDIA_CACHE = os.environ.get("PC_TEST_MEDIA_HTTP") or os.path.join(
    tempfile.gettempdir(), "pagecast-test-media-http")

# Generous: a hang is a failure, a sanitizer build on a slow box is not.
READY_TIMEOUT = 120
IO_TIMEOUT = 30


# ---------------------------------------------------------------- running

_cleanups = []


def main(cases):
    """Run the case named by argv[1] from the dict @cases (name -> function),
    then the cleanups (work directories, origins) in reverse order; exits
    0 (pass), 1 (fail, a failed cleanup included) or 77 (skip)."""
    name = pclib.case_from_argv(cases)
    pclib.require_executables(("PAGECAST_ORIGIN", ORIGIN), ("PAGECAST_PACK", PACK))
    sys.exit(pclib.run_case(name, cases[name], _cleanups))


def workdir():
    """A fresh directory for one test, removed at exit unless PC_KEEP."""
    d = tempfile.mkdtemp(prefix="pagecast-http-")
    _cleanups.append(lambda: pclib.remove_workdir(d))
    return d


# ---------------------------------------------------------------- media

def ffmpeg_media(name, ext, args):
    """A file made by `ffmpeg <args> OUT` (an .mp4 or .mkv), cached by its
    command line."""
    return pclib.ffmpeg_media(MEDIA_CACHE, name, ext,
                              args + ["-f", {"mp4": "mp4", "mkv": "matroska"}[ext]])


def av_clip(seconds=4, rate=25, size="320x240", freq=440):
    """H.264 + AAC with a keyframe every second: with --segment-duration 1
    it packages to one segment per second in each of two tracks."""
    return ffmpeg_media("av-%ds-%s-%d" % (seconds, size, freq), "mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=%s:rate=%d" % (size, rate),
        "-f", "lavfi", "-i", "sine=frequency=%d:sample_rate=48000" % freq,
        "-t", str(seconds), "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "veryfast", "-g", str(rate), "-keyint_min", str(rate),
        "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k"])


def long_clip(loops):
    """The 4 s clip repeated @loops times without re-encoding: long to
    package (many packets) yet quick to make."""
    src = av_clip()
    return ffmpeg_media("long-%d" % loops, "mp4", [
        "-stream_loop", str(loops - 1), "-i", src, "-c", "copy"])


def long_titles_media(d, count):
    """A media directory under @d holding @count 20-minute titles (hard
    links of one long clip, copies where links fail), for tests that need
    titles still waiting to be packaged right after start.
    @return (media directory, sorted title names)"""
    media = os.path.join(d, "media")
    os.makedirs(media)
    src = long_clip(300)
    names = ["long-%d.mp4" % i for i in range(count)]
    for n in names:
        try:
            os.link(src, os.path.join(media, n))
        except OSError:
            shutil.copy(src, os.path.join(media, n))
    return media, names


def dump_bundle(path):
    """pagecast-pack --dump of the bundle at @path, as a dict."""
    p = pclib.run([PACK, "--dump", path], timeout=60)
    check(p.returncode == 0, "pagecast-pack --dump %s failed: %s" % (path, p.stderr))
    return json.loads(p.stdout)


def find_bundles(store):
    """Bundle files (*.pcb) under the store directory."""
    out = []
    for root, _, files in os.walk(store):
        out += [os.path.join(root, f) for f in files if f.endswith(".pcb")]
    return sorted(out)


# ---------------------------------------------------------------- the origin

class Origin:
    """A running pagecast-origin.  Its stdout (the startup line, then the
    access log) is collected by a thread; stderr goes to a file."""

    def __init__(self, media, store=None, args=(), wait_title=None, env=None):
        self.media = media
        self.dir = os.path.dirname(media.rstrip("/"))
        self.store = store or os.path.join(self.dir, "store")
        self.err_path = os.path.join(self.dir, "origin-stderr-%d.txt" % id(self))
        cmd = [ORIGIN, "--media", media, "--store", self.store, "--listen", "127.0.0.1:0",
               "--threads", "2"] + list(args)
        self.cmd = cmd
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.err, env=env)
        self.lines = []
        self._lock = threading.Lock()
        try:
            self.port, _ = pclib.origin_port(self.proc, READY_TIMEOUT, self.stderr)
        except Fail:
            pclib.stop_process(self.proc, 10)
            self.err.close()
            raise
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        _cleanups.append(self.kill)
        if wait_title:
            self.wait_ready(wait_title)

    def _read(self):
        for raw in self.proc.stdout:
            with self._lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def log_lines(self):
        with self._lock:
            return list(self.lines)

    def stderr(self):
        self.err.flush()
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def wait_ready(self, title, timeout=READY_TIMEOUT):
        """Poll /<title>/master.m3u8 until 200; 503 (packaging) is expected
        meanwhile and nothing else is."""
        deadline = time.time() + timeout
        path = "/%s/master.m3u8" % quote(title)
        last = None
        while time.time() < deadline:
            r = get(self.port, path)
            if r.status == 200:
                return r
            check(r.status == 503, "waiting for %s: status %d %r" % (title, r.status, r.body[:200]))
            last = r
            time.sleep(0.05)
        raise Fail("%s not ready after %d s (last %s); stderr: %s" %
                   (title, timeout, last and last.status, self.stderr()[-2000:]))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Fail("origin did not exit within %d s" % timeout)

    def kill(self):
        """End of test: stop gracefully (SIGTERM must exit 0) and fail on
        any sanitizer report, so every case also checks a clean shutdown
        in sanitizer builds (leaks included)."""
        try:
            if self.proc.poll() is None:
                rc = pclib.stop_process(self.proc, 60)
                check(rc is not None, "origin did not exit within 60 s of SIGTERM")
                check(rc == 0, "origin exited with %s after SIGTERM; stderr:\n%s" %
                      (rc, self.stderr()[-3000:]))
            check_sanitizers(self.stderr(), "origin")
        finally:
            self.err.close()


def quote(title):
    """Percent-encode a title for a URL path (keeping '/')."""
    out = []
    for b in title.encode("utf-8"):
        c = chr(b)
        if c.isalnum() and b < 0x80 or c in "-._~/":
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)


# ---------------------------------------------------------------- raw HTTP

class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value) in order
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        check(len(vals) <= 1, "header %s sent %d times: %r" % (name, len(vals), vals))
        return vals[0] if vals else default

    def has(self, name):
        return any(k.lower() == name.lower() for k, _ in self.headers)

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.reason, self.headers)


class Conn:
    """One client connection; requests are raw bytes, responses are parsed
    exactly (Content-Length framing; no body for HEAD, 204 and 304)."""

    def __init__(self, port, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(IO_TIMEOUT)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by the server")
        self.buf += chunk

    def read_response(self, head=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw_head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw_head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)$", lines[0])
        check(m, "bad status line %r" % lines[0])
        status = int(m.group(1))
        headers = []
        for ln in lines[1:]:
            k, sep, v = ln.partition(":")
            check(sep and k and k == k.strip(), "bad header line %r" % ln)
            headers.append((k, v.strip()))
        resp = Response(status, m.group(2), headers, b"", raw_head)
        if head or status in (204, 304) or 100 <= status < 200:
            return resp
        te = resp.header("Transfer-Encoding")
        check(te is None, "unexpected Transfer-Encoding %r" % te)
        cl = resp.header("Content-Length")
        check(cl is not None and cl.isdigit(), "no Content-Length in %r" % resp)
        n = int(cl)
        while len(self.buf) < n:
            self._fill()
        resp.body, self.buf = self.buf[:n], self.buf[n:]
        return resp

    def request(self, method, path, headers=(), version="HTTP/1.1", body=b""):
        req = "%s %s %s\r\nHost: 127.0.0.1\r\n" % (method, path, version)
        for k, v in headers:
            req += "%s: %s\r\n" % (k, v)
        if body:
            req += "Content-Length: %d\r\n" % len(body)
        req = req.encode("utf-8", "surrogateescape") + b"\r\n" + body
        self.send(req)
        return self.read_response(head=(method == "HEAD"))

    def closed_by_server(self, timeout=5):
        """True if the server closes the connection (EOF or reset) within
        @timeout seconds with nothing more sent."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def request(port, method, path, headers=(), **kw):
    c = Conn(port)
    try:
        return c.request(method, path, headers, **kw)
    finally:
        c.close()


def get(port, path, headers=()):
    return request(port, "GET", path, headers)


def head(port, path, headers=()):
    return request(port, "HEAD", path, headers)


def wait_for(what, fn, timeout=60, interval=0.1):
    """Poll fn() until it returns a true value; that value is returned."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise Fail("timed out after %d s waiting for %s" % (timeout, what))
        time.sleep(interval)


def metrics(port):
    """/metrics as {'name{labels}': value}."""
    r = get(port, "/metrics")
    check_eq(r.status, 200, "/metrics status")
    out = {}
    for ln in r.body.decode().splitlines():
        if not ln or ln.startswith("#"):
            continue
        k, _, v = ln.rpartition(" ")
        out[k] = float(v)
    return out


def sig_name(sig):
    return signal.Signals(sig).name
