#!/usr/bin/env python3
"""Lint a title's HLS playlists against RFC 8216, the Authoring Spec rules of
issue 3 item 4, and the bundle's own --dump.

Every line is parsed: each tag must be one RFC 8216 defines for that kind of
playlist, each attribute list must be well-formed (4.2) with the attribute
types of its tag, required attributes must be present, and removed ones
(PROGRAM-ID, EXT-X-ALLOW-CACHE) absent.  Values are then checked against the
bundle: BANDWIDTH sums, CODECS of each variant against its audio group,
RESOLUTION, FRAME-RATE, LANGUAGE/NAME/CHANNELS, each EXTINF against the
segment's duration (within 1 us), their sum against the track (within 1 ms),
the TARGETDURATION rule (4.3.3.1) and that every URI resolves to the right
generation, track and segment number.

Run by meson: hls_lint.py CASE (see mftest.title_inputs).
"""

import re
from fractions import Fraction
from urllib.parse import urljoin

import mftest
from mftest import Fail, check

BASE = "http://origin.test/some%20title.mp4/"      # where master.m3u8 lives

MASTER_TAGS = {"EXTM3U", "EXT-X-VERSION", "EXT-X-INDEPENDENT-SEGMENTS", "EXT-X-START",
               "EXT-X-DEFINE", "EXT-X-MEDIA", "EXT-X-STREAM-INF", "EXT-X-I-FRAME-STREAM-INF",
               "EXT-X-SESSION-DATA", "EXT-X-SESSION-KEY", "EXT-X-CONTENT-STEERING"}
MEDIA_TAGS = {"EXTM3U", "EXT-X-VERSION", "EXT-X-INDEPENDENT-SEGMENTS", "EXT-X-START",
              "EXT-X-DEFINE", "EXT-X-TARGETDURATION", "EXT-X-MEDIA-SEQUENCE",
              "EXT-X-DISCONTINUITY-SEQUENCE", "EXT-X-ENDLIST", "EXT-X-PLAYLIST-TYPE",
              "EXT-X-I-FRAMES-ONLY", "EXTINF", "EXT-X-BYTERANGE", "EXT-X-DISCONTINUITY",
              "EXT-X-KEY", "EXT-X-MAP", "EXT-X-PROGRAM-DATE-TIME", "EXT-X-GAP", "EXT-X-BITRATE"}
REMOVED_TAGS = {"EXT-X-ALLOW-CACHE"}                 # removed in protocol version 7

# RFC 8216 4.2 attribute value types.
TYPES = {
    "int": re.compile(r"[0-9]{1,20}"),
    "float": re.compile(r"[0-9]+(\.[0-9]+)?"),
    "quoted": re.compile(r'"[^"\r\n]*"'),
    "enum": re.compile(r'[^",\s]+'),
    "resolution": re.compile(r"[0-9]+x[0-9]+"),
}
# Attribute name -> type, per tag (4.3.4.1, 4.3.4.2); anything else is an error.
ATTRS = {
    "EXT-X-MEDIA": {"TYPE": "enum", "URI": "quoted", "GROUP-ID": "quoted",
                    "LANGUAGE": "quoted", "ASSOC-LANGUAGE": "quoted", "NAME": "quoted",
                    "DEFAULT": "enum", "AUTOSELECT": "enum", "FORCED": "enum",
                    "INSTREAM-ID": "quoted", "CHARACTERISTICS": "quoted",
                    "CHANNELS": "quoted"},
    "EXT-X-STREAM-INF": {"BANDWIDTH": "int", "AVERAGE-BANDWIDTH": "int", "CODECS": "quoted",
                         "RESOLUTION": "resolution", "FRAME-RATE": "float",
                         "HDCP-LEVEL": "enum", "AUDIO": "quoted", "VIDEO": "quoted",
                         "SUBTITLES": "quoted", "CLOSED-CAPTIONS": "quoted"},
    "EXT-X-MAP": {"URI": "quoted", "BYTERANGE": "quoted"},
}
REQUIRED = {"EXT-X-MEDIA": {"TYPE", "GROUP-ID", "NAME"},
            "EXT-X-STREAM-INF": {"BANDWIDTH"},
            "EXT-X-MAP": {"URI"}}

ATTR_RE = re.compile(r'([A-Z0-9-]+)=("[^"\r\n]*"|[^",]*)')
BCP47_RE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")

# Expected values, from the test's own table (not the program's).
FAMILY = {"aac": "aac", "mp3": "mp3", "ac3": "ac3", "eac3": "ec3", "opus": "opus",
          "flac": "flac"}
LANG_NAME = {"en": "English", "fr": "fran\u00e7ais", "de": "Deutsch", "es": "espa\u00f1ol"}


def parse_attrs(tag, text, where):
    """An attribute list as {name: value} (quotes stripped), strictly."""
    out, pos = {}, 0
    while True:
        m = ATTR_RE.match(text, pos)
        check(m, "%s: malformed attribute list at %r" % (where, text[pos:]))
        name, value = m.group(1), m.group(2)
        check(name != "PROGRAM-ID", "%s: PROGRAM-ID was removed in protocol version 6" % where)
        check(name not in out, "%s: attribute %s appears twice" % (where, name))
        typ = ATTRS[tag].get(name)
        check(typ, "%s: %s has no attribute %s" % (where, tag, name))
        check(TYPES[typ].fullmatch(value), "%s: %s=%s is not a %s" % (where, name, value, typ))
        out[name] = value[1:-1] if typ == "quoted" else value
        pos = m.end()
        if pos == len(text):
            break
        check(text[pos] == ",", "%s: expected ',' at %r" % (where, text[pos:]))
        pos += 1
    missing = REQUIRED.get(tag, set()) - set(out)
    check(not missing, "%s: %s lacks %s" % (where, tag, ", ".join(sorted(missing))))
    return out


def lines_of(text, name):
    """RFC 8216 4.1: UTF-8, no BOM, no control characters but LF; the first
    line is #EXTM3U.  Returns the lines (the last newline removed)."""
    check(not text.startswith("\ufeff"), "%s: starts with a BOM" % name)
    check(text.endswith("\n"), "%s: does not end with a newline" % name)
    bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]
    check(not bad, "%s: control characters %r" % (name, bad[:3]))
    lines = text[:-1].split("\n")
    check(lines[0] == "#EXTM3U", "%s: first line is %r, not #EXTM3U" % (name, lines[0]))
    return lines


def split_tag(line):
    tag, _, value = line[1:].partition(":")
    return tag, value


def resolve(base, uri):
    """The path @uri names, seen from a playlist at @base (RFC 3986)."""
    check(not uri.startswith("/") and "://" not in uri,
          "URI %r is not relative to the title (a CDN path prefix would break it)" % uri)
    return urljoin(base, uri)[len(BASE):]


def round_half_up(x):
    return int(x + Fraction(1, 2))


# ------------------------------------------------------------------ media

def lint_media(title, t, text):
    """Lint track @t's media playlist; returns its TARGETDURATION."""
    tr = title.tracks[t]
    name = "%d.m3u8" % t
    lines = lines_of(text, name)
    here = urljoin(BASE, name)
    seen, extinfs, uris = {}, [], []
    pending = None                      # an EXTINF waiting for its URI
    ended = False
    for i, line in enumerate(lines[1:], 2):
        where = "%s:%d" % (name, i)
        check(not ended, "%s: content after EXT-X-ENDLIST" % where)
        if line == "":
            continue
        if not line.startswith("#"):
            check(pending is not None, "%s: URI %r without EXTINF" % (where, line))
            extinfs.append(pending)
            uris.append(resolve(here, line))
            pending = None
            continue
        if not line.startswith("#EXT"):
            continue                    # a comment
        tag, value = split_tag(line)
        check(tag not in REMOVED_TAGS, "%s: %s was removed" % (where, tag))
        check(tag in MEDIA_TAGS, "%s: %s is not a media playlist tag" % (where, tag))
        check(pending is None or tag in ("EXT-X-BYTERANGE", "EXT-X-DISCONTINUITY"),
              "%s: %s between EXTINF and its URI" % (where, tag))
        if tag != "EXTINF":
            check(tag not in seen, "%s: %s appears twice" % (where, tag))
        seen[tag] = value
        if tag == "EXTINF":
            m = re.fullmatch(r"([0-9]+(\.[0-9]+)?),(.*)", value)
            check(m, "%s: malformed EXTINF %r" % (where, value))
            pending = Fraction(m.group(1))
        elif tag == "EXT-X-MAP":
            attrs = parse_attrs(tag, value, where)
            check(resolve(here, attrs["URI"]) == "%s/%d/init.mp4" % (title.gen, t),
                  "%s: EXT-X-MAP URI %r is not generation %s track %d's init segment"
                  % (where, attrs["URI"], title.gen, t))
        elif tag == "EXT-X-ENDLIST":
            ended = True
    check(pending is None, "%s: EXTINF without a URI at the end" % name)
    check(ended, "%s: no EXT-X-ENDLIST (a VOD playlist ends)" % name)
    check(seen.get("EXT-X-VERSION") == "7", "%s: EXT-X-VERSION is %r, not 7"
          % (name, seen.get("EXT-X-VERSION")))
    check(seen.get("EXT-X-PLAYLIST-TYPE") == "VOD", "%s: EXT-X-PLAYLIST-TYPE is %r"
          % (name, seen.get("EXT-X-PLAYLIST-TYPE")))
    check("EXT-X-MAP" in seen, "%s: no EXT-X-MAP (fMP4 segments need it)" % name)
    check(seen.get("EXT-X-MEDIA-SEQUENCE", "0") == "0",
          "%s: media sequence %r, segments are numbered from 1 = sequence 0"
          % (name, seen.get("EXT-X-MEDIA-SEQUENCE")))
    if all(s["key"] for s in tr["segments"]):
        check("EXT-X-INDEPENDENT-SEGMENTS" in seen,
              "%s: every segment starts with a key frame but no EXT-X-INDEPENDENT-SEGMENTS" % name)
    td = seen.get("EXT-X-TARGETDURATION")
    check(td is not None and TYPES["int"].fullmatch(td), "%s: bad TARGETDURATION %r" % (name, td))
    target = int(td)

    segs = tr["segments"]
    check(len(extinfs) == len(segs), "%s: %d segments, the bundle has %d"
          % (name, len(extinfs), len(segs)))
    ts = tr["timescale"]
    total = Fraction(0)
    for k, (d, uri, s) in enumerate(zip(extinfs, uris, segs)):
        exact = Fraction(s["duration_ts"], ts)
        check(abs(d - exact) <= Fraction(1, 10**6),
              "%s: segment %d EXTINF %s, the bundle says %s/%d = %.9f s"
              % (name, k + 1, d, s["duration_ts"], ts, float(exact)))
        check(round_half_up(d) <= target,
              "%s: segment %d EXTINF %s rounds to more than TARGETDURATION %d (RFC 8216 4.3.3.1)"
              % (name, k + 1, d, target))
        check(uri == "%s/%d/%d.m4s" % (title.gen, t, k + 1),
              "%s: segment %d resolves to %r, expected %s/%d/%d.m4s"
              % (name, k + 1, uri, title.gen, t, k + 1))
        total += d
    track_total = Fraction(sum(s["duration_ts"] for s in segs), ts)
    check(abs(total - track_total) <= Fraction(1, 1000),
          "%s: EXTINFs sum to %.6f s, the track lasts %.6f s"
          % (name, float(total), float(track_total)))
    check(abs(total - Fraction(str(tr["duration"]))) <= Fraction(1, 1000),
          "%s: EXTINFs sum to %.6f s, --dump says %s s" % (name, float(total), tr["duration"]))
    return target, max(round_half_up(d) for d in extinfs) if extinfs else 0


# ------------------------------------------------------------------ master

def expected_name(title, t):
    tr = title.tracks[t]
    if tr["name"]:
        return tr["name"].replace('"', "'")
    lang = mftest.bcp47(tr["language"])
    if lang in LANG_NAME:
        return LANG_NAME[lang]
    audio = [x["index"] for x in title.tracks if x["kind"] == "audio"]
    return "Audio %d" % (audio.index(t) + 1)


def lint_master(title, text):
    lines = lines_of(text, "master.m3u8")
    seen, media, variants = set(), [], []
    i = 1
    while i < len(lines):
        line, where = lines[i], "master.m3u8:%d" % (i + 1)
        i += 1
        if line == "" or (line.startswith("#") and not line.startswith("#EXT")):
            continue
        check(line.startswith("#"), "%s: URI %r without EXT-X-STREAM-INF" % (where, line))
        tag, value = split_tag(line)
        check(tag not in REMOVED_TAGS, "%s: %s was removed" % (where, tag))
        check(tag in MASTER_TAGS, "%s: %s is not a multivariant playlist tag" % (where, tag))
        if tag == "EXT-X-MEDIA":
            media.append((where, parse_attrs(tag, value, where)))
        elif tag == "EXT-X-STREAM-INF":
            attrs = parse_attrs(tag, value, where)
            check(i < len(lines) and lines[i] and not lines[i].startswith("#"),
                  "%s: EXT-X-STREAM-INF not followed by a URI" % where)
            variants.append((where, attrs, resolve(BASE, lines[i])))
            i += 1
        else:
            check(tag not in seen, "%s: %s appears twice" % (where, tag))
            seen.add(tag)
            if tag == "EXT-X-VERSION":
                check(value == "7", "%s: EXT-X-VERSION:%s, expected 7" % (where, value))
    check("EXT-X-VERSION" in seen, "master: no EXT-X-VERSION")
    check("EXT-X-INDEPENDENT-SEGMENTS" in seen, "master: no EXT-X-INDEPENDENT-SEGMENTS")

    tracks = title.tracks
    video = [x for x in tracks if x["kind"] == "video"]
    audio = [x for x in tracks if x["kind"] == "audio"]

    def track_of(path, where):
        m = re.fullmatch(r"([0-9]+)\.m3u8", path)
        check(m and int(m.group(1)) < len(tracks),
              "%s: URI resolves to %r, not a track's playlist" % (where, path))
        return int(m.group(1))

    # Audio renditions.
    groups = {}                         # GROUP-ID -> [track index]
    for where, a in media:
        check(a["TYPE"] == "AUDIO", "%s: TYPE=%s, only audio is expected" % (where, a["TYPE"]))
        check("URI" in a, "%s: audio rendition without URI" % where)
        t = track_of(resolve(BASE, a["URI"]), where)
        tr = tracks[t]
        check(tr["kind"] == "audio", "%s: track %d is not audio" % (where, t))
        check(a["GROUP-ID"] == "aud-" + FAMILY[tr["codec"]],
              "%s: track %d (%s) in group %s" % (where, t, tr["codec"], a["GROUP-ID"]))
        group = groups.setdefault(a["GROUP-ID"], [])
        group.append((where, t, a))
        # RFC 8216 4.3.4.1.1: NAMEs differ within a group; a repeated one
        # gets " 2", " 3"... (docs/manifests.md).
        base = expected_name(title, t)
        same = sum(expected_name(title, x) == base for _, x, _ in group)
        want = base if same == 1 else "%s %d" % (base, same)
        check(a["NAME"] == want, "%s: NAME=%r, expected %r" % (where, a["NAME"], want))
        lang = mftest.bcp47(tr["language"])
        check(a.get("LANGUAGE") == lang,
              "%s: LANGUAGE=%r for %r, expected %r" % (where, a.get("LANGUAGE"),
                                                       tr["language"], lang))
        if lang:
            check(BCP47_RE.match(lang), "%s: LANGUAGE %r is not BCP 47" % (where, lang))
        check(a.get("DEFAULT") in ("YES", "NO") and a.get("AUTOSELECT") in ("YES", "NO"),
              "%s: DEFAULT/AUTOSELECT must be YES or NO" % where)
        if a["DEFAULT"] == "YES":
            check(a["AUTOSELECT"] == "YES", "%s: DEFAULT=YES needs AUTOSELECT=YES" % where)
        check(a.get("CHANNELS") == str(tr["channels"]),
              "%s: CHANNELS=%r, the track has %d" % (where, a.get("CHANNELS"), tr["channels"]))
    for gid, members in groups.items():
        names = [a["NAME"] for _, _, a in members]
        check(len(set(names)) == len(names), "group %s: NAMEs not unique: %r" % (gid, names))
        defaults = [t for _, t, a in members if a["DEFAULT"] == "YES"]
        check(len(defaults) == 1, "group %s: %d DEFAULT=YES renditions" % (gid, len(defaults)))
    if video:
        listed = sorted(t for m in groups.values() for _, t, _ in m)
        check(listed == [x["index"] for x in audio],
              "audio renditions %r, the title's audio tracks are %r"
              % (listed, [x["index"] for x in audio]))

    # Variants.
    check(variants, "master: no EXT-X-STREAM-INF")
    pairs = []
    for where, v, path in variants:
        t = track_of(path, where)
        tr = tracks[t]
        codecs = v.get("CODECS", "").split(",")
        check(all(codecs), "%s: empty format in CODECS %r" % (where, v.get("CODECS")))
        check("AVERAGE-BANDWIDTH" in v, "%s: no AVERAGE-BANDWIDTH" % where)
        if video:
            check(tr["kind"] == "video", "%s: variant %d is not a video track" % (where, t))
            gid = v.get("AUDIO")
            check(gid in groups, "%s: AUDIO=%r names no group" % (where, gid))
            members = [tracks[x] for _, x, _ in groups[gid]]
            peak = tr["bitrate_peak"] + max(x["bitrate_peak"] for x in members)
            avg = tr["bitrate_avg"] + max(x["bitrate_avg"] for x in members)
            want = [tr["codecs"]] + sorted({x["codecs"] for x in members})
            check(codecs[0] == tr["codecs"] and sorted(codecs[1:]) == want[1:],
                  "%s: CODECS=%r, expected the video's and the group's: %r"
                  % (where, v["CODECS"], want))
            check(v.get("RESOLUTION") == "%dx%d" % (tr["width"], tr["height"]),
                  "%s: RESOLUTION=%r for a %dx%d track" % (where, v.get("RESOLUTION"),
                                                           tr["width"], tr["height"]))
            fr = Fraction(tr["frame_rate"])
            got = v.get("FRAME-RATE", "")
            check(re.fullmatch(r"[0-9]+\.[0-9]{3}", got) and
                  abs(Fraction(got) - fr) <= Fraction(1, 2000),
                  "%s: FRAME-RATE=%r for %s fps (three decimals)" % (where, got, tr["frame_rate"]))
            pairs.append((t, gid))
        else:
            check(tr["kind"] == "audio", "%s: variant %d is not audio" % (where, t))
            check("RESOLUTION" not in v and "FRAME-RATE" not in v and "AUDIO" not in v,
                  "%s: an audio-only variant has RESOLUTION/FRAME-RATE/AUDIO" % where)
            peak, avg = tr["bitrate_peak"], tr["bitrate_avg"]
            check(codecs == [tr["codecs"]], "%s: CODECS=%r, the track is %r"
                  % (where, v["CODECS"], tr["codecs"]))
            pairs.append((t, None))
        check(int(v["BANDWIDTH"]) == peak, "%s: BANDWIDTH=%s, expected %d (peaks summed)"
              % (where, v["BANDWIDTH"], peak))
        check(int(v["AVERAGE-BANDWIDTH"]) == avg, "%s: AVERAGE-BANDWIDTH=%s, expected %d"
              % (where, v["AVERAGE-BANDWIDTH"], avg))
    want_pairs = ([(x["index"], g) for x in video for g in groups] if video
                  else [(x["index"], None) for x in audio])
    check(sorted(pairs, key=str) == sorted(want_pairs, key=str),
          "variants %r, expected one per %s: %r"
          % (pairs, "video track and audio group" if video else "audio track", want_pairs))
    defaults = [x for x in audio if x["default"]] or audio
    if video:
        # docs/manifests.md: the start variant (listed first) is the middle of
        # the ladder sorted by BANDWIDTH, among the variants with the default
        # audio track's group; the rest follow in ascending order.
        bws = [int(v["BANDWIDTH"]) for _, v, _ in variants]
        dgroup = ("aud-" + FAMILY[defaults[0]["codec"]]) if audio else None
        ladder = sorted(int(v["BANDWIDTH"]) for _, v, _ in variants if v.get("AUDIO") == dgroup)
        check(bws[0] == ladder[(len(ladder) - 1) // 2] and bws[1:] == sorted(bws[1:]),
              "variant order %r: expected the middle of %r first, then ascending" % (bws, ladder))
    else:
        check(pairs[0][0] == defaults[0]["index"],
              "audio-only: the default track %d is not listed first" % defaults[0]["index"])
    return {t for t, _ in pairs} | {t for m in groups.values() for _, t, _ in m}


def lint(title, work):
    text = title.manifest("master")
    check("PROGRAM-ID" not in text and "ALLOW-CACHE" not in text, "removed tag or attribute")
    referenced = lint_master(title, text)
    av = [x["index"] for x in title.tracks if x["kind"] in ("audio", "video")]
    check(sorted(referenced) == av, "master references tracks %r, the title has %r"
          % (sorted(referenced), av))
    targets, rounded = {}, []
    for t in av:
        targets[t], r = lint_media(title, t, title.manifest("media", t))
        rounded.append(r)
    # RFC 8216 6.2.4: every media playlist of every variant stream has the
    # same target duration; and it is the smallest the EXTINF rule allows.
    check(len(set(targets.values())) == 1, "target durations differ: %r" % targets)
    check(set(targets.values()) == {max(rounded)},
          "TARGETDURATION %r, the largest rounded EXTINF is %d" % (targets, max(rounded)))
    mftest.log("linted master + %d media playlists, target %d s"
               % (len(av), max(rounded)))


if __name__ == "__main__":
    mftest.main({c: lint for c in ("ladder_two_languages", "audio_only", "vp9_opus",
                                   "ntsc_rate", "two_audio_codecs")})
