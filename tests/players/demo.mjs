#!/usr/bin/env node
// The demo page in a real browser (docs/players.md, "The demo page"):
// pagecast-origin --demo node_modules over the sample titles, and Chromium
// (playwright-core, as browser.mjs) opens http://ORIGIN/ the way a newcomer
// following the README would.  Checked:
//   1. the page lists every sample title as ready, with links to its
//      master.m3u8 and manifest.mpd that answer 200, shown as absolute URLs;
//   2. clicking each title plays it (HLS, the default): currentTime passes
//      3 s, not paused, no player error; then choosing DASH reloads it from
//      manifest.mpd at the same position and it plays on 2 s;
//   3. no request to the origin failed and the page broke no rule of its
//      Content-Security-Policy (Chromium says so on the console);
// and saves a screenshot of the page while the ladder title plays:
// PC_PLAYERS_SCREENSHOT_DIR/demo.png, by default in the build directory
// (OUT/screenshots/); `PC_PLAYERS_SCREENSHOT_DIR=$PWD/docs/images meson
// test -C build players-demo` makes the one in docs/.
//
// Usage: node tests/players/demo.mjs.  Environment: see common.mjs.

import fs from 'node:fs';
import path from 'node:path';
import {
  NODE_MODULES, OUT, Report, budgetLeft, launchChromium, log, originWithSamples, requireChromium, runHarness,
  stopOrigin,
} from './common.mjs';

const SHOT_DIR = process.env.PC_PLAYERS_SCREENSHOT_DIR || path.join(OUT, 'screenshots');
const SHOT_TITLE = 'ladder.title';       // the one the screenshot shows playing
const T_PLAY = 40;                       // s to reach each point of playback
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The page's player state, as demo.js keeps it. */
function pageState(page) {
  return page.evaluate(() => {
    const v = document.getElementById('video');
    return {
      t: v.currentTime, paused: v.paused, width: v.videoWidth, height: v.videoHeight,
      status: document.getElementById('status').textContent,
      errors: window.pcDemo ? window.pcDemo.errors : [], playing: window.pcDemo && window.pcDemo.playing,
    };
  });
}

async function until(page, what, pred, timeoutS) {
  const end = Date.now() + timeoutS * 1000;
  for (;;) {
    const s = await pageState(page);
    const fatal = s.errors.find((e) => e.fatal);
    if (fatal) throw new Error(`player error: ${fatal.text} (status line: ${s.status})`);
    if (pred(s)) return s;
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeoutS} s waiting for ${what}: currentTime ${s.t.toFixed(2)}, ` +
        `${s.paused ? 'paused' : 'playing'}, ${s.width}x${s.height}, status line "${s.status}"`);
    }
    await sleep(100);
  }
}

async function main() {
  const shaka = path.join(NODE_MODULES, 'shaka-player/dist/shaka-player.compiled.js');
  const chromium = await requireChromium([shaka]);
  const report = new Report('players demo');
  const { dir, origin, titles } = await originWithSamples('demo', report, ['--demo', NODE_MODULES]);
  const pageUrl = `${origin.url}/`;
  log(`demo page: ${pageUrl}`);
  const ctx = await launchChromium(chromium, dir, { width: 1280, height: 720 });
  const problems = [];      // failed requests, CSP violations: checked at the end
  try {
    const page = await ctx.newPage();
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
    page.on('requestfailed', (r) => {
      const err = r.failure() ? r.failure().errorText : '?';
      if (err !== 'net::ERR_ABORTED') problems.push(`request failed (${err}) ${r.url()}`);
    });
    page.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) problems.push(`console: ${m.text().slice(0, 300)}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

    let what = 'the page lists every title, ready, with its manifest URLs';
    try {
      await page.goto(pageUrl, { waitUntil: 'load', timeout: 30e3 });
      await page.waitForFunction(() => window.pcDemo && window.pcDemo.player, null, { timeout: 30e3 });
      const rows = await page.$$eval('#titles tr', (trs) => trs.map((tr) => ({
        state: tr.dataset.state,
        title: tr.querySelector('button') && tr.querySelector('button').textContent,
        links: [...tr.querySelectorAll('a')].map((a) => ({ href: a.href, text: a.textContent })),
      })));
      const bad = [];
      for (const t of titles) {
        const row = rows.find((r) => r.title === t.title);
        if (!row) { bad.push(`${t.title}: not listed`); continue; }
        if (row.state !== 'ready') bad.push(`${t.title}: state ${row.state}`);
        for (const want of [t.hls, t.dash]) {
          const link = row.links.find((l) => l.href === want);
          if (!link) bad.push(`${t.title}: no link to ${want} (links ${row.links.map((l) => l.href).join(' ')})`);
          else if (link.text !== want) bad.push(`${t.title}: the link to ${want} reads "${link.text}"`);
          else {
            const r = await fetch(want);
            await r.arrayBuffer();
            if (r.status !== 200) bad.push(`${t.title}: ${want} answers ${r.status}`);
          }
        }
      }
      if (bad.length) throw new Error(bad.join('; '));
      report.pass(what, `${rows.length} rows: ${rows.map((r) => `${r.title} ${r.state}`).join(', ')}`);
    } catch (e) {
      report.fail(what, e.message);
    }

    // The screenshot's title last, so the page stays on it.
    const order = [...titles.filter((t) => t.title !== SHOT_TITLE), ...titles.filter((t) => t.title === SHOT_TITLE)];
    for (const t of order) {
      if (budgetLeft() < 30) { report.fail(`${t.title}`, 'not run: the test\'s time budget is used up'); continue; }
      what = `click ${t.title}: plays its master.m3u8 past 3 s`;
      try {
        await page.check('input[name="kind"][value="hls"]');
        const t0 = Date.now();
        await page.click(`#titles button:text-is("${t.title}")`);
        let s = await until(page, 'playback past 3 s', (x) => x.playing && x.playing.title === t.title && x.playing.loaded && !x.paused && x.t >= 3, T_PLAY);
        if (s.playing.url !== t.hls) throw new Error(`it plays ${s.playing.url}, not ${t.hls}`);
        if (t.hasVideo && !s.height) throw new Error('no video frame rendered (videoHeight 0)');
        report.pass(what, `at ${s.t.toFixed(2)} s after ${((Date.now() - t0) / 1000).toFixed(1)} s${t.hasVideo ? `, ${s.width}x${s.height}` : ''}`);

        what = `${t.title}: choosing DASH plays its manifest.mpd on from there`;
        const from = s.t;
        await page.check('input[name="kind"][value="dash"]');
        s = await until(page, `DASH playback 2 s past ${from.toFixed(2)}`, (x) => x.playing.kind === 'dash' && x.playing.loaded && !x.paused && x.t >= from + 2, T_PLAY);
        if (s.playing.url !== t.dash) throw new Error(`it plays ${s.playing.url}, not ${t.dash}`);
        if (s.t > from + 15) throw new Error(`it went on at ${s.t.toFixed(2)} s, not from ${from.toFixed(2)} s`);
        report.pass(what, `${from.toFixed(2)} -> ${s.t.toFixed(2)} s`);
        if (s.errors.length) log(`note: non-fatal player errors: ${s.errors.map((e) => e.text).join(' | ')}`);
      } catch (e) {
        const shot = path.join(OUT, 'screenshots', `demo-${t.title}-failed.png`);
        fs.mkdirSync(path.dirname(shot), { recursive: true });
        await page.screenshot({ path: shot }).catch(() => {});
        report.fail(what, `${e.message}\n    screenshot: ${shot}`);
        continue;
      }
      if (t.title === SHOT_TITLE) {
        fs.mkdirSync(SHOT_DIR, { recursive: true });
        const shot = path.join(SHOT_DIR, 'demo.png');
        await page.screenshot({ path: shot });
        report.pass('screenshot of the page playing', shot);
      }
    }

    what = 'no request to the origin failed, no Content-Security-Policy violation';
    if (problems.length) report.fail(what, `${problems.length}:\n    ${problems.slice(0, 10).join('\n    ')}`);
    else report.pass(what);
  } finally {
    await ctx.close().catch(() => {});
    await stopOrigin(origin, report);
  }
  report.finish();
}

runHarness(main);
