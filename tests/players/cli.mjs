#!/usr/bin/env node
// The non-browser half of the players suite (docs/players.md): ffmpeg,
// GStreamer playbin and mpv play every sample title from a real
// pagecast-origin to the end, through HLS and DASH.
//
// Usage: node tests/players/cli.mjs ffmpeg|gstreamer|mpv
//
// Each run must exit 0, print no error or warning, and reach the end: the
// last decoded timestamp must be within END_SLACK of the duration the
// manifest declares (the MPD's mediaPresentationDuration for DASH, the
// longest media playlist's EXTINF sum for HLS), so a player that gives up
// half-way, skips segments or is told a wrong duration fails.
//   ffmpeg     ffmpeg -loglevel level+verbose -xerror -i URL -map 0 -f null -
//              (every stream of the title decoded; out_time from -progress;
//              each stream's decoded frames or samples must add up to the
//              declared duration, within 1% or 0.3 s)
//   gstreamer  gst-launch-1.0 playbin3 uri=URL with fakesink video and audio
//              sinks; GST_DEBUG=basesink:6 logs every buffer each sink
//              renders: must reach EOS, with no gap over 0.5 s in either
//   mpv        mpv --no-config --vo=null --ao=null --untimed
//              --ao-null-untimed --msg-level=all=warn --script=mpv-end.lua
//              (prints the end reason and the position at unload)
// Environment: see common.mjs.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  Report, budgetLeft, have, log, originWithSamples, skipAll, runHarness, stopOrigin,
  wantedManifests,
} from './common.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const END_SLACK = 0.5;     // s
const RUN_TIMEOUT = 60;    // s, one player run (normal: under 15 s)

/** Run argv; resolve {code, signal, stdout, stderr, secs}. */
function run(argv, timeoutS = RUN_TIMEOUT, env = {}) {
  timeoutS = Math.max(1, Math.min(timeoutS, budgetLeft() - 5));
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const killOnExit = () => { if (p.exitCode === null) p.kill('SIGKILL'); };
    process.on('exit', killOnExit);
    const out = []; const err = [];
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, timeoutS * 1000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      process.off('exit', killOnExit);
      resolve({
        code, signal, timedOut, limit: timeoutS, secs: (Date.now() - t0) / 1000,
        stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

function tail(text, n = 12) {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines.slice(-n).join('\n      ');
}

function hms(s) {
  const m = /^(\d+):(\d+):([\d.]+)$/.exec(s);
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : NaN;
}

/** Where the declared duration comes from, for messages. */
function declaredBy(manifest, declared) {
  return manifest === 'hls' ? `the playlist's #EXTINF durations add up to ${declared.toFixed(3)} s`
    : `the MPD's mediaPresentationDuration is ${declared.toFixed(3)} s`;
}

function checkEnd(end, declared, source, what, manifest) {
  const src = Number.isNaN(source) ? '' : ` (the source media is ${source.toFixed(3)} s)`;
  if (!(end >= declared - END_SLACK)) return `${what} ended at ${end.toFixed(3)} s, but ${declaredBy(manifest, declared)}${src}: it did not play to the end`;
  if (end > declared + END_SLACK) return `${what} ended at ${end.toFixed(3)} s, past the end: ${declaredBy(manifest, declared)}${src}`;
  return null;
}

// ------------------------------------------------------------------ ffmpeg

async function ffmpeg(url, title, declared, dir, manifest) {
  // level+verbose: every line says its level (warnings and errors fail the
  // run), and at the end ffmpeg says how much it decoded of each stream.
  const r = await run(['ffmpeg', '-nostdin', '-hide_banner', '-loglevel', 'level+verbose', '-xerror', '-i', url,
    '-map', '0', '-f', 'null', '-progress', 'pipe:1', '-']);
  const problems = [];
  if (r.timedOut) problems.push(`no end after ${Math.round(r.limit)} s`);
  else if (r.code !== 0) problems.push(`exit status ${r.code}${r.signal ? ' (' + r.signal + ')' : ''}`);
  const said = r.stderr.split('\n').filter((l) => /\[(warning|error|fatal|panic)\]/.test(l));
  if (said.length) problems.push(`ffmpeg said:\n      ${said.slice(0, 12).join('\n      ')}`);
  const us = [...r.stdout.matchAll(/^out_time_us=(\d+)/gm)].map((m) => Number(m[1]));
  const end = us.length ? us[us.length - 1] / 1e6 : NaN;
  if (!/^progress=end/m.test(r.stdout)) problems.push('no "progress=end" from ffmpeg');
  // Media time decoded per stream: frames / fps, samples / rate.  A segment
  // that is short of samples, or skipped, shows here even when the last
  // timestamp is right.
  const rate = {};
  for (const m of r.stderr.matchAll(/Stream #0:(\d+)[^:]*: Video: .*?, ([\d.]+) fps/g)) rate[m[1]] = { kind: 'video', per: Number(m[2]) };
  for (const m of r.stderr.matchAll(/Stream #0:(\d+)[^:]*: Audio: .*?, (\d+) Hz/g)) rate[m[1]] = { kind: 'audio', per: Number(m[2]) };
  const decoded = [];
  for (const m of r.stderr.matchAll(/Input stream #0:(\d+) \((video|audio)\): \d+ packets read \(\d+ bytes\); (\d+) frames decoded(?:; | \((\d+) samples\))/g)) {
    const ra = rate[m[1]];
    if (!ra) continue;
    const secs = m[2] === 'video' ? Number(m[3]) / ra.per : Number(m[4]) / ra.per;
    decoded.push(`#${m[1]} ${m[2]} ${secs.toFixed(2)} s`);
    const slack = Math.max(0.3, declared * 0.01);
    if (secs < declared - slack) {
      problems.push(`stream #0:${m[1]} (${m[2]}): decoded ${m[2] === 'video' ? m[3] + ' frames at ' + ra.per + ' fps' : m[4] + ' samples at ' + ra.per + ' Hz'} = ${secs.toFixed(3)} s of media, but ${declaredBy(manifest, declared)}: media is missing`);
    }
  }
  if (!decoded.length && !problems.length) problems.push('could not read how much ffmpeg decoded of each stream');
  return { problems, end, secs: r.secs, detail: decoded.join(', ') };
}

// --------------------------------------------------------------- gstreamer

// The elements a title needs, by codec string prefix (a missing one skips
// the title with the reason, rather than failing as "missing plugin").
const GST_DECODERS = [
  [/^avc[13]/, ['avdec_h264', 'openh264dec']],
  [/^(hvc1|hev1)/, ['avdec_h265']],
  [/^vp09/, ['vp9dec', 'avdec_vp9']],
  [/^av01/, ['dav1ddec', 'av1dec', 'avdec_av1']],
  [/^mp4a\.40/, ['avdec_aac', 'faad', 'fdkaacdec']],
  [/^opus/, ['opusdec']],
  [/^flac/, ['flacdec', 'avdec_flac']],
  [/^ac-3/, ['avdec_ac3', 'a52dec']],
  [/^ec-3/, ['avdec_eac3']],
  [/^(mp4a\.(6B|69|40\.34)|mp3)/, ['mpg123audiodec', 'avdec_mp3']],
];
// playbin3 (urisourcebin + hlsdemux2/dashdemux2 + decodebin3): GStreamer
// 1.22's legacy playbin + hlsdemux mishandles a title with alternate audio
// renditions (docs/players.md: not-linked errors at start, audio rewound
// after a variant switch).  PC_GST_PLAYBIN=playbin runs the legacy one.
const GST_PLAYBIN = process.env.PC_GST_PLAYBIN || 'playbin3';
const gstHave = new Map();
function gstElement(name) {
  if (!gstHave.has(name)) {
    gstHave.set(name, spawnSync('gst-inspect-1.0', ['--exists', name]).status === 0);
  }
  return gstHave.get(name);
}
function gstMissing(title, manifest) {
  const need = [manifest === 'hls' ? ['hlsdemux', 'hlsdemux2'] : ['dashdemux', 'dashdemux2'], ['qtdemux']];
  for (const c of title.codecs) {
    const d = GST_DECODERS.find(([re]) => re.test(c));
    if (d) need.push(d[1]);
  }
  const missing = need.filter((alts) => !alts.some(gstElement)).map((alts) => alts.join(' or '));
  return missing.length ? `GStreamer elements missing here: ${missing.join(', ')} (scripts/setup-players installs them)` : null;
}

async function gstreamer(url, title, declared, dir) {
  // Every buffer each sink renders, from basesink's own log (synchronous,
  // one line per buffer: "<vsink> got times start: H:MM:SS.n, end: ...").
  const dbg = path.join(dir, 'gst-debug.log');
  fs.rmSync(dbg, { force: true });
  const r = await run(['gst-launch-1.0', GST_PLAYBIN, `uri=${url}`,
    'video-sink="fakesink name=vsink"', 'audio-sink="fakesink name=asink"'], RUN_TIMEOUT,
  { GST_DEBUG: 'basesink:6', GST_DEBUG_FILE: dbg, GST_DEBUG_NO_COLOR: '1' });
  const problems = [];
  const text = r.stdout + r.stderr;
  if (r.timedOut) problems.push(`no EOS after ${Math.round(r.limit)} s`);
  else if (r.code !== 0) problems.push(`exit status ${r.code}${r.signal ? ' (' + r.signal + ')' : ''}`);
  // gst-launch reports bus messages as "ERROR: from element ...: text" and
  // "WARNING: from element ...", each followed by "Additional debug info:".
  const lines = text.split('\n');
  const bad = [];
  lines.forEach((l, i) => {
    if (/^(ERROR|WARNING)\b/.test(l)) bad.push(l, ...lines.slice(i + 1, i + 3).filter((x) => x && !/^(ERROR|WARNING)\b/.test(x)));
  });
  if (bad.length) problems.push(`GStreamer said:\n      ${bad.slice(0, 12).join('\n      ')}`);
  if (!r.timedOut && !/Got EOS from element/.test(text)) problems.push('no EOS');
  const GAP = 0.5;   // s without a buffer that counts as missing media
  const bufs = { v: [], a: [] };
  let log = '';
  try { log = fs.readFileSync(dbg, 'utf8'); } catch { problems.push(`no GStreamer debug log ${dbg}`); }
  for (const m of log.matchAll(/<([va])sink> got times start: ([\d:.]+), end: ([\d:.]+)/g)) {
    bufs[m[1]].push([hms(m[2]), hms(m[3])]);
  }
  const which = [];
  if (title.hasVideo) which.push('v');
  if (title.languages.length || !title.hasVideo) which.push('a');
  let end = Infinity;
  const ends = {};
  for (const w of which) {
    const name = w === 'v' ? 'video' : 'audio';
    const b = bufs[w].filter(([s]) => !Number.isNaN(s)).sort((x, y) => x[0] - y[0]);
    if (!b.length) { problems.push(`no ${name} buffer reached the ${name} sink`); end = NaN; continue; }
    ends[w] = Math.max(...b.map(([s, e]) => (Number.isNaN(e) ? s : e)));
    end = Math.min(end, ends[w]);
    if (b[0][0] > GAP) problems.push(`the first ${name} buffer is at ${b[0][0].toFixed(3)} s: media is missing at the start`);
    let reach = b[0][1];
    for (const [s, e] of b) {
      if (s - reach > GAP) { problems.push(`no ${name} from ${reach.toFixed(3)} s to ${s.toFixed(3)} s: media is missing`); break; }
      if (e > reach) reach = e;
    }
  }
  fs.rmSync(dbg, { force: true });
  return {
    problems, end, secs: r.secs,
    detail: `${which.map((w) => `${w === 'v' ? 'video' : 'audio'} ${bufs[w].length} buffers to ${ends[w] === undefined ? '-' : ends[w].toFixed(3)} s`).join(', ')}`,
  };
}

// --------------------------------------------------------------------- mpv

async function mpv(url) {
  const r = await run(['mpv', '--no-config', '--vo=null', '--ao=null', '--untimed', '--ao-null-untimed',
    '--msg-level=all=warn', `--script=${path.join(HERE, 'mpv-end.lua')}`, url]);
  const problems = [];
  if (r.timedOut) problems.push(`no end after ${Math.round(r.limit)} s`);
  else if (r.code !== 0) problems.push(`exit status ${r.code}${r.signal ? ' (' + r.signal + ')' : ''}`);
  const lines = (r.stdout + r.stderr).split('\n').filter((l) => l.trim());
  const endLine = lines.find((l) => l.startsWith('PCMPV end'));
  // With --untimed there is no clock to keep up with, so mpv's "too slow
  // hardware" A/V desynchronisation notice (and its continuation lines) only
  // says the CPU was busy; real sync is checked by the ffmpeg and origin
  // suites, which compare every packet's time with the source's.
  const desync = /Audio\/Video desynchronisation detected|hardware, temporary CPU spikes|position will not match to the video/;
  const other = lines.filter((l) => !l.startsWith('PCMPV end') && !desync.test(l));
  if (other.length) problems.push(`mpv said:\n      ${other.slice(0, 12).join('\n      ')}`);
  let end = NaN;
  if (!endLine) {
    problems.push('mpv-end.lua printed no end line');
  } else {
    const m = /reason=(\S+) error=(\S+) pos=(\S+)/.exec(endLine);
    if (!m || m[1] !== 'eof') problems.push(`mpv ended with ${endLine}`);
    else if (m[2] !== 'nil' && m[2] !== 'success') problems.push(`mpv ended with error ${m[2]}`);
    end = m ? Number(m[3]) : NaN;
  }
  return { problems, end, secs: r.secs, detail: '' };
}

// -------------------------------------------------------------------- main

const TOOLS = {
  ffmpeg: { prog: 'ffmpeg', run: ffmpeg, version: ['ffmpeg', '-version'] },
  gstreamer: { prog: 'gst-launch-1.0', run: gstreamer, version: ['gst-launch-1.0', '--version'], missing: gstMissing },
  mpv: { prog: 'mpv', run: mpv, version: ['mpv', '--version'] },
};

async function main() {
  const name = process.argv[2];
  const tool = TOOLS[name];
  if (!tool || process.argv.length !== 3) {
    console.error(`usage: cli.mjs ${Object.keys(TOOLS).join('|')}`);
    process.exit(2);
  }
  if (!have(tool.prog)) skipAll(`${tool.prog} not installed: run scripts/setup-players`);
  const v = spawnSync(tool.version[0], tool.version.slice(1), { encoding: 'utf8' });
  log(`${name}: ${(v.stdout || '').split('\n').filter(Boolean).slice(0, name === 'gstreamer' ? 2 : 1).join('; ')}${name === 'gstreamer' ? '; ' + GST_PLAYBIN : ''}`);

  const report = new Report(`players ${name}`);
  const { dir, origin, titles } = await originWithSamples(`cli-${name}`, report);
  try {
    for (const title of titles) {
      for (const manifest of wantedManifests(['hls', 'dash'])) {
        const url = manifest === 'hls' ? title.hls : title.dash;
        const declared = manifest === 'hls' ? title.hlsDuration : title.duration;
        const what = `${name} ${title.title} ${manifest === 'hls' ? 'master.m3u8' : 'manifest.mpd'}: plays to the end`;
        if (budgetLeft() < 10) { report.fail(what, 'not run: the test\'s time budget is used up (see the failures above)'); continue; }
        const missing = tool.missing && tool.missing(title, manifest);
        if (missing) {
          if (process.env.CI) report.fail(what, missing); else report.skip(what, missing);
          continue;
        }
        const r = await tool.run(url, title, declared, dir, manifest);
        const endProblem = Number.isNaN(r.end) || r.problems.length ? null : checkEnd(r.end, declared, title.sourceDuration, name, manifest);
        if (endProblem) r.problems.push(endProblem);
        if (Number.isNaN(r.end) && !r.problems.length) r.problems.push('could not tell where playback ended');
        if (r.problems.length) {
          report.fail(what, `${url}\n    ${r.problems.join('\n    ')}`);
        } else {
          report.pass(what, `to ${r.end.toFixed(3)} of ${declared.toFixed(3)} s in ${r.secs.toFixed(1)} s${r.detail ? '; ' + r.detail : ''}`);
        }
      }
    }
  } finally {
    await stopOrigin(origin, report);
  }
  report.finish();
}

runHarness(main);
