#!/usr/bin/env node
// The suite must fail when what is served is broken, and say why
// (docs/players.md, "Proving that it catches bugs").  For one
// PC_PLAYERS_BREAK mode, run the harness as a child, narrowed to one title,
// one manifest and the quickest player that catches that break, through the
// breaking proxy (common.mjs), and check:
//   1. the run fails (exit 1: not a pass, not a skip, not a harness crash);
//   2. the harness's own check of the served media (served.mjs) fails with
//      a line naming the cause: the codec string against the init segment's
//      codec, the #EXTINF or the S@d against the segment's real duration
//      (1.5 times it, as the proxy makes it), the cut or missing segment's
//      URL;
//   3. the player fails too, in its own words where it has them.
//
// Usage: node tests/players/breaks.mjs codec|extinf|timeline|segment|missing
// Environment: as common.mjs (meson sets it).  The child's output is
// printed, then one line per check.

import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const CHILD_TIMEOUT = 150;   // s
const OUT = process.env.PC_PLAYERS_OUT || path.join(os.tmpdir(), 'pagecast-players');

// The lines a check looks at: a FAIL line and its indented continuation.
function failBlocks(out) {
  const blocks = [];
  let cur = null;
  for (const line of out.split('\n')) {
    if (line.startsWith('FAIL ')) { cur = [line]; blocks.push(cur); } else if (cur && /^ {4}/.test(line)) cur.push(line); else cur = null;
  }
  return blocks.map((b) => b.join('\n'));
}

/** The ratio of two numbers is 1.5 (the proxy's factor), within rounding. */
const scaled = (broken, real) => Math.abs(Number(broken) / Number(real) - 1.5) < 0.01;

const MODES = {
  codec: {
    why: 'every H.264 codec string in the manifests becomes hvc1.1.6.L93.B0',
    argv: ['browser.mjs', 'hlsjs'], titles: 'ladder.title', manifests: 'hls',
    served: {
      what: 'the master playlist\'s CODECS against the init segment\'s avcC',
      match: (b) => /^FAIL served ladder\.title master\.m3u8/.test(b) &&
        /CODECS="hvc1\.1\.6\.L93\.B0,mp4a\.40\.2" does not name the codec of \d+\.m3u8's init segment, which holds avc1 \(avc1\.[0-9a-f]{6}\)/.test(b),
    },
    player: {
      what: 'hls.js refuses the variant\'s codecs, naming them',
      match: (b) => /^FAIL hls\.js ladder\.title master\.m3u8: load: .*manifestIncompatibleCodecsError.*hvc1\.1\.6\.L93\.B0/s.test(b),
    },
  },
  extinf: {
    why: 'every #EXTINF is 1.5 times the segment\'s real duration',
    argv: ['cli.mjs', 'ffmpeg'], titles: 'audio-only.m4a', manifests: 'hls',
    served: {
      what: '#EXTINF against the segment\'s trun durations',
      match: (b) => {
        const m = /^ {4}0\.m3u8 segment 1 \(\S+\/1\.m4s\): #EXTINF:([\d.]+), but the segment holds ([\d.]+) s of media/m.exec(b);
        return /^FAIL served audio-only\.m4a master\.m3u8/.test(b) && m && scaled(m[1], m[2]);
      },
    },
    player: {
      what: 'ffmpeg decodes less than the #EXTINF durations add up to',
      match: (b) => {
        const m = /= ([\d.]+) s of media, but the playlist's #EXTINF durations add up to ([\d.]+) s/.exec(b);
        return /^FAIL ffmpeg audio-only\.m4a master\.m3u8: plays to the end/.test(b) && m && scaled(m[2], m[1]);
      },
    },
  },
  timeline: {
    why: 'every SegmentTimeline S@d is 1.5 times the segment\'s real duration',
    argv: ['cli.mjs', 'gstreamer'], titles: 'audio-only.m4a', manifests: 'dash',
    served: {
      what: 'S@d against the segment\'s trun durations',
      match: (b) => {
        const m = /^ {4}manifest\.mpd Representation 0 segment 1 \(\S+\/1\.m4s\): the SegmentTimeline says t=\d+ d=(\d+) .* trun durations (\d+) at timescale/m.exec(b);
        return /^FAIL served audio-only\.m4a manifest\.mpd/.test(b) && m && scaled(m[1], m[2]);
      },
    },
    player: {
      what: 'GStreamer stops short of the MPD\'s duration',
      match: (b) => /^FAIL gstreamer audio-only\.m4a manifest\.mpd: plays to the end: .*gstreamer ended at [\d.]+ s, but the MPD's mediaPresentationDuration is/s.test(b),
    },
  },
  segment: {
    why: 'the third media segment of every track is cut to half its length',
    argv: ['cli.mjs', 'ffmpeg'], titles: 'audio-only.m4a', manifests: 'hls',
    served: {
      what: 'the cut segment named by URL, its mdat shorter than declared',
      match: (b) => /^FAIL served audio-only\.m4a master\.m3u8/.test(b) &&
        /^ {4}0\.m3u8 segment 3: \S+\/0\/3\.m4s: cut short: its 'mdat' box declares \d+ bytes, the body has \d+ of them/m.test(b),
    },
    player: {
      what: 'ffmpeg reports a decoding error',
      match: (b) => /^FAIL ffmpeg audio-only\.m4a master\.m3u8: plays to the end: .*ffmpeg said:\n.*\[error\]/s.test(b),
    },
  },
  missing: {
    why: 'the third media segment of every track answers 404',
    argv: ['cli.mjs', 'ffmpeg'], titles: 'audio-only.m4a', manifests: 'hls',
    served: {
      what: 'the missing segment named by URL and status',
      match: (b) => /^FAIL served audio-only\.m4a master\.m3u8/.test(b) &&
        /^ {4}0\.m3u8 segment 3: GET \S+\/0\/3\.m4s: HTTP 404$/m.test(b),
    },
    player: {
      what: 'ffmpeg names the 404 and the segment',
      match: (b) => /^FAIL ffmpeg audio-only\.m4a master\.m3u8: plays to the end: .*HTTP error 404 .*\/0\/3\.m4s/s.test(b),
    },
  },
};

function runChild(mode, spec) {
  const env = {
    ...process.env, PC_PLAYERS_BREAK: mode, PC_PLAYERS_TITLES: spec.titles, PC_PLAYERS_MANIFESTS: spec.manifests,
    PC_PLAYERS_BUDGET: String(CHILD_TIMEOUT - 20),
    // its own work and screenshot directory: the players' tests clear theirs
    PC_PLAYERS_OUT: path.join(OUT, 'breaks', mode),
  };
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(HERE, spec.argv[0]), ...spec.argv.slice(1)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => out.push(d));
    const timer = setTimeout(() => p.kill('SIGTERM'), CHILD_TIMEOUT * 1000);
    process.on('exit', () => { if (p.exitCode === null) p.kill('SIGKILL'); });
    p.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out: Buffer.concat(out).toString('utf8') }); });
  });
}

async function main() {
  const mode = process.argv[2];
  const spec = MODES[mode];
  if (!spec || process.argv.length !== 3) {
    console.error(`usage: breaks.mjs ${Object.keys(MODES).join('|')}`);
    process.exit(2);
  }
  const t0 = Date.now();
  const cmd = `PC_PLAYERS_BREAK=${mode} PC_PLAYERS_TITLES=${spec.titles} PC_PLAYERS_MANIFESTS=${spec.manifests} node tests/players/${spec.argv.join(' ')}`;
  console.log(`break: ${spec.why}\nrunning: ${cmd}\n${'-'.repeat(72)}`);
  const r = await runChild(mode, spec);
  console.log(r.out.trimEnd().split('\n').map((l) => `| ${l}`).join('\n'));
  console.log('-'.repeat(72));
  if (r.code === 77) {
    console.log(`SKIP: the run skipped (see its reason above)`);
    process.exit(77);
  }
  const problems = [];
  const say = (ok, what) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) problems.push(what); };
  say(r.code === 1, `the run fails (exit ${r.code}${r.signal ? ', ' + r.signal : ''}; a pass or a crash would not do)`);
  say(!/^FAIL (harness|setup):/m.test(r.out), 'the harness itself ran (no "FAIL harness" or "FAIL setup")');
  const blocks = failBlocks(r.out);
  say(blocks.some(spec.served.match), `the served-media check names the cause: ${spec.served.what}`);
  say(blocks.some(spec.player.match), `the player fails: ${spec.player.what}`);
  console.log(`\nbreak ${mode}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (problems.length) {
    console.log(`the suite would not catch this break, or would not say why: ${problems.length} check(s) failed`);
    process.exit(1);
  }
  console.log('the suite catches this break and says why');
}

main().catch((e) => {
  console.log(`FAIL harness: ${e.stack || e}`);
  process.exit(1);
});
