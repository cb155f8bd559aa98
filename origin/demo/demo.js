// The demo page's script (index.html; pagecast-origin --demo): clicking a
// title plays it with Shaka Player, which plays both HLS and DASH; the radio
// buttons pick which manifest (a switch while playing reloads at the same
// position).  The list comes from the origin as HTML: while a title is
// still being packaged, the list is fetched again every 2 s.
//
// window.pcDemo is what the players suite reads (tests/players/demo.mjs):
// the player's errors and what is playing (loaded once its manifest is).
'use strict';

const video = document.getElementById('video');
const statusLine = document.getElementById('status');
const infoLine = document.getElementById('info');
const demo = window.pcDemo = { errors: [], playing: null, player: null };
let codeNames = null;

function say(text, isError) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', !!isError);
}

function errorText(e) {
  if (!e || e.code === undefined) return String(e && e.message ? e.message : e);
  if (!codeNames) {
    codeNames = {};
    for (const [k, v] of Object.entries(shaka.util.Error.Code)) codeNames[v] = k;
  }
  let data = '';
  try { data = JSON.stringify(e.data).slice(0, 300); } catch { data = ''; }
  return `Shaka Player error ${e.code} ${codeNames[e.code] || ''} (category ${e.category}) ${data}`;
}

function fail(e, fatal) {
  const text = errorText(e);
  demo.errors.push({ fatal, text });
  if (fatal) say(`cannot play ${demo.playing ? demo.playing.title : ''}: ${text}`, true);
}

function clock(t) {
  if (!Number.isFinite(t)) return '-';
  const s = Math.floor(t);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** What is playing: manifest kind, picture size, the rendition's
 *  bandwidth and the audio language, position. */
function showInfo() {
  if (!demo.playing || !demo.player) { infoLine.textContent = ''; return; }
  const parts = [demo.playing.kind === 'hls' ? 'HLS' : 'DASH'];
  const v = demo.player.getVariantTracks().find((x) => x.active);
  if (video.videoHeight) parts.push(`${video.videoWidth}×${video.videoHeight}`);
  else parts.push('audio only');
  if (v) parts.push(`${Math.round(v.bandwidth / 1000)} kbit/s`);
  if (v && v.language && v.language !== 'und') parts.push(`audio ${v.language}`);
  parts.push(`${clock(video.currentTime)} / ${clock(video.duration)}`);
  infoLine.textContent = parts.join(' · ');
}

/** Show each manifest link as the absolute URL to copy into a player. */
function showUrls() {
  for (const a of document.querySelectorAll('#titles a')) a.textContent = new URL(a.getAttribute('href'), location.href).href;
}

function markCurrent() {
  for (const tr of document.querySelectorAll('#titles tr')) {
    const b = tr.querySelector('button');
    tr.classList.toggle('current', !!(b && demo.playing && b.textContent === demo.playing.title));
  }
}

function kind() {
  return document.querySelector('input[name="kind"]:checked').value;
}

async function play(button, startTime) {
  const k = kind();
  const title = button.textContent;
  const url = new URL(button.dataset[k], location.href).href;
  const playing = demo.playing = { title, kind: k, url, loaded: false };
  markCurrent();
  say(`loading ${title} (${k === 'hls' ? 'HLS' : 'DASH'})…`);
  try {
    await demo.player.load(url, startTime);
  } catch (e) {
    if (e && e.code === shaka.util.Error.Code.LOAD_INTERRUPTED) return;   // another click
    fail(e, true);
    return;
  }
  if (demo.playing !== playing) return;      // another click meanwhile
  playing.loaded = true;
  say(`playing ${title} from ${url}`);
  video.play().catch((e) => say(`press play to start (${e.message})`));
}

/** Fetch the list again while some title is still being packaged. */
async function refresh() {
  if (!document.querySelector('#titles tr[data-state="packaging"]')) return;
  try {
    const r = await fetch(location.href, { cache: 'no-store' });
    const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
    const fresh = doc.getElementById('titles');
    if (r.ok && fresh) {
      document.getElementById('titles').replaceWith(document.adoptNode(fresh));
      showUrls();
      markCurrent();
    }
  } catch (e) {
    // the origin restarting: try again later
  }
  setTimeout(refresh, 2000);
}

async function main() {
  showUrls();
  setTimeout(refresh, 2000);
  if (!window.shaka) {
    say('Shaka Player did not load (demo/shaka-player.compiled.js).', true);
    return;
  }
  shaka.polyfill.installAll();
  if (!shaka.Player.isBrowserSupported()) {
    say('This browser cannot play adaptive streams (no Media Source Extensions); use the manifest URLs with ffplay, mpv or VLC.', true);
    return;
  }
  document.getElementById('version').textContent = `Player: Shaka Player ${shaka.Player.version}.`;
  demo.player = new shaka.Player();
  await demo.player.attach(video);
  for (const ev of ['timeupdate', 'resize', 'loadedmetadata']) video.addEventListener(ev, showInfo);
  demo.player.addEventListener('adaptation', showInfo);
  demo.player.addEventListener('error', (ev) => fail(ev.detail, ev.detail.severity === shaka.util.Error.Severity.CRITICAL));
  document.querySelector('#catalog table').addEventListener('click', (ev) => {
    const b = ev.target.closest('button');
    if (b && !b.disabled) play(b);
  });
  document.getElementById('kinds').addEventListener('change', () => {
    if (!demo.playing) return;
    const b = [...document.querySelectorAll('#titles button')].find((x) => x.textContent === demo.playing.title);
    if (b) play(b, video.currentTime);
  });
}

main().catch((e) => fail(e, true));
