#!/usr/bin/env python3
"""The command line: usage errors exit 2 and create nothing; --help and
--version; --check and --dump refuse damaged or foreign bundles with one line
and exit 1, never a crash.

Run: test_cli.py CASE   (see tests/integration/meson.build)
"""

import os
import re

import pctest
from pctest import (AAC, PACK, check, describe_rc, lavfi_audio, log, media, run, workdir)


def usage_errors_exit_2():
    d = workdir()
    out = os.path.join(d, "out.pcb")
    src = media("aac-only-4s", "m4a", lavfi_audio(dur=4) + AAC)
    bad = [
        [],
        ["-o", out],
        [src],
        ["--bogus-option", "-o", out, src],
        ["--segment-duration", "abc", "-o", out, src],
        ["--segment-duration", "0", "-o", out, src],
        ["--segment-duration", "-3", "-o", out, src],
        ["--segment-duration", "-o", out, src],
        ["--page-size", "1000", "-o", out, src],
        ["--page-size", "abc", "-o", out, src],
        ["--check"],
        ["--dump"],
        ["-o"],
    ]
    for args in bad:
        p = run([PACK] + args)
        check(p.returncode == 2, "pagecast-pack %s: %s, expected 2 (usage error)\nstderr: %s" %
              (" ".join(args), describe_rc(p.returncode), p.stderr))
        check(p.stderr.strip(), "pagecast-pack %s: exit 2 but nothing on stderr" % " ".join(args))
        left = sorted(set(os.listdir(d)))
        check(not left, "pagecast-pack %s left files: %s" % (" ".join(args), left))


def help_and_version():
    p = run([PACK, "--help"])
    check(p.returncode == 0, "--help: %s" % describe_rc(p.returncode))
    for word in ("--segment-duration", "-o", "--check", "--dump"):
        check(word in p.stdout, "--help does not mention %s:\n%s" % (word, p.stdout))
    p = run([PACK, "--version"])
    check(p.returncode == 0 and re.search(r"\d+\.\d+", p.stdout),
          "--version: %s, %r" % (describe_rc(p.returncode), p.stdout))


def _good_bundle(d):
    src = media("aac-only-14s", "m4a", lavfi_audio(dur=14) + AAC)
    out = os.path.join(d, "good.pcb")
    p = pctest.pack([src], out)
    check(p.returncode == 0, "packaging %s failed: %s" % (src, p.stderr))
    return out


def _expect_check_refuses(path, what):
    p = run([PACK, "--check", path])
    check(p.returncode == 1, "--check on %s: %s, expected exit 1\n%s%s" %
          (what, describe_rc(p.returncode), p.stdout, p.stderr))
    lines = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.strip()]
    check(len(lines) == 1, "--check on %s: expected one line, got:\n%s" % (what, "\n".join(lines)))
    d = run([PACK, "--dump", path])
    check(d.returncode > 0, "--dump on %s: %s, expected a failure exit" % (what, describe_rc(d.returncode)))
    log("--check on %s: %s" % (what, lines[0]))


def check_refuses_damaged_bundles():
    d = workdir()
    good = _good_bundle(d)
    with open(good, "rb") as f:
        data = f.read()
    dump = pctest.dump(good)
    last = max([t["init"] for t in dump["tracks"]] + [s for t in dump["tracks"] for s in t["segments"]],
               key=lambda b: b["offset"])
    variants = {
        "an empty file": b"",
        "a text file": b"hello\n" * 1000,
        "the header page alone": data[:4096],
        "a bundle cut inside its last blob": data[:last["offset"] + last["size"] - 1],
        "a bundle whose magic is zeroed": bytes(8) + data[8:],
    }
    for off in range(8, 32, 4):
        flipped = bytearray(data)
        flipped[off] ^= 0x5A
        variants["a bundle with header byte %d changed" % off] = bytes(flipped)
    for what, content in variants.items():
        path = os.path.join(d, "bad.pcb")
        with open(path, "wb") as f:
            f.write(content)
        _expect_check_refuses(path, what)
    _expect_check_refuses(os.path.join(d, "missing.pcb"), "a missing file")


CASES = {f.__name__: f for f in [usage_errors_exit_2, help_and_version, check_refuses_damaged_bundles]}

if __name__ == "__main__":
    pctest.main(CASES)
