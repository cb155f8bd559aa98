"""Helpers for pagecast's faults suite (Python 3 stdlib only).

The faults suite proves the defences of issue 6 items 3 and 4: faults the
origin and the packager survive (SIGKILL mid-title, a full store, sources
and bundles changed underneath, no file descriptors left, bad stores) and
abuse it shrugs off (slowloris, oversized, malformed, smuggling-shaped,
duplicated and pipelined requests).  Every case starts a real
pagecast-origin (or pagecast-pack) and checks it from the outside; every
case ends by asserting the origin is alive and answers /healthz.

It reuses tests/http/httptest.py (the Origin class, raw-socket Conn,
cached media); see there for the environment:
  PAGECAST_ORIGIN, PAGECAST_PACK, PC_SOURCE_ROOT, PC_TEST_MEDIA_HTTP, PC_KEEP

Some cases need root (a tmpfs mount for a full or read-only store, setuid
for an unreadable media directory); without it they skip (exit 77) and say
why.
"""

import os
import resource
import socket
import stat
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("PC_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "http"))

import httptest  # noqa: E402
from httptest import (Conn, Fail, Origin, Skip, _cleanups, av_clip, check, check_eq,  # noqa: E402,F401
                      dump_bundle, find_bundles, get, head, log, long_clip, main, metrics,
                      quote, request, wait_for, workdir)

PACK = httptest.PACK
ORIGIN = httptest.ORIGIN


# ------------------------------------------------------------ environment

def raise_own_fd_limit(want):
    """This test process needs @want descriptors (client sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return
    if hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            raise Skip("need %d file descriptors, the hard limit is %d" % (want, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def mount_tmpfs(path, size, readonly=False):
    """Mount a tmpfs of @size (e.g. '1m') on @path, unmounted at exit.
    Skips the case when mounting is not permitted (needs CAP_SYS_ADMIN)."""
    os.makedirs(path, exist_ok=True)
    opts = "size=%s,mode=0755" % size + (",ro" if readonly else "")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "pagecast-faults", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise Skip("cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): %s" %
                   p.stderr.decode().strip())

    def umount():
        subprocess.run(["umount", "-l", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # before the work directory is removed (cleanups run in reverse)
    _cleanups.append(umount)
    return path


def remount_tmpfs(path, size):
    p = subprocess.run(["mount", "-o", "remount,size=%s" % size, path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(p.returncode == 0, "remount %s: %s" % (path, p.stderr.decode()))


def limited_origin_binary(d, nofile):
    """A wrapper that runs the origin with soft and hard RLIMIT_NOFILE at
    @nofile (the origin raises its soft limit to the hard one itself, so
    both are lowered).  exec keeps the pid."""
    path = os.path.join(d, "origin-nofile-%d" % nofile)
    with open(path, "w") as f:
        f.write("#!/bin/sh\nulimit -n %d || exit 99\nexec '%s' \"$@\"\n" % (nofile, ORIGIN))
    os.chmod(path, 0o755)
    return path


def start_origin(media, store=None, args=(), wait_title=None, binary=None):
    """httptest.Origin, optionally with another binary (a wrapper)."""
    if binary is None:
        return Origin(media, store=store, args=args, wait_title=wait_title)
    saved = httptest.ORIGIN
    httptest.ORIGIN = binary
    try:
        return Origin(media, store=store, args=args, wait_title=wait_title)
    finally:
        httptest.ORIGIN = saved


def copy_file(src, dst):
    """A real copy (a test changes it; cached media are never written)."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(src, "rb") as a, open(dst, "wb") as b:
        while True:
            chunk = a.read(1 << 20)
            if not chunk:
                break
            b.write(chunk)


def place(src, dst):
    """Put a copy of @src at @dst atomically (hidden temp, then rename)."""
    d = os.path.dirname(dst)
    tmp = os.path.join(d, ".tmp-%d-%s" % (os.getpid(), os.path.basename(dst)))
    copy_file(src, tmp)
    os.replace(tmp, dst)


def link_or_copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        copy_file(src, dst)


def temp_files(store):
    """Packaging temporaries (hidden '.NAME.XXXXXX.tmp') under @store:
    [(path, size)]."""
    out = []
    for root, _, files in os.walk(store):
        for f in files:
            if f.endswith(".tmp"):
                p = os.path.join(root, f)
                try:
                    out.append((p, os.stat(p).st_size))
                except FileNotFoundError:
                    pass
    return out


def wait_for_temp(store, min_size=1 << 20, timeout=60, proc=None):
    """Spin until a packaging temporary of at least @min_size bytes exists
    under @store: packaging is then certainly in progress.  None if @proc
    exits first or on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p, size in temp_files(store):
            if size >= min_size:
                return p
        if proc is not None and proc.poll() is not None:
            return None
    return None


def assert_healthy(origin, what):
    """The origin is alive and answers /healthz promptly."""
    check(origin.alive(), "%s: the origin died (rc %s); stderr:\n%s" %
          (what, origin.proc.poll(), origin.stderr()[-3000:]))
    t0 = time.monotonic()
    r = get(origin.port, "/healthz")
    dt = time.monotonic() - t0
    check_eq((r.status, r.body), (200, b"ok\n"), "%s: /healthz" % what)
    check(dt < 2.0, "%s: /healthz took %.2f s" % (what, dt))


def generation_of(port, title):
    """(generation, media playlist text) of @title's first media playlist."""
    r = get(port, "/%s/0.m3u8" % quote(title))
    if r.status != 200:
        return None, r.status
    import re
    m = re.search(r'#EXT-X-MAP:URI="([0-9a-f]{16})/0/init\.mp4"', r.body.decode())
    check(m, "no generation in the media playlist:\n%s" % r.body.decode()[:2000])
    return m.group(1), r.body.decode()


def segment_urls(port, title, track=0):
    """The segment URLs (relative to the title) of @title's media playlist
    for @track."""
    r = get(port, "/%s/%d.m3u8" % (quote(title), track))
    check_eq(r.status, 200, "media playlist of %s" % title)
    return [ln.strip() for ln in r.body.decode().splitlines() if ln.strip() and not ln.startswith("#")]


class Poller:
    """A thread that GETs @paths in turn until stopped, recording every
    status (or the exception): the proof that nothing answered 5xx or hung
    while something was done to the origin."""

    def __init__(self, port, paths, interval=0.02):
        self.port = port
        self.paths = list(paths)
        self.interval = interval
        self.seen = []              # (path, status or 'error: ...')
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def set_paths(self, paths):
        self.paths = list(paths)

    def _run(self):
        while not self._stop.is_set():
            for p in list(self.paths):
                try:
                    r = get(self.port, p)
                    self.seen.append((p, r.status))
                except Exception as e:  # noqa: BLE001 - recorded, judged by the test
                    self.seen.append((p, "error: %r" % e))
            time.sleep(self.interval)

    def stop(self):
        self._stop.set()
        self._t.join(60)
        return self.seen

    def statuses(self):
        return sorted(set(s for _, s in self.seen), key=str)


class SlowReader:
    """A GET whose response the client reads slowly (tiny receive buffer),
    so it is still in flight while the test changes things."""

    def __init__(self, port, path):
        self.conn = Conn(port, rcvbuf=4096)
        self.conn.send("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
        self.head = None
        self.got = b""

    def start(self, nbytes=65536):
        """Read the head and the first @nbytes of the body."""
        c = self.conn
        while b"\r\n\r\n" not in c.buf:
            c._fill()
        raw_head, c.buf = c.buf.split(b"\r\n\r\n", 1)
        self.head = raw_head.decode("latin-1")
        self.status = int(self.head.split()[1])
        self.length = None
        for ln in self.head.split("\r\n")[1:]:
            k, _, v = ln.partition(":")
            if k.lower() == "content-length":
                self.length = int(v.strip())
        self.got = c.buf
        c.buf = b""
        while len(self.got) < nbytes:
            self.got += c.sock.recv(4096)
            time.sleep(0.001)
        return self

    def finish(self):
        c = self.conn
        while len(self.got) < self.length:
            chunk = c.sock.recv(65536)
            if not chunk:
                raise Fail("the in-flight response was cut after %d of %d bytes" %
                           (len(self.got), self.length))
            self.got += chunk
        c.close()
        return self.got
