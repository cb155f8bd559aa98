#!/usr/bin/env python3
"""The demo page of the http suite (pagecast-origin --demo; origin/demo.h,
docs/operations.md): off by default, what it lists and links, the files it
serves from node_modules and nothing else, and title names escaped.

The tests give --demo a node_modules of their own, with a stand-in for
Shaka Player's file and decoys beside it, so they need no npm and can tell
exactly which bytes went out.  (The players suite's players-demo plays the
real page with the real Shaka Player in Chromium.)

Run one case:  test_demo.py CASE   (meson runs each case as its own test).
"""

import html.parser
import os
import shutil
import subprocess
import time
import urllib.parse

from httptest import (Origin, av_clip, check, check_eq, get, head, log, long_titles_media, main, quote,
                      request, wait_for, workdir)

SHAKA = "shaka-player/dist/shaka-player.compiled.js"
SHAKA_BYTES = b"/* stand-in for Shaka Player */ window.shaka = {};\n"
SECRET = b"decoy: must never be served\n"
DEMO_URLS = ["/", "/demo/demo.js", "/demo/demo.css", "/demo/shaka-player.compiled.js"]
SOURCE_ROOT = os.environ.get("PC_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))


def fake_node_modules(d):
    """A node_modules with the one file the demo reads, and decoys: the
    package's other files and a secret at the top."""
    nm = os.path.join(d, "node_modules")
    os.makedirs(os.path.join(nm, "shaka-player", "dist"))
    with open(os.path.join(nm, SHAKA), "wb") as f:
        f.write(SHAKA_BYTES)
    for decoy in ("shaka-player/package.json", "shaka-player/dist/shaka-player.compiled.js.map",
                  "secret.txt"):
        with open(os.path.join(nm, decoy), "wb") as f:
            f.write(SECRET)
    return nm


def media_dir(d, titles):
    """DIR/media with each of @titles a copy of the test clip."""
    media = os.path.join(d, "media")
    os.makedirs(media)
    for t in titles:
        os.makedirs(os.path.dirname(os.path.join(media, t)), exist_ok=True)
        shutil.copy(av_clip(), os.path.join(media, t))
    return media


class Page(html.parser.HTMLParser):
    """The demo page's rows: [{state, title, hls, dash, links}] (titles and
    attributes with their character references decoded, as a browser
    would), and every <script> element's src."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.rows, self.scripts = [], []
        self._row = None
        self._in_button = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a.get("src"))
        elif tag == "tr" and "data-state" in a:
            self._row = {"state": a["data-state"], "title": "", "links": []}
            self.rows.append(self._row)
        elif self._row is not None and tag == "button":
            self._row.update(hls=a.get("data-hls"), dash=a.get("data-dash"),
                             disabled="disabled" in a)
            self._in_button = True
        elif self._row is not None and tag == "a":
            self._row["links"].append(a.get("href"))

    def handle_endtag(self, tag):
        if tag == "button":
            self._in_button = False
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._in_button:
            self._row["title"] += data


def page(port):
    r = get(port, "/")
    check_eq(r.status, 200, "GET /")
    return r, Page(r.body.decode("utf-8"))


def row_of(p, title):
    rows = [r for r in p.rows if r["title"] == title]
    check_eq(len(rows), 1, "rows listing %r (rows: %r)" % (title, [r["title"] for r in p.rows]))
    return rows[0]


def url_path(href):
    """The request target a browser sends for @href, relative to /."""
    return urllib.parse.urljoin("/", href)


# ---------------------------------------------------------------- cases

def demo_is_off_by_default():
    d = workdir()
    media = media_dir(d, ["a.mp4"])
    o = Origin(media, wait_title="a.mp4")
    unknown = get(o.port, "/no-such-thing")
    check_eq(unknown.status, 404, "an unknown URL")
    for path in DEMO_URLS + ["/demo/demo.js?v=1", "http://127.0.0.1/"]:
        for method in ("GET", "HEAD"):
            r = request(o.port, method, path)
            check_eq(r.status, 404, "%s %s without --demo" % (method, path))
            check_eq(r.header("Content-Type"), unknown.header("Content-Type"), path + " Content-Type")
            check(not r.has("Content-Security-Policy"), "%s: a CSP without --demo" % path)
            if method == "GET":
                check_eq(r.body, unknown.body, "%s: body (as any unknown URL)" % path)
    check_eq(get(o.port, "/a.mp4/master.m3u8").status, 200, "the title itself")


def demo_lists_every_title_with_its_manifest_urls():
    d = workdir()
    titles = ["plain.mp4", "sub/My Movie \u00e9.mp4", "a:b.mp4", "100% & more.mp4"]
    media = media_dir(d, titles)
    with open(os.path.join(media, "broken.mp4"), "wb") as f:
        f.write(b"this is not a movie\n" * 100)
    o = Origin(media, args=["--demo", fake_node_modules(d)])
    for t in titles:
        o.wait_ready(t)
    wait_for("broken.mp4 to fail packaging",
             lambda: get(o.port, "/broken.mp4/master.m3u8").status == 422)
    r, p = page(o.port)
    check_eq(r.header("Content-Type"), "text/html; charset=utf-8", "page Content-Type")
    check_eq(r.header("Cache-Control"), "no-store", "page Cache-Control")
    check_eq(r.header("X-Content-Type-Options"), "nosniff", "page X-Content-Type-Options")
    csp = r.header("Content-Security-Policy") or ""
    check("default-src 'self'" in csp and "unsafe-inline" not in csp,
          "page Content-Security-Policy %r: scripts from the origin only" % csp)
    check_eq(int(r.header("Content-Length")), len(r.body), "page Content-Length")
    check_eq(sorted(row["title"] for row in p.rows), sorted(titles + ["broken.mp4"]),
             "titles listed")
    check_eq([row["title"] for row in p.rows], sorted(row["title"] for row in p.rows),
             "rows in name order")
    for t in titles:
        row = row_of(p, t)
        check_eq(row["state"], "ready", t + " state")
        check(not row["disabled"], t + ": its play button is disabled")
        want = [quote(t) + "/master.m3u8", quote(t) + "/manifest.mpd"]
        check_eq([row["hls"], row["dash"]], want, t + ": the button's manifests")
        check_eq(row["links"], want, t + ": the links")
        for href in want:
            rr = get(o.port, url_path(href))
            check_eq(rr.status, 200, "%s: GET %s (the link's target)" % (t, href))
    broken = row_of(p, "broken.mp4")
    check_eq(broken["state"], "failed", "broken.mp4 state")
    check(broken["disabled"], "broken.mp4 can be clicked")
    rh = head(o.port, "/")
    check_eq(rh.status, 200, "HEAD /")
    check_eq(rh.body, b"", "HEAD / body")
    check_eq(rh.header("Content-Security-Policy"), csp, "HEAD / CSP")
    # the query is ignored, absolute-form works, as for titles
    check_eq(get(o.port, "/?x=1").body, r.body, "/?x=1")
    check_eq(get(o.port, "http://127.0.0.1/").body, r.body, "absolute-form /")


def demo_shows_titles_being_packaged():
    d = workdir()
    # three 20-minute titles and one packaging thread: right after start,
    # some are still waiting (as in busy_title_answers_503_then_200)
    media, names = long_titles_media(d, 3)
    o = Origin(media, args=["--workers", "1", "--demo", fake_node_modules(d)])
    _, p = page(o.port)
    states = {row["title"]: row["state"] for row in p.rows}
    check_eq(sorted(states), names, "titles listed right after start")
    busy = [n for n in names if states[n] == "packaging"]
    check(busy, "no title listed as packaging right after start: %r" % states)
    for n in busy:
        check(row_of(p, n)["disabled"], n + ": a title being packaged can be clicked")
        st = get(o.port, "/%s/master.m3u8" % n).status
        check(st in (503, 200), "%s: listed as packaging, answers %d" % (n, st))
    log("right after start: %r" % states)
    for n in names:
        o.wait_ready(n)
    _, p = page(o.port)
    check_eq({row["title"]: row["state"] for row in p.rows}, {n: "ready" for n in names},
             "states once packaged")


def demo_serves_its_files_and_nothing_else():
    d = workdir()
    media = media_dir(d, ["a.mp4"])
    nm = fake_node_modules(d)
    o = Origin(media, args=["--demo", nm], wait_title="a.mp4")
    files = {
        "/demo/shaka-player.compiled.js": ("text/javascript; charset=utf-8", SHAKA_BYTES),
        "/demo/demo.js": ("text/javascript; charset=utf-8",
                          open(os.path.join(SOURCE_ROOT, "origin/demo/demo.js"), "rb").read()),
        "/demo/demo.css": ("text/css; charset=utf-8",
                           open(os.path.join(SOURCE_ROOT, "origin/demo/demo.css"), "rb").read()),
    }
    for path, (ctype, body) in files.items():
        for target in (path, path + "?v=2"):
            r = get(o.port, target)
            check_eq(r.status, 200, target)
            check_eq(r.header("Content-Type"), ctype, target + " Content-Type")
            check_eq(r.header("X-Content-Type-Options"), "nosniff", target + " nosniff")
            check(r.body == body, "%s: %d bytes, not the file's %d" % (target, len(r.body), len(body)))
    # the page loads exactly these scripts, from the origin itself
    _, p = page(o.port)
    check_eq(sorted(p.scripts), ["demo/demo.js", "demo/shaka-player.compiled.js"], "the page's scripts")
    # the file is read once, at start: changing it later changes nothing
    with open(os.path.join(nm, SHAKA), "wb") as f:
        f.write(SECRET)
    check_eq(get(o.port, "/demo/shaka-player.compiled.js").body, SHAKA_BYTES, "after the file changed")
    refused = [
        "/demo/../secret.txt", "/demo/%2e%2e/secret.txt", "/demo/..%2fsecret.txt",
        "/demo/%2E%2E%2F%2E%2E%2Fsecret.txt", "/secret.txt", "/node_modules/secret.txt",
        "/demo/secret.txt", "/demo/shaka-player/package.json", "/shaka-player/package.json",
        "/demo/shaka-player/dist/shaka-player.compiled.js", "/demo/" + SHAKA,
        "/demo/shaka-player.compiled.js.map", "/demo/%73haka-player.compiled.js",
        "/demo/shaka-player.compiled.js%00", "/demo/shaka-player.compiled.js/",
        "/demo/DEMO.JS", "/demo//demo.js", "/demo", "/demo/", "/demo/.", "/index.html",
        "/demo/demo.js/../../secret.txt", "/.%2e/secret.txt", "//secret.txt",
        "http://127.0.0.1/demo/../secret.txt", "/demo%2fdemo.js", "/demo/demo.js#x",
    ]
    for t in refused:
        r = get(o.port, t)
        check(r.status in (400, 404), "%s: status %d (must be refused)" % (t, r.status))
        check(b"decoy" not in r.body and b"shaka" not in r.body.lower() and len(r.body) < 100,
              "%s: body %r" % (t, r.body[:200]))
    check(o.alive(), "origin died")


def demo_escapes_title_names():
    d = workdir()
    hostile = [
        "<script>alert(1)</script>.mp4".replace("/", "\u2215"),   # no '/' in a file name
        "<img src=x onerror=alert(2)>.mp4",
        "\"><svg onload=alert(3)>.mp4",
        "' onmouseover='alert(4)'.mp4",
        "a&amp;b &lt;c&gt;.mp4",                                   # already looks escaped
        "javascript:alert(5).mp4",
    ]
    media = media_dir(d, hostile)
    o = Origin(media, args=["--demo", fake_node_modules(d)])
    for t in hostile:
        o.wait_ready(t)
    r, p = page(o.port)
    text = r.body.decode("utf-8")
    for bad in ("<img src=x", "<svg", "<script>alert", "onmouseover='", "\"><svg"):
        check(bad not in text, "the page contains %r raw:\n%s" % (bad, text))
    # what a browser shows is exactly the name, and every URL is relative
    # and percent-encoded: nothing of the name is markup or a scheme
    check_eq(sorted(row["title"] for row in p.rows), sorted(hostile), "titles as shown")
    check_eq(sorted(p.scripts), ["demo/demo.js", "demo/shaka-player.compiled.js"],
             "script elements (none from a title)")
    for t in hostile:
        row = row_of(p, t)
        for href in [row["hls"], row["dash"]] + row["links"]:
            check(not urllib.parse.urlsplit(href).scheme, "%s: %r has a scheme" % (t, href))
            check(all(c.isalnum() or c in "-._~/%" for c in href), "%s: %r is not encoded" % (t, href))
        for href in (row["hls"], row["dash"]):
            rr = get(o.port, url_path(href))
            check_eq(rr.status, 200, "%s: GET %s" % (t, href))


def demo_startup_errors_are_one_line():
    d = workdir()
    media = media_dir(d, [])
    empty = os.path.join(d, "empty")
    os.makedirs(empty)
    not_file = os.path.join(d, "dir-instead")
    os.makedirs(os.path.join(not_file, SHAKA))                      # a directory where the file goes
    for nm, word in ((os.path.join(d, "missing"), "No such file or directory"),
                     (empty, "No such file or directory"),
                     (not_file, "not a regular file")):
        start = time.time()
        p = subprocess.run([os.environ["PAGECAST_ORIGIN"], "--media", media, "--listen", "127.0.0.1:0",
                            "--demo", nm], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        err = p.stderr.decode()
        check_eq(p.returncode, 1, "exit status for --demo %s" % nm)
        check_eq(p.stdout, b"", "stdout for --demo %s (it must not start listening)" % nm)
        check(err.count("\n") == 1 and err.startswith("pagecast-origin: --demo %s: " % nm)
              and SHAKA in err and word in err,
              "startup error for --demo %s: %r" % (nm, err))
        check(time.time() - start < 10, "slow to refuse")
    p = subprocess.run([os.environ["PAGECAST_ORIGIN"], "--media", media, "--demo"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    check_eq(p.returncode, 2, "--demo without a directory: usage error")
    secret = os.path.join(d, "secret")
    with open(secret, "w") as f:
        f.write("k1 " + "ab" * 32 + "\n")
    os.chmod(secret, 0o600)
    p = subprocess.run([os.environ["PAGECAST_ORIGIN"], "--media", media, "--listen", "127.0.0.1:0",
                        "--demo", os.environ.get("PC_NODE_MODULES", d), "--sign-secret-file", secret],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = p.stderr.decode()
    check_eq(p.returncode, 2, "--demo with --sign-secret-file: usage error")
    check(err.startswith("pagecast-origin: --demo and --sign-secret-file do not go together"),
          "--demo with signing names the conflict: %r" % err)
    p = subprocess.run([os.environ["PAGECAST_ORIGIN"], "--help"], stdout=subprocess.PIPE, timeout=30)
    check(b"--demo NODE_MODULES" in p.stdout, "--help names --demo")


CASES = {f.__name__: f for f in [
    demo_is_off_by_default,
    demo_lists_every_title_with_its_manifest_urls,
    demo_shows_titles_being_packaged,
    demo_serves_its_files_and_nothing_else,
    demo_escapes_title_names,
    demo_startup_errors_are_one_line,
]}

if __name__ == "__main__":
    main(CASES)
