#!/usr/bin/env python3
"""Titles added, changed and removed while the origin runs are picked up.

The origin watches its media directory (inotify); these cases change the
directory under a running origin and watch what HTTP clients see:

  added    a new file (also in a new subdirectory) appears: 404 until a
           rescan finds it, 503 with Retry-After while it is packaged, then
           200 and players read it;
  replaced a source renamed over with different content gets a new
           generation; meanwhile a client hammers an old-generation segment
           and the manifests: never a 5xx, the old segment is served with
           its old bytes until the new bundle is in place (then 404), the
           manifests answer 200 throughout;
  rewritten a source overwritten in place (cp) is re-packaged too;
  grouped  a file added to a ".title" directory joins that title;
  removed  a deleted source (or .title directory) answers 404 for its
           manifests and segments, and its bundle leaves the store.

Run: test_changes.py CASE   (see tests/origin/meson.build)
"""

import os
import re
import shutil
import threading
import time

import origintest
from origintest import (Fail, Origin, check, check_title, generation, get_ok, http_get, link_or_copy,
                        log, media_playlist_urls, place, workdir)
from test_titles import src_h264_aac, src_ladder, src_late_audio, src_vp9_opus

CHANGE_TIMEOUT = 60


def setup(titles):
    """A media directory with @titles ({name: source}), an origin over it,
    every title ready."""
    d = workdir()
    m = os.path.join(d, "media")
    os.makedirs(m)
    for name, src in titles.items():
        link_or_copy(src, os.path.join(m, name))
    o = Origin(m)
    for name in titles:
        o.wait_ready(name)
    return o, m


def store_bundles(origin, title):
    """The store files of @title: '<title>.<16 hex>.pcb' (docs/titles.md)."""
    d = os.path.join(origin.store, os.path.dirname(title))
    base = os.path.basename(title)
    if not os.path.isdir(d):
        return []
    return sorted(f for f in os.listdir(d) if re.fullmatch(re.escape(base) + r"\.[0-9a-f]{16}\.pcb", f))


def wait_until(what, fn, timeout=CHANGE_TIMEOUT, origin=None):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Fail("%s: not within %d s%s" % (what, timeout, "; origin stderr:\n" + origin.stderr()[-3000:]
                                                  if origin else ""))
        time.sleep(0.1)


def new_generation(origin, title, old):
    def f():
        r = http_get(origin.url(title, "manifest.mpd"))
        check(r.status in (200, 503), "%s/manifest.mpd: HTTP %d while it is re-packaged" % (title, r.status))
        if r.status != 200:
            return None
        m = re.search(r'initialization="([0-9a-f]{16})/', r.body.decode())
        return m.group(1) if m and m.group(1) != old else None
    return wait_until("%s: a new generation in the MPD (old %s)" % (title, old), f, origin=origin)


# ---------------------------------------------------------------- cases

def picks_up_added_titles():
    o, m = setup({"first.mp4": src_h264_aac()})
    r = http_get(o.url("second.webm", "master.m3u8"))
    check(r.status == 404, "a title that does not exist yet: HTTP %d, expected 404" % r.status)
    # a file, and a file in new nested directories (watched as they appear)
    place(src_vp9_opus(), os.path.join(m, "second.webm"))
    os.makedirs(os.path.join(m, "new", "deeper"))
    place(src_late_audio(), os.path.join(m, "new", "deeper", "third.mp4"))
    for title, src in (("second.webm", src_vp9_opus()), ("new/deeper/third.mp4", src_late_audio())):
        seen = o.wait_ready(title)
        log("%s: statuses while it appeared: %s" % (title, " -> ".join(map(str, seen))))
        check(seen[-1] == 200 and all(s in (404, 503) for s in seen[:-1]),
              "%s: statuses %s, expected 404s and 503s, then 200" % (title, seen))
        check_title(o, title, [src])
    check(http_get(o.url("first.mp4", "master.m3u8")).status == 200, "first.mp4 no longer served")
    o.stop()


def _hammer(origin, title, seg_url, seg_bytes, stop, out):
    """Until @stop: GET the old segment and the manifests, recording
    (what, status, note, start, end).  After the old segment's first 404 the MPD must
    already name the new generation (the old bundle goes only once the new
    one is in place)."""
    old_gen = re.search(r"/([0-9a-f]{16})/", seg_url).group(1)
    urls = [("segment", seg_url), ("master", origin.url(title, "master.m3u8")),
            ("mpd", origin.url(title, "manifest.mpd"))]
    i = 0
    while not stop.is_set():
        what, url = urls[i % 3] if i % 2 else urls[0]      # the segment every other request
        i += 1
        t0 = time.monotonic()
        r = http_get(url)
        t1 = time.monotonic()
        note = ""
        if what == "segment" and r.status == 200 and r.body != seg_bytes:
            note = "different bytes (%d, was %d)" % (len(r.body), len(seg_bytes))
        if what == "segment" and r.status == 404 and not any(x[0] == "segment" and x[1] == 404 for x in out):
            mpd = http_get(origin.url(title, "manifest.mpd"))
            if mpd.status != 200 or old_gen in mpd.body.decode("utf-8", "replace"):
                note = "old segment 404 while the MPD still names generation %s (HTTP %d)" % (old_gen, mpd.status)
        out.append((what, r.status, note, t0, t1))
        time.sleep(0.002)


def keeps_old_segments_while_replaced_source_repackages():
    title = "movie.mp4"
    o, m = setup({})
    place(src_h264_aac(), os.path.join(m, title))
    o.wait_ready(title)
    old_gen = generation(o, title)
    old_bundles = store_bundles(o, title)
    check(len(old_bundles) == 1, "store holds %s for %s, expected one bundle" % (old_bundles, title))
    urls = media_playlist_urls(o, title)
    seg_url = [u for u in urls["0.m3u8"] if u.endswith("/1.m4s")][0] if "0.m3u8" in urls else \
        [u for us in urls.values() for u in us if u.endswith("/1.m4s")][0]
    check("/%s/" % old_gen in seg_url, "segment URL %s does not carry generation %s" % (seg_url, old_gen))
    seg_bytes = get_ok(seg_url)

    stop = threading.Event()
    log_ = []
    threads = [threading.Thread(target=_hammer, args=(o, title, seg_url, seg_bytes, stop, log_))
               for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        # different content, renamed over the old source (longer, so the
        # re-packaging takes a moment)
        place(src_h264_aac(dur=25, gop=240), os.path.join(m, title))
        new_gen = new_generation(o, title, old_gen)
        # keep going a little after the switch
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    counts = {}
    for what, status, *_ in log_:
        counts.setdefault(what, {}).setdefault(status, 0)
        counts[what][status] += 1
    log("during the re-packaging (%s -> %s): %s" % (old_gen, new_gen, counts))
    bad = [x for x in log_ if x[1] >= 500]
    check(not bad, "HTTP %s during the re-packaging (of %d requests: %s)" %
          (sorted(set("%s %d" % (w, s) for w, s, *_ in bad)), len(log_), counts))
    notes = [x for x in log_ if x[2]]
    check(not notes, "old segment: %s" % (notes[0][2] if notes else ""))
    seg = sorted((x for x in log_ if x[0] == "segment"), key=lambda x: x[3])
    statuses = [x[1] for x in seg]
    check(set(statuses) <= {200, 404}, "old segment answered %s, expected 200 then 404" % sorted(set(statuses)))
    check(statuses and statuses[0] == 200, "old segment: first answer after the change began was %s, not 200" %
          (statuses[:1] or "nothing"))
    # once a 404 has been answered, no request made after it gets a 200
    end_404 = min([x[4] for x in seg if x[1] == 404] or [float("inf")])
    late = [x for x in seg if x[1] == 200 and x[3] > end_404]
    check(not late, "old segment answered 200 again (%d times) after a 404" % len(late))
    man = [x[1] for x in log_ if x[0] in ("master", "mpd")]
    check(set(man) <= {200}, "manifests answered %s while the title was re-packaged (the old "
          "bundle should be served until the new one is in place)" % sorted(set(man)))
    # the new content is what players now get, and the old bundle is gone
    check_title(o, title, [src_h264_aac(dur=25, gop=240)])
    wait_until("the old bundle %s leaves the store" % old_bundles[0],
               lambda: old_bundles[0] not in store_bundles(o, title), origin=o)
    check(len(store_bundles(o, title)) == 1, "store holds %s for %s" % (store_bundles(o, title), title))
    r = http_get(seg_url)
    check(r.status == 404, "old-generation segment after the switch: HTTP %d, expected 404" % r.status)
    o.stop()


def picks_up_source_rewritten_in_place():
    title = "rewritten.mp4"
    d = workdir()
    m = os.path.join(d, "media")
    os.makedirs(m)
    shutil.copyfile(src_h264_aac(), os.path.join(m, title))     # a copy: written below
    o = Origin(m)
    o.wait_ready(title)
    old_gen = generation(o, title)
    shutil.copyfile(src_late_audio(), os.path.join(m, title))   # truncate + write, like cp
    new_generation(o, title, old_gen)
    check_title(o, title, [src_late_audio()])
    o.stop()


def picks_up_files_added_to_title_dir():
    title = "show.title"
    files = src_ladder()
    m = os.path.join(workdir(), "media")
    first = ["audio-eng.m4a", "video-240p.mp4"]
    for f in first:
        place(files[f], os.path.join(m, title, f))
    o = Origin(m)
    o.wait_ready(title)
    check_title(o, title, [files[f] for f in sorted(first)])
    old_gen = generation(o, title)
    # a second rendition and a second language join the title
    place(files["video-120p.mp4"], os.path.join(m, title, "video-120p.mp4"))
    place(files["audio-fra.m4a"], os.path.join(m, title, "audio-fra.m4a"))
    new_generation(o, title, old_gen)

    def complete():
        # the two files may be picked up by one rescan or by two
        r = http_get(o.url(title, "master.m3u8"))
        check(r.status in (200, 503), "%s/master.m3u8: HTTP %d while it is re-packaged" % (title, r.status))
        body = r.body.decode("utf-8", "replace")
        return r.status == 200 and body.count("#EXT-X-STREAM-INF") == 2 and body.count("TYPE=AUDIO") == 2
    wait_until("%s: both renditions and both languages in the master playlist" % title, complete, origin=o)
    check_title(o, title, [files[f] for f in sorted(files)])
    o.stop()


def stops_serving_removed_titles():
    files = src_ladder()
    o, m = setup({"gone.mp4": src_h264_aac(), "stays.webm": src_vp9_opus()})
    os.makedirs(os.path.join(m, "group.title"))
    for f in ("audio-eng.m4a", "video-240p.mp4"):
        link_or_copy(files[f], os.path.join(m, "group.title", f))
    o.wait_ready("group.title")
    before = {}
    for title in ("gone.mp4", "group.title"):
        urls = media_playlist_urls(o, title)
        before[title] = [o.url(title, "master.m3u8"), o.url(title, "manifest.mpd")] + \
            [o.url(title, u) for u in urls] + [u for us in urls.values() for u in us[:2]]
        for u in before[title]:
            get_ok(u)
        check(store_bundles(o, title), "no bundle of %s in the store" % title)
    os.unlink(os.path.join(m, "gone.mp4"))
    shutil.rmtree(os.path.join(m, "group.title"))
    for title, urls in before.items():
        wait_until("%s/master.m3u8 answers 404 after its source was removed" % title,
                   lambda: http_get(urls[0]).status == 404, origin=o)
        for u in urls:
            r = http_get(u)
            check(r.status == 404, "%s: HTTP %d after its title was removed, expected 404" % (u, r.status))
        wait_until("the bundle of the removed %s leaves the store" % title,
                   lambda: not store_bundles(o, title), origin=o)
    check(http_get(o.url("stays.webm", "master.m3u8")).status == 200, "stays.webm is no longer served")
    o.stop()


if __name__ == "__main__":
    origintest.main({
        "picks_up_added_titles": picks_up_added_titles,
        "keeps_old_segments_while_replaced_source_repackages":
            keeps_old_segments_while_replaced_source_repackages,
        "picks_up_source_rewritten_in_place": picks_up_source_rewritten_in_place,
        "picks_up_files_added_to_title_dir": picks_up_files_added_to_title_dir,
        "stops_serving_removed_titles": stops_serving_removed_titles,
    })
