// Shared helpers of the players suite (docs/players.md): the sample media,
// a real pagecast-origin over them, the titles it serves, and the report
// (one line per check, then "N passed, N failed, N skipped").
//
// Environment (set by tests/players/meson.build):
//   PAGECAST_ORIGIN   the pagecast-origin binary under test
//   PC_SOURCE_ROOT    the source tree (samples/make-samples, node_modules/)
//   PC_PLAYERS_OUT    where work directories and screenshots go
//                     (default: <tmp>/pagecast-players)
//   PC_KEEP=1         keep the work directory (media links, store, logs)
//   PC_PLAYERS_TITLES    comma-separated sample titles to run (default: all),
//                        e.g. audio-only.m4a; PC_PLAYERS_MANIFESTS=hls or
//                        dash: only that manifest (the break checks narrow
//                        a run to what catches each break, docs/players.md)
//   CI                set: a player that is not installed fails instead of
//                     skipping (CI runs scripts/setup, which installs them)

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import { checkServed } from './served.mjs';

export const SOURCE_ROOT = process.env.PC_SOURCE_ROOT ||
  path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const ORIGIN = process.env.PAGECAST_ORIGIN || '';
export const OUT = process.env.PC_PLAYERS_OUT || path.join(os.tmpdir(), 'pagecast-players');

export const SKIP = 77;   // meson's "skipped" exit status
export const NODE_MODULES = path.join(SOURCE_ROOT, 'node_modules');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// ../shared/MEASUREMENTS.md: the flags that work on this machine.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

// A test's own time budget (s), under meson's 300 s timeout: once it is used
// up, what is left is reported as not run (a failure) instead of meson
// killing the test with nothing said.
const BUDGET = Number(process.env.PC_PLAYERS_BUDGET) || 270;
const T0 = Date.now();
/** Seconds left of the budget. */
export function budgetLeft() { return BUDGET - (Date.now() - T0) / 1000; }

export function log(...args) { console.log(...args); }

// meson sends SIGTERM on timeout: exit through the 'exit' handlers, which
// stop the origin and the players this test started.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { log(`FAIL harness: killed by ${sig}`); process.exit(1); });
}

/** Stop with meson's skip status, or fail under CI (where setup ran). */
export function skipAll(reason) {
  if (process.env.CI) {
    log(`FAIL setup: ${reason} (CI is set: scripts/setup must have installed it)`);
    log('0 passed, 1 failed');
    process.exit(1);
  }
  log(`SKIP all: ${reason}`);
  log('0 passed, 0 failed, 1 skipped');
  process.exit(SKIP);
}

/** True if the program is on PATH. */
export function have(prog) {
  return spawnSync('sh', ['-c', `command -v "${prog}"`], { stdio: 'ignore' }).status === 0;
}

/**
 * playwright-core's chromium, once it and @files (the players' files in
 * node_modules) and Debian's Chromium are known to be there; else skip (or
 * fail under CI) with what is missing.
 */
export async function requireChromium(files = []) {
  const pw = path.join(NODE_MODULES, 'playwright-core', 'index.mjs');
  const missing = files.filter((f) => !fs.existsSync(f));
  if (!fs.existsSync(pw) || missing.length) skipAll(`npm packages missing (${fs.existsSync(pw) ? missing.join(', ') : pw}): run scripts/setup-players`);
  if (!fs.existsSync(CHROMIUM)) skipAll(`${CHROMIUM} not installed: run scripts/setup-players`);
  return (await import(pathToFileURL(pw).href)).chromium;
}

/** Chromium with a fresh profile in @dir and the page size @viewport. */
export function launchChromium(chromium, dir, viewport) {
  return chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport,
  });
}

// ------------------------------------------------------------------ report

export class Report {
  constructor(name) {
    this.name = name;
    this.passed = 0;
    this.failed = 0;
    this.skipped = 0;
    this.failures = [];
    this.t0 = Date.now();
  }
  pass(what, detail = '') {
    this.passed++;
    log(`ok   ${what}${detail ? '  (' + detail + ')' : ''}`);
  }
  fail(what, why) {
    this.failed++;
    this.failures.push(`${what}: ${why}`);
    log(`FAIL ${what}: ${why}`);
  }
  skip(what, why) {
    this.skipped++;
    log(`skip ${what}: ${why}`);
  }
  /** Print the failures again and the summary line; exit 0, 1 or 77. */
  finish() {
    const secs = ((Date.now() - this.t0) / 1000).toFixed(1);
    if (this.failures.length) {
      log(`\n${this.name}: ${this.failures.length} failure(s):`);
      for (const f of this.failures) log(`  - ${f}`);
    }
    log(`\n${this.name}: ${secs} s`);
    log(`${this.passed} passed, ${this.failed} failed, ${this.skipped} skipped`);
    process.exit(this.failed ? 1 : (this.passed ? 0 : SKIP));
  }
}

/** Stop the origin; anything but a clean exit on SIGTERM is a failure. */
export async function stopOrigin(origin, report) {
  const rc = await origin.stop();
  if (rc !== 0) report.fail('origin', `exited ${rc} on SIGTERM (log ${origin.logPath})`);
}

/** Run a harness's main(); an exception in the harness itself fails it. */
export function runHarness(main) {
  main().catch((e) => {
    log(`FAIL harness: ${e.stack || e}`);
    log('0 passed, 1 failed');
    process.exit(1);
  });
}

// ------------------------------------------------------------------- media

/** A fresh work directory under OUT, removed at exit unless PC_KEEP. */
export function workdir(tag) {
  fs.mkdirSync(OUT, { recursive: true });
  const dir = fs.mkdtempSync(path.join(OUT, `${tag}-`));
  if (!process.env.PC_KEEP) {
    process.on('exit', () => { try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* gone */ } });
  } else {
    log(`work directory kept: ${dir}`);
  }
  return dir;
}

// The sample titles: name in the media dir -> where its file(s) come from,
// first samples/media/ (samples/make-samples), else the older samples/cache/.
const SAMPLE_SOURCES = [
  { title: 'ladder.title', from: ['samples/media/ladder.title', 'samples/cache/ladder'], dir: true },
  { title: 'vp9-opus.webm', from: ['samples/media/vp9-opus.webm', 'samples/cache/vp9-opus/vp9-opus.webm'] },
  { title: 'audio-only.m4a', from: ['samples/media/audio-only.m4a', 'samples/cache/audio-only/audio.m4a'] },
];

/** The sample titles this run plays: PC_PLAYERS_TITLES, or all of them. */
function wantedSamples() {
  const only = (process.env.PC_PLAYERS_TITLES || '').split(',').map((x) => x.trim()).filter(Boolean);
  if (!only.length) return SAMPLE_SOURCES;
  const known = SAMPLE_SOURCES.map((s) => s.title);
  const unknown = only.filter((t) => !known.includes(t));
  if (unknown.length) throw new Error(`PC_PLAYERS_TITLES: no sample title ${unknown.join(', ')} (one of ${known.join(' ')})`);
  return SAMPLE_SOURCES.filter((s) => only.includes(s.title));
}

/** The manifests this run plays, of @offered: PC_PLAYERS_MANIFESTS, or all. */
export function wantedManifests(offered) {
  const only = process.env.PC_PLAYERS_MANIFESTS;
  if (!only) return offered;
  if (!['hls', 'dash'].includes(only)) throw new Error(`PC_PLAYERS_MANIFESTS=${only}: hls or dash`);
  return offered.filter((m) => m === only);
}

function linkOrCopy(src, dst) {
  try { fs.linkSync(src, dst); } catch { fs.copyFileSync(src, dst); }
}

/**
 * Make the samples if needed (samples/make-samples is cached and takes a
 * lock, so concurrent tests wait for each other), then build DIR/media with
 * hard links to them (the origin does not follow symlinks).
 * @return the media directory and the list of title names in it.
 */
export function prepareMedia(dir) {
  const maker = path.join(SOURCE_ROOT, 'samples', 'make-samples');
  if (fs.existsSync(maker)) {
    const r = spawnSync(maker, ['--quiet'], { cwd: SOURCE_ROOT, encoding: 'utf8', timeout: 600e3 });
    if (r.status !== 0) {
      log(`warning: samples/make-samples exited ${r.status}: ${(r.stderr || '').trim().slice(-500)}`);
    }
  }
  const media = path.join(dir, 'media');
  fs.mkdirSync(media, { recursive: true });
  const titles = [];
  for (const s of wantedSamples()) {
    const src = s.from.map((p) => path.join(SOURCE_ROOT, p)).find((p) => fs.existsSync(p));
    if (!src) { log(`warning: sample ${s.title} not found (looked in ${s.from.join(', ')})`); continue; }
    const dst = path.join(media, s.title);
    if (s.dir) {
      const files = fs.readdirSync(src).filter((f) => !f.startsWith('.') && /\.(mp4|m4a|mkv|webm|mov|ts)$/.test(f));
      if (!files.length) continue;
      fs.mkdirSync(dst);
      for (const f of files) linkOrCopy(path.join(src, f), path.join(dst, f));
    } else {
      linkOrCopy(src, dst);
    }
    titles.push(s.title);
  }
  return { media, titles };
}

// ------------------------------------------------------------------ origin

/**
 * Start pagecast-origin on 127.0.0.1:0 over @media, with @extraArgs;
 * resolves once it has printed its listening line.  Its stderr goes to
 * DIR/origin.log.
 */
export async function startOrigin(dir, media, extraArgs = []) {
  if (!ORIGIN || !fs.existsSync(ORIGIN)) throw new Error(`PAGECAST_ORIGIN not set or missing: ${ORIGIN}`);
  const store = path.join(dir, 'store');
  fs.mkdirSync(store, { recursive: true });
  const logPath = path.join(dir, 'origin.log');
  const errFd = fs.openSync(logPath, 'a');
  const proc = spawn(ORIGIN, ['--media', media, '--store', store, '--listen', '127.0.0.1:0',
    '--no-access-log', '--workers', '2', ...extraArgs], { stdio: ['ignore', 'pipe', errFd] });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('origin did not print its listening line within 30 s')), 30e3);
    const rl = readline.createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      const m = /listening on (http:\/\/\S+?)\/?$/.exec(line);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`origin exited (${code}) before listening: ${fs.readFileSync(logPath, 'utf8').slice(-500)}`));
    });
  });
  proc.stdout.resume();
  const stop = () => new Promise((resolve) => {
    if (proc.exitCode !== null) { resolve(proc.exitCode); return; }
    proc.on('exit', (code) => resolve(code));
    proc.kill('SIGTERM');
    setTimeout(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); }, 15e3).unref();
  });
  process.on('exit', () => { if (proc.exitCode === null) proc.kill('SIGKILL'); });
  return { url, proc, stop, logPath };
}

/** GET @url until it is no longer 503 (the title is being packaged). */
export async function fetchReady(url, timeoutMs = 180e3) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await fetch(url);
    if (r.status !== 503) return r;
    await r.arrayBuffer();
    if (Date.now() > end) throw new Error(`${url}: still 503 after ${timeoutMs / 1000} s`);
    const wait = Math.min(Number(r.headers.get('retry-after')) || 1, 2);
    await new Promise((res) => setTimeout(res, wait * 1000));
  }
}

/**
 * The longest stream of the title's source file(s), by ffprobe: the truth
 * the durations in manifests and players are held to.  NaN without ffprobe.
 */
export function sourceDuration(mediaPath) {
  let files = [mediaPath];
  try {
    if (fs.statSync(mediaPath).isDirectory()) files = fs.readdirSync(mediaPath).map((f) => path.join(mediaPath, f));
  } catch { return NaN; }
  let best = NaN;
  for (const f of files) {
    const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=duration:format=duration',
      '-of', 'json', f], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    try {
      const j = JSON.parse(r.stdout);
      const ds = (j.streams || []).map((x) => Number(x.duration)).filter((x) => x > 0);
      const d = ds.length ? Math.max(...ds) : Number(j.format && j.format.duration);
      if (d > 0 && !(best >= d)) best = d;
    } catch { /* not media */ }
  }
  return best;
}

function parseIsoDuration(s) {
  const m = /^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(s || '');
  if (!m) return NaN;
  return (Number(m[1] || 0) * 3600) + (Number(m[2] || 0) * 60) + Number(m[3] || 0);
}

/**
 * What a title is, read from its MPD: duration (s), whether it has video,
 * its video heights (one per rendition) and its audio languages.  Waits for
 * the title to be packaged; throws if its manifests do not answer 200.
 */
export async function describeTitle(originUrl, title, mediaPath) {
  const base = `${originUrl}/${title}`;
  const hls = await fetchReady(`${base}/master.m3u8`);
  const hlsText = await hls.text();
  if (hls.status !== 200) throw new Error(`GET /${title}/master.m3u8: ${hls.status} ${hlsText.slice(0, 200)}`);
  const dash = await fetchReady(`${base}/manifest.mpd`);
  const mpd = await dash.text();
  if (dash.status !== 200) throw new Error(`GET /${title}/manifest.mpd: ${dash.status} ${mpd.slice(0, 200)}`);
  const duration = parseIsoDuration((/mediaPresentationDuration="([^"]+)"/.exec(mpd) || [])[1]);
  const sets = mpd.split('<AdaptationSet').slice(1);
  const heights = [];
  const languages = [];
  let codecs = [];
  for (const s of sets) {
    const type = (/contentType="(\w+)"/.exec(s) || [])[1] || ((/mimeType="(\w+)\//.exec(s) || [])[1]);
    for (const m of s.matchAll(/codecs="([^"]+)"/g)) codecs.push(m[1]);
    if (type === 'video') {
      for (const m of s.matchAll(/<Representation[^>]*\sheight="(\d+)"/g)) heights.push(Number(m[1]));
    } else if (type === 'audio') {
      languages.push((/\slang="([^"]+)"/.exec(s) || [])[1] || 'und');
    }
  }
  codecs = [...new Set(codecs)];
  // The HLS duration: the longest media playlist's sum of EXTINF.
  const uris = [...hlsText.matchAll(/URI="([^"]+)"/g)].map((m) => m[1])
    .concat(hlsText.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  let hlsDuration = 0;
  for (const u of new Set(uris)) {
    const r = await fetchReady(new URL(u, `${base}/master.m3u8`).href);
    const text = await r.text();
    if (r.status !== 200) throw new Error(`GET ${u} of /${title}/master.m3u8: ${r.status} ${text.slice(0, 200)}`);
    const sum = [...text.matchAll(/#EXTINF:([\d.]+)/g)].reduce((a, m) => a + Number(m[1]), 0);
    hlsDuration = Math.max(hlsDuration, sum);
  }
  return {
    title, duration, hlsDuration, sourceDuration: sourceDuration(mediaPath), hasVideo: heights.length > 0, heights: heights.sort((a, b) => a - b),
    languages, codecs,
    hls: `${base}/master.m3u8`, dash: `${base}/manifest.mpd`,
  };
}

// ------------------------------------------------------- fault injection

// PC_PLAYERS_BREAK=MODE puts a proxy between the players and the origin that
// breaks what it serves, to prove the suite catches such bugs and says why
// (docs/players.md).  Never set in normal runs.
const BREAKS = {
  // every H.264 codec string becomes an HEVC one (the segments stay H.264)
  codec: { text: (t) => t.replace(/avc1\.[0-9A-Fa-f]{6}/g, 'hvc1.1.6.L93.B0') },
  // every EXTINF is 1.5 times the segment's real duration
  extinf: { text: (t, p) => (p.endsWith('.m3u8') ? t.replace(/#EXTINF:([\d.]+)/g, (m, d) => `#EXTINF:${(Number(d) * 1.5).toFixed(6)}`) : t) },
  // the MPD's durations (SegmentTimeline d=) are 1.5 times the real ones
  timeline: { text: (t, p) => (p.endsWith('.mpd') ? t.replace(/ d="(\d+)"/g, (m, d) => ` d="${Math.round(Number(d) * 1.5)}"`) : t) },
  // the third media segment of every track is cut to half its length
  segment: { body: (b, p) => (/\/3\.m4s$/.test(p) ? b.subarray(0, b.length >> 1) : b) },
  // the third media segment of every track answers 404
  missing: { status: (p) => (/\/3\.m4s$/.test(p) ? 404 : 0) },
};

async function startBreakingProxy(originUrl, mode) {
  const br = BREAKS[mode];
  if (!br) throw new Error(`PC_PLAYERS_BREAK=${mode}: unknown (one of ${Object.keys(BREAKS).join(' ')})`);
  const http = await import('node:http');
  const server = http.createServer(async (req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    try {
      const st = br.status && br.status(p);
      if (st) { res.writeHead(st, { 'Access-Control-Allow-Origin': '*' }).end('broken on purpose'); return; }
      const headers = {};
      // No Range: whole bodies (200), so that they can be broken.
      for (const h of ['origin']) if (req.headers[h]) headers[h] = req.headers[h];
      let r;
      try {
        r = await fetch(originUrl + req.url, { method: req.method, headers });
      } catch (e) {   // once more: a keep-alive connection the origin closed
        log(`proxy: ${req.method} ${req.url}: ${e.message}${e.cause ? ' (' + e.cause.message + ')' : ''}; retrying`);
        r = await fetch(originUrl + req.url, { method: req.method, headers });
      }
      let body = Buffer.from(await r.arrayBuffer());
      if (br.text && /\.(m3u8|mpd)$/.test(p) && r.status === 200) body = Buffer.from(br.text(body.toString('utf8'), p));
      if (br.body && r.status === 200) body = br.body(body, p);
      const out = {};
      r.headers.forEach((v, k) => { if (!['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'etag'].includes(k)) out[k] = v; });
      out['content-length'] = String(body.length);
      res.writeHead(r.status, out).end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      log(`proxy: ${req.method} ${req.url}: ${e.message}${e.cause ? ' (' + e.cause.message + ')' : ''}: answered 502`);
      res.writeHead(502).end(String(e));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return `http://127.0.0.1:${server.address().port}`;
}

/**
 * Prepare media, start the origin, describe every title, and check that
 * what is served agrees with its manifests (served.mjs; one line per title
 * and manifest in @report).
 */
export async function originWithSamples(tag, report, originArgs = []) {
  const dir = workdir(tag);
  const { media, titles } = prepareMedia(dir);
  if (!titles.length) skipAll('no sample media (samples/make-samples needs ffmpeg: run scripts/setup)');
  const origin = await startOrigin(dir, media, originArgs);
  log(`origin: ${origin.url} over ${media}`);
  if (process.env.PC_PLAYERS_BREAK) {
    origin.url = await startBreakingProxy(origin.url, process.env.PC_PLAYERS_BREAK);
    log(`PC_PLAYERS_BREAK=${process.env.PC_PLAYERS_BREAK}: players go through ${origin.url}, which breaks what the origin serves`);
  }
  const described = [];
  for (const t of titles) {
    const d = await describeTitle(origin.url, t, path.join(media, t));
    log(`title ${t}: ${d.duration.toFixed(2)} s (MPD), ${d.hlsDuration.toFixed(2)} s (HLS), ` +
        `${Number.isNaN(d.sourceDuration) ? '?' : d.sourceDuration.toFixed(2)} s (source), ${d.hasVideo ? 'video ' + d.heights.join('/') + 'p' : 'audio only'}, ` +
        `audio ${d.languages.join('/') || 'none'}, codecs ${d.codecs.join(' ')}`);
    described.push(d);
  }
  for (const d of described) await checkServed(report, d);
  return { dir, origin, titles: described };
}
