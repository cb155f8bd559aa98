#!/usr/bin/env python3
"""Validate a title's MPD against the official MPEG-DASH schema and the
bundle's own --dump.

  xmllint --nonet --noout --schema ../shared/dash-schema/DASH-MPD.xsd
then, with the schema satisfied, what the schema cannot say (issue 3 item 5,
DASH-IF IOP): one AdaptationSet per video codec and per audio language and
codec, each Representation's bandwidth/codecs/size/frame rate/sar/sampling
rate/channels equal to the track's, a Role main on the default audio, and
each SegmentTimeline expanding to exactly the bundle's segments (t and d of
every segment, in the track's timescale) with URLs naming the generation.

Run by meson: dash_validate.py CASE (see mftest.title_inputs).
"""

import math
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from fractions import Fraction

import mftest
from mftest import Fail, check

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}
CHANNEL_SCHEME = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"


def schema_path():
    path = os.path.join(mftest.SOURCE_ROOT, "..", "shared", "dash-schema", "DASH-MPD.xsd")
    check(mftest.SOURCE_ROOT and os.path.exists(path),
          "DASH schema not found at %s (PC_SOURCE_ROOT=%r)" % (path, mftest.SOURCE_ROOT))
    return os.path.normpath(path)


def xmllint(mpd_path):
    tool = shutil.which("xmllint")
    check(tool, "xmllint not found: install libxml2-utils (scripts/setup does)")
    p = subprocess.run([tool, "--nonet", "--noout", "--schema", schema_path(), mpd_path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    check(p.returncode == 0, "xmllint: the MPD does not validate (exit %d):\n%s"
          % (p.returncode, p.stderr.decode("utf-8", "replace")[-3000:]))


def duration_s(text):
    """An xs:duration without years/months/days as a Fraction of seconds."""
    m = re.fullmatch(r"PT(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+(?:\.[0-9]+)?)S)?", text or "")
    check(m and text != "PT", "not an xs:duration in hours/minutes/seconds: %r" % text)
    h, mi, s = m.groups()
    return int(h or 0) * 3600 + int(mi or 0) * 60 + Fraction(s or "0")


def ceil_ms(x):
    return Fraction(math.ceil(x * 1000), 1000)


def display_aspect(tr):
    sn, sd = (int(x) for x in tr["sar"].split(":"))
    f = Fraction(tr["width"] * sn, tr["height"] * sd)
    return "%d:%d" % (f.numerator, f.denominator)


def expand_timeline(tmpl, where):
    """The (t, d) of every segment a SegmentTimeline describes (5.3.9.6)."""
    tl = tmpl.find("d:SegmentTimeline", NS)
    check(tl is not None, "%s: SegmentTemplate without SegmentTimeline" % where)
    out, t = [], None
    for i, s in enumerate(tl.findall("d:S", NS)):
        if "t" in s.attrib:
            t = int(s.get("t"))
        check(t is not None, "%s: the first S has no t" % where)
        d, r = int(s.get("d")), int(s.get("r", "0"))
        check(d > 0 and r >= 0, "%s: S %d has d=%d r=%d" % (where, i, d, r))
        for _ in range(r + 1):
            out.append((t, d))
            t += d
    return out


def validate(title, work):
    text = title.manifest("mpd")
    path = os.path.join(work, "manifest.mpd")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    xmllint(path)

    root = ET.fromstring(text.encode("utf-8"))
    tracks = title.tracks
    av = [x for x in tracks if x["kind"] in ("audio", "video")]
    check(root.get("type") == "static", "MPD@type %r" % root.get("type"))
    check("urn:mpeg:dash:profile:isoff-live:2011" in root.get("profiles").split(","),
          "MPD@profiles %r" % root.get("profiles"))
    ends = [Fraction(x["segments"][-1]["start_ts"] + x["segments"][-1]["duration_ts"],
                     x["timescale"]) for x in av]
    mpd_dur = duration_s(root.get("mediaPresentationDuration"))
    check(mpd_dur == ceil_ms(max(ends)),
          "mediaPresentationDuration %s s, the last track ends at %.6f s"
          % (root.get("mediaPresentationDuration"), float(max(ends))))
    longest = max(Fraction(s["duration_ts"], x["timescale"]) for x in av for s in x["segments"])
    check(duration_s(root.get("minBufferTime")) == ceil_ms(longest),
          "minBufferTime %s, the longest segment is %.6f s"
          % (root.get("minBufferTime"), float(longest)))
    periods = root.findall("d:Period", NS)
    check(len(periods) == 1, "%d Periods" % len(periods))

    audio = [x for x in av if x["kind"] == "audio"]
    defaults = [x for x in audio if x["default"]] or audio
    default_audio = defaults[0]["index"] if defaults else None
    seen, set_keys, main_sets = [], set(), []
    for n, aset in enumerate(periods[0].findall("d:AdaptationSet", NS)):
        where = "AdaptationSet %s" % aset.get("id")
        kind = aset.get("contentType")
        check(kind in ("video", "audio"), "%s: contentType %r" % (where, kind))
        check(aset.get("mimeType") == kind + "/mp4", "%s: mimeType %r" % (where, aset.get("mimeType")))
        check(aset.get("segmentAlignment") == "true" and aset.get("startWithSAP") == "1",
              "%s: segmentAlignment/startWithSAP" % where)
        reps = aset.findall("d:Representation", NS)
        check(reps, "%s: no Representation" % where)
        members = []
        for rep in reps:
            t = int(rep.get("id"))
            check(0 <= t < len(tracks), "%s: Representation id %r is no track" % (where, t))
            members.append(tracks[t])
        check({x["kind"] for x in members} == {kind},
              "%s: %s set holds %r" % (where, kind, [x["kind"] for x in members]))
        codecs = {x["codec"] for x in members}
        check(len(codecs) == 1, "%s: mixes codecs %r" % (where, codecs))
        lang = {mftest.bcp47(x["language"]) for x in members} if kind == "audio" else {None}
        check(len(lang) == 1, "%s: mixes languages %r" % (where, lang))
        key = (kind, codecs.pop(), lang.pop())
        check(key not in set_keys, "%s: a second set for %r" % (where, key))
        set_keys.add(key)
        check(aset.get("lang") == key[2], "%s: lang=%r, the tracks' language is %r"
              % (where, aset.get("lang"), key[2]))
        if kind == "video":
            check(int(aset.get("maxWidth")) == max(x["width"] for x in members) and
                  int(aset.get("maxHeight")) == max(x["height"] for x in members),
                  "%s: maxWidth/maxHeight" % where)
            check(Fraction(aset.get("maxFrameRate")) ==
                  max(Fraction(x["frame_rate"]) for x in members), "%s: maxFrameRate" % where)
            pars = {display_aspect(x) for x in members}
            check(aset.get("par") == (pars.pop() if len(pars) == 1 else None),
                  "%s: par=%r" % (where, aset.get("par")))
        roles = [r.get("value") for r in aset.findall("d:Role", NS)
                 if r.get("schemeIdUri") == "urn:mpeg:dash:role:2011"]
        if "main" in roles:
            main_sets.append([x["index"] for x in members])
        names = [x["name"] for x in members if x["name"]]
        label = aset.find("d:Label", NS)
        check((label.text if label is not None else None) == (names[0] if names else None),
              "%s: Label %r, track names %r" % (where, label is not None and label.text, names))

        set_tmpl = aset.find("d:SegmentTemplate", NS)
        for rep, tr in zip(reps, members):
            rwhere = "%s Representation %s" % (where, rep.get("id"))
            t = tr["index"]
            seen.append(t)
            check(int(rep.get("bandwidth")) == tr["bitrate_peak"],
                  "%s: bandwidth %s, peak %d" % (rwhere, rep.get("bandwidth"), tr["bitrate_peak"]))
            check(rep.get("codecs") == tr["codecs"], "%s: codecs %r, track %r"
                  % (rwhere, rep.get("codecs"), tr["codecs"]))
            if kind == "video":
                check(int(rep.get("width")) == tr["width"] and
                      int(rep.get("height")) == tr["height"], "%s: width/height" % rwhere)
                check(Fraction(rep.get("frameRate")) == Fraction(tr["frame_rate"]),
                      "%s: frameRate %r, track %s" % (rwhere, rep.get("frameRate"),
                                                      tr["frame_rate"]))
                check(Fraction(*map(int, rep.get("sar").split(":"))) ==
                      Fraction(*map(int, tr["sar"].split(":"))), "%s: sar" % rwhere)
            else:
                check(int(rep.get("audioSamplingRate")) == tr["sample_rate"],
                      "%s: audioSamplingRate" % rwhere)
                acc = rep.findall("d:AudioChannelConfiguration", NS)
                check(len(acc) == 1 and acc[0].get("schemeIdUri") == CHANNEL_SCHEME and
                      int(acc[0].get("value")) == tr["channels"],
                      "%s: AudioChannelConfiguration, %d channels" % (rwhere, tr["channels"]))
            rep_tmpl = rep.find("d:SegmentTemplate", NS)
            check((rep_tmpl is None) != (set_tmpl is None),
                  "%s: needs exactly one SegmentTemplate (set or Representation)" % rwhere)
            tmpl = rep_tmpl if rep_tmpl is not None else set_tmpl
            check(int(tmpl.get("timescale")) == tr["timescale"],
                  "%s: timescale %s, track %d" % (rwhere, tmpl.get("timescale"), tr["timescale"]))
            check(tmpl.get("startNumber") == "1", "%s: startNumber %r" % (rwhere, tmpl.get("startNumber")))
            check(tmpl.get("presentationTimeOffset", "0") == "0", "%s: presentationTimeOffset" % rwhere)
            init = tmpl.get("initialization").replace("$RepresentationID$", rep.get("id"))
            check(init == "%s/%d/init.mp4" % (title.gen, t),
                  "%s: initialization expands to %r" % (rwhere, init))
            got = expand_timeline(tmpl, rwhere)
            want = mftest.ts_of(tr)
            check(got == want, "%s: SegmentTimeline expands to %d segments %r..., the bundle "
                  "has %d %r..." % (rwhere, len(got), got[:3], len(want), want[:3]))
            for k in (1, len(got)):
                url = (tmpl.get("media").replace("$RepresentationID$", rep.get("id"))
                       .replace("$Number$", str(k)))
                check(url == "%s/%d/%d.m4s" % (title.gen, t, k),
                      "%s: segment %d URL %r" % (rwhere, k, url))
    check(sorted(seen) == [x["index"] for x in av],
          "Representations %r, the title's tracks %r" % (sorted(seen), [x["index"] for x in av]))
    if audio:
        check(len(main_sets) == 1 and default_audio in main_sets[0],
              "Role main on %r, the default audio track is %r" % (main_sets, default_audio))
    mftest.log("MPD validates; %d AdaptationSets, %d Representations"
               % (len(set_keys), len(seen)))


if __name__ == "__main__":
    mftest.main({c: validate for c in ("ladder_two_languages", "audio_only", "vp9_opus",
                                       "ntsc_rate", "two_audio_codecs")})
