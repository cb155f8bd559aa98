"""What pagecast's Python test helpers share (Python 3 stdlib only).

tests/integration/pctest.py, tests/http/httptest.py, tests/manifest/mftest.py
and tests/origin/origintest.py import this module (each finds it at
../common beside its own file) and re-export what they use, so test scripts
keep importing from their suite's helper module alone.  Here, once:

  - Fail / Skip, check / check_eq / log, describe_rc;
  - running a case: the argv check, the executables check, the verdict
    (exit 0 pass, 1 fail, 77 skip: meson's convention) and the cleanups;
  - run() a command with a timeout (a hang is a Fail);
  - work directories removed at exit unless PC_KEEP=1;
  - the media cache: ffmpeg makes each file once per cache directory,
    safely when tests run in parallel (flock + atomic rename);
  - ffprobe's "num/den" time bases; ISO 639-2 -> BCP 47 for the test media;
  - starting and stopping a real pagecast-origin: reading its
    "pagecast-origin: listening on http://127.0.0.1:PORT/" line, SIGTERM,
    sanitizer reports in its stderr.

Only FFMPEG / FFPROBE (the tools) and PC_KEEP are read from the
environment here; every suite keeps its own variables and cache directory.
"""

import fcntl
import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import traceback
from fractions import Fraction

FFMPEG = os.environ.get("FFMPEG", "ffmpeg")
FFPROBE = os.environ.get("FFPROBE", "ffprobe")

# Generous: a hang is a failure, but a sanitizer build on a slow CI box is not.
RUN_TIMEOUT = 120
MEDIA_TIMEOUT = 600


# ---------------------------------------------------------------- verdicts

class Fail(Exception):
    """A test assertion failed; the message says what and why."""


class Skip(Exception):
    """The case cannot run here (exit 77)."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def check_eq(got, want, what):
    if got != want:
        raise Fail("%s: got %r, expected %r" % (what, got, want))


def log(*args):
    print(*args, flush=True)


def describe_rc(rc):
    return "killed by signal %d" % -rc if rc < 0 else "exit %d" % rc


# ---------------------------------------------------------------- running a case

def case_from_argv(cases):
    """The case named by argv[1]; a usage message and exit 2 if there is no
    such case in the dict @cases."""
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print("usage: %s CASE\ncases: %s" % (sys.argv[0], " ".join(sorted(cases))),
              file=sys.stderr)
        sys.exit(2)
    return sys.argv[1]


def require_executables(*pairs):
    """Exit 1 unless every (variable, path) names an executable."""
    for var, path in pairs:
        if not path or not os.access(path, os.X_OK):
            print("%s is not set to an executable (got %r)" % (var, path), file=sys.stderr)
            sys.exit(1)


def run_case(name, fn, cleanups=()):
    """Run fn() as case @name, then the functions in @cleanups (a list that
    fn may still append to) in reverse order, whatever happened.  Logs
    PASS / SKIP / FAIL and @return the exit code: 0, 77 or 1.  A cleanup
    that fails (an origin that does not stop cleanly, say) fails the case,
    a skipped one too; PASS is logged only once every cleanup has passed."""
    rc = 1
    try:
        fn()
        rc = 0
    except Skip as e:
        log("SKIP %s: %s" % (name, e))
        rc = 77
    except Fail as e:
        log("FAIL %s: %s" % (name, e))
    except Exception:  # a bug in the test or an unexpected tool failure
        traceback.print_exc()
        log("FAIL %s: unexpected exception" % name)
    finally:
        for c in reversed(list(cleanups)):
            try:
                c()
            except Fail as e:
                log("FAIL %s: %s" % (name, e))
                rc = 1
            except Exception:
                traceback.print_exc()
                log("FAIL %s: unexpected exception in a cleanup" % name)
                rc = 1
    if rc == 0:
        log("PASS %s" % name)
    return rc


def remove_workdir(d):
    """Remove the work directory @d, unless PC_KEEP is set (then say where
    it is).  A test may have chmod'ed a directory: make it removable."""
    if os.environ.get("PC_KEEP"):
        log("kept work directory %s" % d)
        return
    for root, dirs, _ in os.walk(d):
        for x in dirs:
            try:
                os.chmod(os.path.join(root, x), 0o755)
            except OSError:
                pass
    shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- commands

def spawn(cmd, timeout):
    """Run @cmd with stdin from /dev/null; @return the CompletedProcess
    with stdout and stderr as bytes.  Not ending within @timeout seconds is
    a Fail (a hang)."""
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("timed out after %d s (a hang): %s" % (timeout, " ".join(cmd)))


def expect_rc(cmd, p, want, stderr):
    """Fail unless the CompletedProcess @p of @cmd exited @want (@stderr:
    its standard error as text, for the message)."""
    if p.returncode != want:
        raise Fail("%s: %s, expected exit %d\nstderr:\n%s" %
                   (" ".join(cmd), describe_rc(p.returncode), want, stderr[-3000:]))


def run(cmd, timeout=RUN_TIMEOUT, check_rc=None):
    """Run @cmd; returns CompletedProcess with text stdout/stderr.  With
    @check_rc, any other exit status is a Fail."""
    p = spawn(cmd, timeout)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    if check_rc is not None:
        expect_rc(cmd, p, check_rc, p.stderr)
    return p


# ---------------------------------------------------------------- media cache

_ffmpeg_version = None


def ffmpeg_version():
    global _ffmpeg_version
    if _ffmpeg_version is None:
        out = run([FFMPEG, "-hide_banner", "-version"], check_rc=0).stdout
        _ffmpeg_version = out.splitlines()[0] if out else "?"
    return _ffmpeg_version


def _cached(path, make):
    """Make @path once per cache dir, safely when tests run in parallel: the
    maker writes a temporary name in the same directory (under a per-file
    lock), which is renamed into place only when complete."""
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(path):
            return path
        base = os.path.basename(path)
        tmp = os.path.join(os.path.dirname(path), ".tmp-%d-%s" % (os.getpid(), base))
        try:
            make(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return path


def _key(*parts):
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]


def ffmpeg_media(cache, name, ext, args):
    """A media file in the directory @cache made by `ffmpeg <args> OUT`,
    cached by command line and ffmpeg version (a new ffmpeg makes new
    files).  @return its absolute path (the name ends in .@ext, which picks
    the muxer unless @args has -f)."""
    path = os.path.join(cache, "%s-%s.%s" % (name, _key(args, ext, ffmpeg_version()), ext))

    def make(tmp):
        p = spawn([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y"] + args + [tmp],
                  MEDIA_TIMEOUT)
        if p.returncode != 0:
            raise Fail("making test media %s failed (%s):\n%s" %
                       (name, describe_rc(p.returncode),
                        p.stderr.decode("utf-8", "replace")[-3000:]))
    return _cached(path, make)


# ---------------------------------------------------------------- facts

def _tb(s):
    """ffprobe's "num/den" (a time base or frame rate) as a Fraction."""
    n, d = s.split("/")
    return Fraction(int(n), int(d))


# ISO 639-2 -> BCP 47 for the languages the tests use (an independent table:
# the expected values, not the program's).
BCP47 = {"eng": "en", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "spa": "es"}


# ---------------------------------------------------------------- the origin

LISTENING = re.compile(r"pagecast-origin: listening on http://127\.0\.0\.1:(\d+)/$")


def origin_port(proc, timeout, stderr):
    """Read a pagecast-origin's first stdout line, byte by byte so that
    nothing after it leaves the pipe, and @return (port, the line as bytes):
    the line must be 'pagecast-origin: listening on http://127.0.0.1:PORT/'
    (with --listen 127.0.0.1:0, the real port).  Fail if it is not, or does
    not come within @timeout seconds; @stderr() gives the origin's stderr
    for the message.  The caller stops the process."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail("pagecast-origin printed no startup line within %d s (%s); stdout %r; "
                       "stderr:\n%s" % (timeout, "still running" if proc.poll() is None else
                                        describe_rc(proc.returncode), buf[-2000:], stderr()[-3000:]))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 1)
            if not chunk:
                try:
                    rc = describe_rc(proc.wait(10))
                except subprocess.TimeoutExpired:
                    rc = "stdout closed, still running"
                raise Fail("pagecast-origin exited before listening (%s); stdout %r; stderr:\n%s" %
                           (rc, buf[-2000:], stderr()[-3000:]))
            buf += chunk
    line = buf.decode("utf-8", "replace").rstrip("\n")
    m = LISTENING.match(line)
    check(m and int(m.group(1)) != 0, "unexpected startup line %r; stderr:\n%s" %
          (line, stderr()[-3000:]))
    return int(m.group(1)), buf


def stop_process(proc, timeout):
    """SIGTERM @proc (if it still runs) and wait up to @timeout seconds for
    it; if it is still running then, SIGKILL and reap it.  @return its exit
    status, or None if it had to be killed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
    return proc.returncode


def check_sanitizers(text, who):
    """Fail on an AddressSanitizer, LeakSanitizer or UBSan report in @text."""
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        check(marker not in text, "%s: sanitizer report:\n%s" % (who, text[-5000:]))
