#!/usr/bin/env node
// The browser half of the players suite (docs/players.md): hls.js, dash.js
// and Shaka Player, from node_modules, in Debian's Chromium driven by
// playwright-core, play every sample title from a real pagecast-origin.
//
// Usage: node tests/players/browser.mjs [hlsjs] [dashjs] [shaka]
//   (no argument: all three; one browser, titles and players in sequence)
//
// The test page is served by a small HTTP server of this script on its own
// loopback port, so every request to the origin is cross-origin and CORS is
// exercised for real.  For each title and player (Shaka on both HLS and
// DASH) the steps are: load, start playing, play 5 s, seek to the middle
// and play 2 s past the seek point; on a title with several renditions,
// switch rendition and play on; with several audio languages, switch the
// language and play on (and, where Web Audio works, hear the tone change).
// Any fatal player error fails the step, named with the player's own words;
// a failed step saves a screenshot (path printed) and skips the rest of that
// title/player.  Environment: see common.mjs; CHROMIUM overrides
// /usr/bin/chromium.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  NODE_MODULES, OUT, Report, budgetLeft, launchChromium, log, originWithSamples, requireChromium, runHarness, stopOrigin,
  wantedManifests,
} from './common.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
// What the page server serves: the page and the players straight from
// node_modules (nothing is copied into the repository).
const FILES = {
  '/': [path.join(HERE, 'page.html'), 'text/html; charset=utf-8'],
  '/page.js': [path.join(HERE, 'page.js'), 'text/javascript; charset=utf-8'],
  '/lib/hls.js': [path.join(NODE_MODULES, 'hls.js/dist/hls.min.js'), 'text/javascript'],
  '/lib/dash.js': [path.join(NODE_MODULES, 'dashjs/dist/modern/umd/dash.all.min.js'), 'text/javascript'],
  '/lib/shaka.js': [path.join(NODE_MODULES, 'shaka-player/dist/shaka-player.compiled.js'), 'text/javascript'],
};

const PLAYERS = {
  hlsjs: { name: 'hls.js', manifests: ['hls'] },
  dashjs: { name: 'dash.js', manifests: ['dash'] },
  shaka: { name: 'Shaka', manifests: ['hls', 'dash'] },
};

// Time limits (s).  Playback itself is real time: 5 s + 2 s + 2 s + 2 s.
const T_LOAD = 30;
const T_START = 30;
const T_STEP = 30;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class StepError extends Error {
  constructor(message, state) { super(message); this.state = state; }
}

function startPageServer() {
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    if (p === '/favicon.ico') { res.writeHead(204).end(); return; }
    const f = FILES[p];
    if (!f || !fs.existsSync(f[0])) { res.writeHead(404).end('not found'); return; }
    res.writeHead(200, { 'Content-Type': f[1], 'Cache-Control': 'no-store' });
    fs.createReadStream(f[0]).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` }));
  });
}

function describeState(s) {
  if (!s) return 'no state';
  const lines = [
    `currentTime ${s.t.toFixed(3)}, ${s.paused ? 'paused' : 'not paused'}${s.seeking ? ', seeking' : ''}${s.ended ? ', ended' : ''}, ` +
    `readyState ${s.readyState}, networkState ${s.networkState}, duration ${s.duration}, ` +
    `buffered [${s.buffered}], rendered ${s.width}x${s.height}, player says ${s.playerHeight}p / audio ${s.playerLanguage}` +
    (s.frames !== null ? `, frames ${s.frames} (dropped ${s.dropped})` : ''),
  ];
  if (s.errors.length) lines.push('player errors:', ...s.errors.map((e) => `  ${e.fatal ? 'FATAL' : 'non-fatal'} at ${e.at === null ? '-' : e.at.toFixed(2)}: ${e.text}`));
  if (s.events.length) lines.push('last events:', ...s.events.map((e) => `  ${e}`));
  return lines.join('\n    ');
}

/** An error thrown in the page, without playwright's prefix and the stack. */
function pageError(e) {
  return String(e.message || e).replace(/^page\.evaluate: (Error: )?/, '').split(/\n\s+at /)[0];
}

async function state(page) {
  return page.evaluate(() => window.pc.state());
}

/** Poll the page until pred(state) holds; fail at once on a fatal error. */
async function until(page, what, pred, timeoutS) {
  const end = Date.now() + timeoutS * 1000;
  for (;;) {
    const s = await state(page);
    const fatal = s.errors.find((e) => e.fatal);
    if (fatal) throw new StepError(`player error: ${fatal.text}`, s);
    if (pred(s)) return s;
    if (Date.now() > end) throw new StepError(`timed out after ${timeoutS} s waiting for ${what}`, s);
    await sleep(100);
  }
}

/** Play on: currentTime must reach from + secs (real playback). */
async function playOn(page, from, secs, what) {
  return until(page, `${what}: currentTime >= ${(from + secs).toFixed(2)}`, (s) => !s.paused && s.t >= from + secs, secs + T_STEP);
}

/** The dominant tone (Hz) over ~0.6 s, or null if Web Audio does not work. */
async function measureTone(page) {
  const hz = [];
  for (let i = 0; i < 6; i++) {
    const t = await page.evaluate(() => window.pc.tone());
    if (!t || t.state !== 'running') return null;
    if (t.db > -90) hz.push(Math.round(t.hz));
    await sleep(100);
  }
  if (hz.length < 3) return null;
  hz.sort((a, b) => a - b);
  return hz[Math.floor(hz.length / 2)];
}

async function withTimeout(promise, secs, what) {
  let timer;
  const t = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${secs} s: ${what}`)), secs * 1000); });
  try { return await Promise.race([promise, t]); } finally { clearTimeout(timer); }
}

async function runCombo(ctx, report, shotDir, pageUrl, originUrl, playerKey, title, manifest) {
  const player = PLAYERS[playerKey];
  const url = manifest === 'hls' ? title.hls : title.dash;
  const label = `${player.name} ${title.title} ${manifest === 'hls' ? 'master.m3u8' : 'manifest.mpd'}`;
  const page = await ctx.newPage();
  const httpProblems = [];      // origin answers >= 400, failed requests
  const consoleMsgs = [];
  page.on('response', (r) => {
    if (r.url().startsWith(originUrl) && r.status() >= 400) httpProblems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => {
    const err = r.failure() ? r.failure().errorText : '?';
    if (err !== 'net::ERR_ABORTED') httpProblems.push(`request failed (${err}) ${r.method()} ${r.url()}`);
  });
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') consoleMsgs.push(`${m.type()}: ${m.text()}`.slice(0, 400)); });
  page.on('pageerror', (e) => consoleMsgs.push(`page error: ${e.message}`));

  let step = 'open the test page';
  const t0 = Date.now();
  const pass = (detail) => report.pass(`${label}: ${step}`, detail);
  try {
    await page.goto(pageUrl, { waitUntil: 'load', timeout: 30e3 });

    step = 'load';
    await withTimeout(page.evaluate(([k, u, o]) => window.pc.load(k, u, o), [playerKey, url, {
      audioOnly: !title.hasVideo, webAudio: title.languages.length > 1, label,
    }]), T_LOAD, `${player.name} load ${url}`).catch((e) => { throw new StepError(pageError(e)); });
    pass();

    step = 'start playing';
    let s = await until(page, 'playback to start (currentTime > 0, not paused)', (x) => !x.paused && x.t > 0.05, T_START);
    pass(`at ${s.t.toFixed(2)} s after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    step = 'play 5 s';
    const framesAtStart = s.frames;
    s = await until(page, 'currentTime >= 5', (x) => !x.paused && x.t >= 5, 5 + T_STEP);
    if (title.hasVideo) {
      if (!(s.frames > framesAtStart) || !s.height) throw new StepError(`no video frames rendered (frames ${framesAtStart} -> ${s.frames}, ${s.width}x${s.height})`, s);
    }
    pass(title.hasVideo ? `${s.width}x${s.height}, ${s.frames} frames` : '');

    step = 'duration agrees with the source media';
    const declared = manifest === 'hls' ? `the HLS playlists' #EXTINF durations add up to ${title.hlsDuration.toFixed(3)} s` : `the MPD declares ${title.duration.toFixed(3)} s`;
    if (Number.isNaN(title.sourceDuration)) {
      report.skip(`${label}: ${step}`, 'no source duration (ffprobe)');
    } else if (!(Math.abs(s.duration - title.sourceDuration) <= 0.5)) {
      throw new StepError(`the player shows a duration of ${s.duration} s, but the source media is ${title.sourceDuration.toFixed(3)} s (${declared})`, s);
    } else {
      pass(`${s.duration.toFixed(3)} s; source ${title.sourceDuration.toFixed(3)} s`);
    }

    step = 'seek to the middle and play 2 s';
    const mid = Math.round(title.duration / 2 * 100) / 100;
    await page.evaluate((t) => window.pc.seek(t), mid);
    s = await until(page, `seek to ${mid} and play to ${mid + 2}`, (x) => !x.seeking && !x.paused && x.t >= mid + 2, 2 + T_STEP);
    if (s.t > mid + 10) throw new StepError(`after seeking to ${mid} currentTime is ${s.t}: the seek did not land`, s);
    pass(`${mid} -> ${s.t.toFixed(2)}`);

    if (title.heights.length > 1) {
      step = 'switch rendition and play on';
      s = await state(page);
      const heights = await page.evaluate(() => window.pc.heights());
      const uniq = [...new Set(heights)].sort((a, b) => a - b);
      if (uniq.length < 2) throw new StepError(`the player offers renditions ${heights.join('/')}; the MPD has ${title.heights.join('/')}`, s);
      const from = s.height;
      const target = from === uniq[0] ? uniq[uniq.length - 1] : uniq[0];
      const how = await page.evaluate((h) => window.pc.setHeight(h), target).catch((e) => { throw new StepError(pageError(e)); });
      const tSwitch = s.t;
      s = await until(page, `the rendered video height to become ${target} (${how})`, (x) => x.height === target && x.playerHeight === target && !x.paused, T_STEP);
      const tSeen = s.t;
      s = await playOn(page, tSeen, 2, `play on at ${target}p`);
      pass(`${from}p -> ${target}p by ${how}; rendered ${target}p at ${tSeen.toFixed(2)} (asked at ${tSwitch.toFixed(2)}), played to ${s.t.toFixed(2)}`);
    }

    if (title.languages.length > 1) {
      step = 'switch audio language and play on';
      s = await state(page);
      const langs = await page.evaluate(() => window.pc.languages());
      const from = s.playerLanguage;
      const target = langs.find((l) => l !== from);
      if (!from || !target) throw new StepError(`player languages ${JSON.stringify(langs)}, current ${from}; the MPD has ${title.languages.join('/')}`, s);
      const toneBefore = await measureTone(page);
      const how = await page.evaluate((l) => window.pc.setLanguage(l), target).catch((e) => { throw new StepError(pageError(e)); });
      s = await until(page, `the player to report audio language ${target} (${how})`, (x) => x.playerLanguage === target && !x.paused, T_STEP);
      const tSeen = s.t;
      s = await playOn(page, tSeen, 2, `play on in ${target}`);
      const toneAfter = await measureTone(page);
      pass(`${from} -> ${target} by ${how}; played to ${s.t.toFixed(2)}`);

      step = 'the audio heard changes with the language';
      if (toneBefore === null || toneAfter === null) {
        report.skip(`${label}: ${step}`, 'Web Audio analysis gave no reading here');
      } else if (Math.abs(toneAfter - toneBefore) < 40) {
        throw new StepError(`the tone heard is ${toneBefore} Hz before and ${toneAfter} Hz after switching ${from} -> ${target}: the new language's audio is not what plays`, s);
      } else {
        pass(`${toneBefore} Hz -> ${toneAfter} Hz`);
      }
    }

    step = 'every request to the origin succeeded';
    if (httpProblems.length) throw new StepError(`${httpProblems.length} failed request(s):\n    ${httpProblems.slice(0, 10).join('\n    ')}`, await state(page));
    pass();
  } catch (e) {
    const s = e.state || await state(page).catch(() => null);
    const shot = path.join(shotDir, `${playerKey}-${title.title}-${manifest}-${step.replace(/[^a-z0-9]+/gi, '-')}.png`.replace(/-+\./, '.'));
    let shotNote;
    try {
      await page.screenshot({ path: shot, timeout: 10e3 });
      shotNote = `screenshot: ${shot}`;
    } catch (se) {
      shotNote = `no screenshot (${se.message.split('\n')[0]})`;
    }
    const extra = [];
    if (s) extra.push(describeState(s));
    if (httpProblems.length && step !== 'every request to the origin succeeded') extra.push(`requests: ${httpProblems.slice(0, 10).join('; ')}`);
    if (consoleMsgs.length) extra.push(`console: ${consoleMsgs.slice(-8).join(' | ')}`);
    report.fail(`${label}: ${step}`, `${e.message}\n    ${extra.join('\n    ')}\n    ${shotNote}`);
  } finally {
    await page.evaluate(() => { try { const p = window.pc.player; if (p) (p.destroy || p.reset).call(p); } catch { /* closing anyway */ } }).catch(() => {});
    await page.close().catch(() => {});
  }
}

async function main() {
  const keys = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(PLAYERS);
  for (const k of keys) if (!PLAYERS[k]) { console.error(`unknown player ${k} (one of ${Object.keys(PLAYERS).join(' ')})`); process.exit(2); }

  const chromium = await requireChromium(Object.values(FILES).map((f) => f[0]));

  const report = new Report(`players ${keys.join(' ')}`);
  const { dir, origin, titles } = await originWithSamples(`browser-${keys.join('-')}`, report);
  const shotDir = path.join(OUT, 'screenshots');
  fs.mkdirSync(shotDir, { recursive: true });
  for (const f of fs.readdirSync(shotDir)) {
    if (keys.some((k) => f.startsWith(`${k}-`))) fs.rmSync(path.join(shotDir, f), { force: true });
  }
  const pages = await startPageServer();
  log(`test page: ${pages.url}/ (origin ${origin.url}: cross-origin)`);

  const ctx = await launchChromium(chromium, dir, { width: 800, height: 560 });
  try {
    const vpage = await ctx.newPage();
    await vpage.goto(`${pages.url}/`);
    const v = await vpage.evaluate(() => window.pc.versions());
    await vpage.close();
    log(`players: hls.js ${v.hlsjs}, dash.js ${v.dashjs}, Shaka ${v.shaka}; ${v.userAgent}`);

    for (const title of titles) {
      for (const k of keys) {
        for (const m of wantedManifests(PLAYERS[k].manifests)) {
          if (budgetLeft() < 40) {
            report.fail(`${PLAYERS[k].name} ${title.title} ${m === 'hls' ? 'master.m3u8' : 'manifest.mpd'}`,
              'not run: the test\'s time budget is used up (see the failures above)');
            continue;
          }
          await runCombo(ctx, report, shotDir, `${pages.url}/`, origin.url, k, title, m);
        }
      }
    }
  } finally {
    await ctx.close().catch(() => {});
    pages.server.close();
    await stopOrigin(origin, report);
  }
  report.finish();
}

runHarness(main);
