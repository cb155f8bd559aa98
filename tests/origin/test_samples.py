#!/usr/bin/env python3
"""The sample titles (samples/make-samples, served by scripts/demo) play.

Each case makes the samples if they are not made yet (`samples/make-samples
--quiet`: cached in samples/media/, so only the first run pays; concurrent
runs wait for each other), starts a real origin over samples/media with a
store of its own, and runs origintest.check_title() on one sample title:
ffprobe over HLS and DASH finds every packet of its sources (every
rendition of the ladder), the A/V offset is kept, ffmpeg decodes both with
no error, the MPD passes the DASH schema.

Run: test_samples.py CASE   (see tests/origin/meson.build)
"""

import os

import origintest
from origintest import SOURCE_ROOT, Origin, check, check_title, run, workdir

SAMPLES = os.path.join(SOURCE_ROOT, "samples")
MEDIA = os.path.join(SAMPLES, "media")


def make_samples():
    p = run([os.path.join(SAMPLES, "make-samples"), "--quiet"], timeout=1200)
    check(p.returncode == 0, "samples/make-samples --quiet: exit %d\n%s%s" % (p.returncode, p.stdout, p.stderr))


def sources_of(title):
    path = os.path.join(MEDIA, title)
    if os.path.isdir(path):
        # a .title directory: its media files in name order (hidden ones not)
        return [os.path.join(path, f) for f in sorted(os.listdir(path)) if not f.startswith(".")]
    return [path]


def serves_sample(title):
    def case():
        make_samples()
        files = sources_of(title)
        check(all(os.path.isfile(f) for f in files) and files, "samples/media/%s is missing" % title)
        store = os.path.join(workdir(), "store")
        origin = Origin(MEDIA, store=store)
        check_title(origin, title, files, label="sample " + title)
        origin.stop()
    return case


if __name__ == "__main__":
    origintest.main({
        "serves_sample_ladder": serves_sample("ladder.title"),
        "serves_sample_vp9_opus": serves_sample("vp9-opus.webm"),
        "serves_sample_audio_only": serves_sample("audio-only.m4a"),
    })
