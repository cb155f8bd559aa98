#!/usr/bin/env python3
"""The faults suite, part 1: faults survived (issue 6, item 3).

Each case is one fault done to a real pagecast-pack or pagecast-origin, and
what must hold through it; docs/security.md says which defence each proves.

Run one case:  test_faults.py CASE   (meson runs each case as its own test).
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time

from faulttest import (PACK, ORIGIN, Conn, Fail, Poller, Skip, SlowReader, assert_healthy,
                       av_clip, check, check_eq, copy_file, dump_bundle, find_bundles,
                       generation_of, get, limited_origin_binary, link_or_copy, log, long_clip,
                       main, mount_tmpfs, place, quote, remount_tmpfs, segment_urls,
                       start_origin, temp_files, wait_for, wait_for_temp, workdir)

TEMP_RE = re.compile(r"^\.(.+)\.[A-Za-z0-9]{6}\.tmp$")


def pack(args, timeout=120):
    return subprocess.run([PACK] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


def bundle_ok(path):
    p = pack(["--check", path])
    return p.returncode == 0


def no_5xx(seen, what):
    bad = [(p, s) for p, s in seen if not isinstance(s, int) or s >= 500]
    check(not bad, "%s: %d of %d requests answered 5xx or failed, e.g. %r" %
          (what, len(bad), len(seen), bad[:5]))


# ------------------------------------------------------------- SIGKILL

def pack_sigkill_mid_title_leaves_no_bundle():
    """pagecast-pack killed with SIGKILL while it writes: the output path
    still holds the previous bundle (intact), the only leftover is a hidden
    temporary, and a re-run succeeds beside it."""
    src = long_clip(300)
    d = workdir()
    store = os.path.join(d, "store")
    os.makedirs(store)
    out = os.path.join(store, "t.pcb")
    p = pack(["-q", "-o", out, av_clip()])
    check(p.returncode == 0, "first pack: %s" % p.stderr.decode())
    with open(out, "rb") as f:
        old = f.read()
    tmp = None
    for attempt in range(10):
        proc = subprocess.Popen([PACK, "-q", "-o", out, src], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        tmp = wait_for_temp(store, min_size=2 << 20, proc=proc)
        if tmp:
            proc.send_signal(signal.SIGKILL)
        rc = proc.wait(60)
        proc.stderr.close()
        if tmp:
            check_eq(rc, -signal.SIGKILL, "pagecast-pack exit status")
            break
        log("attempt %d: packaging finished before the kill; again" % attempt)
    check(tmp, "never caught pagecast-pack mid-title in 10 attempts")
    log("killed pagecast-pack while %s had %d bytes" % (os.path.basename(tmp), os.path.getsize(tmp)))
    check(TEMP_RE.match(os.path.basename(tmp)) and TEMP_RE.match(os.path.basename(tmp)).group(1) == "t.pcb",
          "temporary name %r is not hidden '.t.pcb.XXXXXX.tmp'" % tmp)
    with open(out, "rb") as f:
        check(f.read() == old, "the previous bundle at %s changed" % out)
    check(bundle_ok(out), "the previous bundle no longer passes --check")
    check_eq(sorted(os.listdir(store)), sorted(["t.pcb", os.path.basename(tmp)]), "store contents")
    # the stale temporary is harmless: a new run writes its own and replaces t.pcb
    p = pack(["-q", "-o", out, src])
    check(p.returncode == 0, "re-run after the kill: %s" % p.stderr.decode())
    check(bundle_ok(out), "the re-run's bundle fails --check")
    check(len(dump_bundle(out)["tracks"][0]["segments"]) > 100, "the re-run's bundle is not the long title")


def origin_sigkill_mid_packaging_repackages_on_restart():
    """The origin killed with SIGKILL while a worker packages: no bundle of
    that title is visible, every visible bundle is whole, the temporary is
    never served, and the next start packages the title and serves it."""
    src = long_clip(300)
    d = workdir()
    media = os.path.join(d, "media")
    store = os.path.join(d, "store")
    names = ["t%d.mp4" % i for i in range(4)]
    for n in names:
        link_or_copy(src, os.path.join(media, n))
    o = start_origin(media, store=store, args=["--workers", "1"])
    tmp = wait_for_temp(store, min_size=4 << 20, timeout=120)
    check(tmp, "no packaging temporary appeared in the store")
    os.kill(o.proc.pid, signal.SIGKILL)
    o.proc.wait(30)
    base = os.path.basename(tmp)
    m = TEMP_RE.match(base)
    check(m, "temporary name %r is not hidden '.NAME.XXXXXX.tmp'" % base)
    victim = re.sub(r"\.[0-9a-f]{16}\.pcb$", "", m.group(1))
    check(victim in names, "temporary %r names no title" % base)
    log("killed the origin while it packaged %s (%s: %d bytes)" % (victim, base, os.path.getsize(tmp)))
    bundles = find_bundles(store)
    check(not [b for b in bundles if os.path.basename(b).startswith(victim + ".")],
          "a bundle of %s is visible after the kill: %r" % (victim, bundles))
    for b in bundles:
        check(bundle_ok(b), "visible bundle %s fails --check" % b)
    stale = [p for p, _ in temp_files(store)]
    # the next start: every title served, the killed one packaged again
    o2 = start_origin(media, store=store, args=["--workers", "1"])
    for n in names:
        o2.wait_ready(n)
        urls = segment_urls(o2.port, n)
        check(len(urls) > 100, "%s: %d segments" % (n, len(urls)))
        for u in (urls[0], urls[-1]):
            check_eq(get(o2.port, "/%s/%s" % (quote(n), u)).status, 200, "%s/%s" % (n, u))
    check(any(os.path.basename(b).startswith(victim + ".") for b in find_bundles(store)),
          "no bundle of %s after the restart" % victim)
    # the temporary is not reachable over HTTP under any name
    for path in ("/%s/master.m3u8" % quote(base), "/" + quote(base),
                 "/%s/%s" % (quote(victim), quote(base)),
                 "/%s/master.m3u8" % quote(m.group(1)), "/store/" + quote(base)):
        r = get(o2.port, path)
        check(r.status in (400, 403, 404), "%s: status %d" % (path, r.status))
    left = [p for p in stale if os.path.exists(p)]
    if left:
        log("NOTE: %d stale temporaries from the killed run are still in the store "
            "(see stale_temp_files_are_removed_at_start): %s" % (len(left), left))
    assert_healthy(o2, "after restart")


def stale_temp_files_are_removed_at_start():
    """Was a bug (fixed in origin/catalog.c): temporaries left by a killed
    packager are never removed; each is as big as the bundle it would have
    been, so repeated crashes fill the store.  A day-old hidden
    '.NAME.XXXXXX.tmp' in the store must be gone once the origin has
    started and packaged."""
    d = workdir()
    media = os.path.join(d, "media")
    store = os.path.join(d, "store")
    copy_file(av_clip(), os.path.join(media, "a.mp4"))
    os.makedirs(os.path.join(store, "sub"))
    stale = [os.path.join(store, ".a.mp4.0123456789abcdef.pcb.Ab12Cd.tmp"),
             os.path.join(store, "sub", ".b.mp4.0123456789abcdef.pcb.Xy34Zw.tmp")]
    day_ago = time.time() - 86400
    for p in stale:
        with open(p, "wb") as f:
            f.write(b"\0" * 65536)
        os.utime(p, (day_ago, day_ago))
    o = start_origin(media, store=store, args=["--segment-duration", "1"], wait_title="a.mp4")
    assert_healthy(o, "with stale temporaries")
    left = [p for p in stale if os.path.exists(p)]
    check(not left, "stale packaging temporaries were not removed at start: %r" % left)


# ------------------------------------------------------------ full store

def _full_store_fixture():
    d = workdir()
    media = os.path.join(d, "media")
    store = mount_tmpfs(os.path.join(d, "store"), "2m")
    copy_file(av_clip(), os.path.join(media, "a.mp4"))
    copy_file(av_clip(freq=660), os.path.join(media, "b.mp4"))
    o = start_origin(media, store=store, args=["--segment-duration", "1"])
    o.wait_ready("a.mp4")
    o.wait_ready("b.mp4")
    return d, media, store, o


def full_store_keeps_previous_bundle_serving():
    """The store fills up while a title is re-packaged: one clear error line,
    the title's previous bundle keeps serving (same generation, same bytes),
    the other title keeps serving, and no temporary is left filling it."""
    d, media, store, o = _full_store_fixture()
    gen_a, _ = generation_of(o.port, "a.mp4")
    segs_a = segment_urls(o.port, "a.mp4")
    segs_b = segment_urls(o.port, "b.mp4")
    body_a = get(o.port, "/a.mp4/" + segs_a[1]).body
    poll = Poller(o.port, ["/a.mp4/master.m3u8", "/a.mp4/" + segs_a[1], "/b.mp4/master.m3u8",
                           "/b.mp4/" + segs_b[1]])
    # 11 MB of source: its bundle cannot fit in the 2 MB store
    place(long_clip(60), os.path.join(media, "a.mp4"))
    wait_for("the packaging error in the log", lambda: "cannot package a.mp4" in o.stderr(), timeout=60)
    time.sleep(0.5)
    seen = poll.stop()
    lines = [ln for ln in o.stderr().splitlines() if "cannot package a.mp4" in ln]
    log("the error: %r" % lines)
    check_eq(len(lines), 1, "error lines for a.mp4")
    check(lines[0].startswith("pagecast-origin: error: ") and "No space left on device" in lines[0],
          "the error does not say the store is full: %r" % lines[0])
    no_5xx(seen, "while the store was full")
    check_eq(set(s for _, s in seen), {200}, "statuses while the store was full")
    check_eq(generation_of(o.port, "a.mp4")[0], gen_a, "a.mp4's generation after the failure")
    r = get(o.port, "/a.mp4/" + segs_a[1])
    check_eq((r.status, r.body == body_a), (200, True), "a.mp4's previous segment")
    for u in segs_b:
        check_eq(get(o.port, "/b.mp4/" + u).status, 200, "b.mp4/" + u)
    check_eq(temp_files(store), [], "temporaries left in the full store")
    assert_healthy(o, "store full")


def full_store_retries_after_space_is_freed():
    """Was a bug (fixed in origin/catalog.c): a packaging failure for lack
    of space is remembered like a bad source: the title is not retried when
    space comes back, not even on SIGHUP, until its source changes or the
    origin restarts, so it serves the stale bundle indefinitely.  Once the
    store has room again, a SIGHUP (or the next scan) must re-package it."""
    d, media, store, o = _full_store_fixture()
    gen_a, _ = generation_of(o.port, "a.mp4")
    place(long_clip(60), os.path.join(media, "a.mp4"))
    wait_for("the packaging error in the log", lambda: "cannot package a.mp4" in o.stderr(), timeout=60)
    remount_tmpfs(store, "64m")
    o.signal(signal.SIGHUP)
    try:
        wait_for("a.mp4 re-packaged once space is back",
                 lambda: generation_of(o.port, "a.mp4")[0] not in (None, gen_a), timeout=10)
    finally:
        assert_healthy(o, "after space came back")


# ------------------------------------------------------ sources changed

def source_truncated_while_packaging():
    """A source truncated while the origin packages it (the packager reads
    it through an mmap: a lost page is SIGBUS, which mmap_io.c turns into an
    error): no crash, the previous bundle keeps serving with no 5xx, and a
    complete source placed afterwards is packaged and served."""
    d = workdir()
    media = os.path.join(d, "media")
    path = os.path.join(media, "t.mp4")
    copy_file(long_clip(300), path)
    o = start_origin(media, args=["--workers", "1"], wait_title="t.mp4")
    gen1, _ = generation_of(o.port, "t.mp4")
    seg1 = segment_urls(o.port, "t.mp4")[3]
    poll = Poller(o.port, ["/t.mp4/master.m3u8", "/t.mp4/0.m3u8", "/t.mp4/" + seg1])
    caught = False
    for attempt in range(5):
        # a new mtime: the title is re-packaged (same bytes)
        os.utime(path, (time.time() + attempt + 1, time.time() + attempt + 1))
        if wait_for_temp(o.store, min_size=2 << 20, timeout=20):
            caught = True
            break
        log("attempt %d: packaging finished before the truncation; again" % attempt)
    size = os.path.getsize(path)
    os.truncate(path, size // 3)
    log("truncated the source to %d bytes %s" % (size // 3, "mid-packaging" if caught else
                                                  "(after packaging: the window was missed)"))
    wait_for("the truncated source refused", lambda: "cannot package t.mp4" in o.stderr(), timeout=60)
    time.sleep(0.5)
    assert_healthy(o, "after truncation")
    check(generation_of(o.port, "t.mp4")[0] is not None, "t.mp4 not served after truncation")
    # then a complete, different source: served once packaged
    place(long_clip(60), path)
    wait_for("the new source served",
             lambda: generation_of(o.port, "t.mp4")[0] not in (None, gen1), timeout=60)
    seen = poll.stop()
    no_5xx(seen, "t.mp4 while truncated and replaced")
    check(set(s for p, s in seen if "m3u8" in p) == {200}, "playlist statuses: %r" %
          sorted(set(s for _, s in seen), key=str))
    urls = segment_urls(o.port, "t.mp4")
    for u in (urls[0], urls[-1]):
        check_eq(get(o.port, "/t.mp4/" + u).status, 200, "new segment " + u)
    check(caught, "packaging was never caught in progress: the truncation did not test the "
          "mmap/SIGBUS path")
    assert_healthy(o, "end")


def long_ts():
    """80 minutes of MPEG-TS (the 20-minute clip 4 times, no re-encoding):
    about 260 MB, several seconds to package.  MPEG-TS has no index, so a
    truncated copy still packages (shorter)."""
    import httptest
    src = long_clip(300)
    path = os.path.join(httptest.MEDIA_CACHE, "long-ts-4x300.ts")

    def make(tmp):
        p = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", "-stream_loop", "3",
                            "-i", src, "-c", "copy", "-f", "mpegts", tmp],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        check(p.returncode == 0, "making the long TS: %s" % p.stderr.decode()[-2000:])
    return httptest._cached(path, make)


def failed_job_requeues_a_source_changed_meanwhile():
    """Was a bug (fixed in origin/catalog.c): a packaging job that fails
    because its source changed under it (here: truncated to 90 %, which the
    packager sees as 'the file shrank while it was being read' when it gets
    there) must be followed by a job for the source as it is now.  Today
    the rescan that saw the change ran while the job was running, so its
    enqueue() was a no-op (job == JOB_RUNNING); the job's failure branch in
    worker_main (origin/catalog.c) then records failed_hash = the *old*
    stat hash and, unlike the success branch, never checks
    `t2->stat_hash != before.stat_hash` to enqueue again; later rescans see
    an unchanged stat hash and do nothing.  The title serves its old bundle
    until the source changes again or the origin restarts.  The truncated
    MPEG-TS is packageable, so a new generation must appear."""
    d = workdir()
    media = os.path.join(d, "media")
    path = os.path.join(media, "t.ts")
    copy_file(long_ts(), path)
    o = start_origin(media, args=["--workers", "1"])
    o.wait_ready("t.ts", timeout=120)
    gen1, _ = generation_of(o.port, "t.ts")
    os.utime(path, (time.time() + 5, time.time() + 5))
    check(wait_for_temp(o.store, min_size=2 << 20, timeout=30), "re-packaging never started")
    size = os.path.getsize(path)
    os.truncate(path, size * 9 // 10)
    log("truncated t.ts to 90%% (%d bytes) while it was being packaged" % (size * 9 // 10))
    try:
        wait_for("the truncated source packaged (a new generation)",
                 lambda: generation_of(o.port, "t.ts")[0] not in (None, gen1), timeout=20)
    finally:
        log("origin log:\n" + o.stderr())
        assert_healthy(o, "end")


def _big_segment_title(d, seconds=240):
    media = os.path.join(d, "media")
    path = os.path.join(media, "t.mp4")
    copy_file(long_clip(300), path)
    # long segments: each is several MB, more than the socket buffers hold
    o = start_origin(media, args=["--segment-duration", str(seconds)], wait_title="t.mp4")
    gen, _ = generation_of(o.port, "t.mp4")
    urls = segment_urls(o.port, "t.mp4")
    bundles = find_bundles(o.store)
    check_eq(len(bundles), 1, "bundles")
    seg = urls[0]
    return media, path, o, gen, seg, bundles[0]


def _blob_bytes(bundle, track, n):
    dump = dump_bundle(bundle)
    rec = dump["tracks"][track]["segments"][n - 1]
    with open(bundle, "rb") as f:
        f.seek(rec["offset"])
        return f.read(rec["size"])


def bundle_replaced_inflight_finish_from_old_file():
    """A title re-packaged (its bundle replaced and the old one unlinked)
    while a slow client is in the middle of a multi-MB segment: that
    response finishes with the old bytes, new requests get the new
    generation, nothing answers 5xx."""
    d = workdir()
    media, path, o, gen1, seg, old_bundle = _big_segment_title(d)
    m = re.match(r"([0-9a-f]{16})/(\d+)/(\d+)\.m4s$", seg)
    check(m, "segment URL %r" % seg)
    want = _blob_bytes(old_bundle, int(m.group(2)), int(m.group(3)))
    check(len(want) > 8 << 20, "segment of %d bytes is too small to stay in flight" % len(want))
    slow = SlowReader(o.port, "/t.mp4/" + seg).start()
    check_eq(slow.status, 200, "in-flight segment status")
    poll = Poller(o.port, ["/t.mp4/master.m3u8", "/t.mp4/0.m3u8"])
    place(long_clip(60), path)
    wait_for("the new generation", lambda: generation_of(o.port, "t.mp4")[0] not in (None, gen1),
             timeout=60)
    wait_for("the old bundle unlinked", lambda: not os.path.exists(old_bundle), timeout=10)
    gen2 = generation_of(o.port, "t.mp4")[0]
    urls2 = segment_urls(o.port, "t.mp4")
    check(all(u.startswith(gen2 + "/") for u in urls2), "new playlist names old segments")
    r = get(o.port, "/t.mp4/" + urls2[0])
    check_eq(r.status, 200, "new segment")
    check(len(slow.got) < len(want), "the slow response was no longer in flight")
    got = slow.finish()
    check(got == want, "the in-flight response's bytes differ from the old bundle's segment "
          "(%d bytes, %d expected)" % (len(got), len(want)))
    seen = poll.stop()
    no_5xx(seen, "playlists during the replacement")
    r = get(o.port, "/t.mp4/" + seg)
    check(r.status < 500, "old-generation segment after replacement: %d" % r.status)
    log("old-generation URL after replacement: %d" % r.status)
    assert_healthy(o, "end")


def source_deleted_while_served():
    """A title's source deleted while a slow client is in the middle of one
    of its segments: that response completes with the right bytes, new
    requests get 404 (never 5xx), the origin lives on."""
    d = workdir()
    media, path, o, gen1, seg, bundle = _big_segment_title(d)
    m = re.match(r"([0-9a-f]{16})/(\d+)/(\d+)\.m4s$", seg)
    want = _blob_bytes(bundle, int(m.group(2)), int(m.group(3)))
    slow = SlowReader(o.port, "/t.mp4/" + seg).start()
    poll = Poller(o.port, ["/t.mp4/master.m3u8", "/t.mp4/" + seg])
    os.unlink(path)
    wait_for("the title gone", lambda: get(o.port, "/t.mp4/master.m3u8").status == 404, timeout=30)
    got = slow.finish()
    check(got == want, "the in-flight response's bytes differ after the source was deleted")
    seen = poll.stop()
    no_5xx(seen, "t.mp4 while deleted")
    check(set(s for _, s in seen) <= {200, 404}, "statuses %r" % sorted(set(s for _, s in seen), key=str))
    check_eq(get(o.port, "/t.mp4/" + seg).status, 404, "segment of the deleted title")
    assert_healthy(o, "end")


# ------------------------------------------------------- descriptors

def out_of_fds_low_ulimit_503_then_recovers():
    """Started with `ulimit -n 64`, the origin under 300 connections and
    their requests answers 200 or 503 (or does not accept), never crashes,
    and serves normally once the load is gone."""
    from faulttest import raise_own_fd_limit
    raise_own_fd_limit(2048)
    d = workdir()
    media = os.path.join(d, "media")
    copy_file(av_clip(), os.path.join(media, "a.mp4"))
    copy_file(av_clip(freq=660), os.path.join(media, "b.mp4"))
    o = start_origin(media, args=["--segment-duration", "1", "--threads", "2", "--workers", "1"],
                     binary=limited_origin_binary(d, 64))
    o.wait_ready("a.mp4")
    o.wait_ready("b.mp4")
    base = len(os.listdir("/proc/%d/fd" % o.proc.pid))
    log("origin uses %d fds of 64 at rest" % base)
    segs = ["/a.mp4/" + u for u in segment_urls(o.port, "a.mp4")] + \
           ["/b.mp4/" + u for u in segment_urls(o.port, "b.mp4")]
    statuses = {}
    for rnd in range(2):
        conns = []
        t0 = time.monotonic()
        for i in range(300):
            try:
                c = Conn(o.port)
                c.sock.settimeout(3)
                conns.append(c)
            except OSError:
                statuses["connect refused"] = statuses.get("connect refused", 0) + 1
        log("round %d: 300 connects in %.1f s" % (rnd, time.monotonic() - t0))
        time.sleep(0.2)
        for i, c in enumerate(conns):
            try:
                c.send("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % segs[i % len(segs)])
            except OSError:
                pass
        deadline = time.monotonic() + 5
        pending = list(conns)
        while pending and time.monotonic() < deadline:
            ready, _, _ = select.select([c.sock for c in pending], [], [], 0.2)
            for c in [c for c in pending if c.sock in ready]:
                pending.remove(c)
                try:
                    c.sock.settimeout(2)
                    r = c.read_response()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                    if r.status == 503:
                        check_eq(r.header("Retry-After"), "1", "Retry-After of a 503 when out of fds")
                except (socket.timeout, EOFError, ConnectionResetError, BrokenPipeError):
                    statuses["closed"] = statuses.get("closed", 0) + 1
        statuses["not answered"] = statuses.get("not answered", 0) + len(pending)
        for c in conns:
            c.close()
        check(o.alive(), "the origin died out of fds (rc %s): %s" % (o.proc.poll(), o.stderr()[-3000:]))
        time.sleep(0.5)
    log("outcomes of 600 requests with 64 fds: %r" % statuses)
    check(all(k in (200, 503, "closed", "not answered", "connect refused") for k in statuses),
          "unexpected outcomes out of fds: %r" % statuses)
    check(statuses.get(503, 0) + statuses.get("not answered", 0) > 0,
          "64 fds never ran out under 300 connections: %r" % statuses)

    # recovery: every segment again, sequentially, and the fds are back
    def recovered():
        return all(get(o.port, s).status == 200 for s in segs)
    t0 = time.monotonic()
    wait_for("serving again after the load", recovered, timeout=30)
    log("serving every segment again %.1f s after the load" % (time.monotonic() - t0))
    assert_healthy(o, "after the load")
    wait_for("the origin's fds back to rest",
             lambda: len(os.listdir("/proc/%d/fd" % o.proc.pid)) <= base + 2, timeout=30)


# ---------------------------------------------------------- startup errors

def _startup(args, preexec=None):
    p = subprocess.run([ORIGIN, "--listen", "127.0.0.1:0", "--no-access-log"] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                       preexec_fn=preexec)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def _one_line_error(rc, out, err, what, words):
    check_eq(rc, 1, "%s: exit status (stderr %r)" % (what, err))
    check(err.count("\n") == 1 and err.startswith("pagecast-origin: ") and err.endswith("\n"),
          "%s: not one 'pagecast-origin: ' line: %r" % (what, err))
    check(any(w in err for w in words), "%s: %r does not say %s" % (what, err, " or ".join(words)))
    check("listening" not in out, "%s: it listened anyway" % what)
    log("%s: %s" % (what, err.strip()))


def startup_errors_bad_store_and_media():
    """A read-only store, a missing one (its parent missing), a store that is
    a file, and a media directory the origin cannot read: each a clear one-
    line error and exit 1, never a start that serves nothing."""
    d = workdir()
    media = os.path.join(d, "media")
    copy_file(av_clip(), os.path.join(media, "a.mp4"))
    # store whose parent does not exist
    rc, out, err = _startup(["--media", media, "--store", os.path.join(d, "no", "such", "store")])
    _one_line_error(rc, out, err, "missing store", ["No such file or directory"])
    # store that is a regular file
    f = os.path.join(d, "store-file")
    open(f, "w").close()
    rc, out, err = _startup(["--media", media, "--store", f])
    # (the reason printed is checked in store_is_a_file_error_names_the_reason)
    _one_line_error(rc, out, err, "store is a file", ["not a writable directory"])
    # unreadable media directory: root reads anything, so run as nobody
    skipped = []
    if os.geteuid() == 0:
        os.chmod(d, 0o755)
        os.chmod(media, 0)
        store_ok = os.path.join(d, "store-nobody")
        os.makedirs(store_ok)
        os.chown(store_ok, 65534, 65534)

        def as_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        rc, out, err = _startup(["--media", media, "--store", store_ok], preexec=as_nobody)
        os.chmod(media, 0o755)
        _one_line_error(rc, out, err, "unreadable media directory", ["Permission denied"])
        check(media in err, "unreadable media: the error does not name the directory: %r" % err)
    else:
        os.chmod(media, 0)
        rc, out, err = _startup(["--media", media])
        os.chmod(media, 0o755)
        _one_line_error(rc, out, err, "unreadable media directory", ["Permission denied"])
    # read-only store: a read-only tmpfs (root ignores mode bits)
    ro = os.path.join(d, "ro-store")
    try:
        mount_tmpfs(ro, "1m", readonly=True)
    except Skip as e:
        skipped.append(str(e))
    else:
        rc, out, err = _startup(["--media", media, "--store", ro])
        _one_line_error(rc, out, err, "read-only store", ["Read-only file system"])
        check(ro in err, "read-only store: the error does not name it: %r" % err)
    if skipped:
        raise Skip("the rest passed; not tested: read-only store (%s)" % "; ".join(skipped))


def store_is_a_file_error_names_the_reason():
    """Was a bug (fixed in origin/catalog.c): with --store naming a regular
    file, origin/catalog.c reports a stale errno: 'the store is not a
    writable directory: Invalid argument' (or 'File exists' from the
    mkdir before it), where it must say 'Not a directory'.  The
    `int e = errno ? errno : ENOTDIR;` after a successful stat() reads
    whatever errno an earlier call left."""
    d = workdir()
    media = os.path.join(d, "media")
    os.makedirs(media)
    f = os.path.join(d, "store-file")
    open(f, "w").close()
    rc, out, err = _startup(["--media", media, "--store", f])
    _one_line_error(rc, out, err, "store is a file", ["not a writable directory"])
    check("Not a directory" in err, "store is a file: the reason is wrong: %r" % err)


CASES = {f.__name__: f for f in [
    pack_sigkill_mid_title_leaves_no_bundle,
    origin_sigkill_mid_packaging_repackages_on_restart,
    stale_temp_files_are_removed_at_start,
    full_store_keeps_previous_bundle_serving,
    full_store_retries_after_space_is_freed,
    source_truncated_while_packaging,
    bundle_replaced_inflight_finish_from_old_file,
    source_deleted_while_served,
    out_of_fds_low_ulimit_503_then_recovers,
    startup_errors_bad_store_and_media,
    store_is_a_file_error_names_the_reason,
    failed_job_requeues_a_source_changed_meanwhile,
]}

if __name__ == "__main__":
    main(CASES)
