// The in-page side of the players suite: one player (hls.js, dash.js or
// Shaka Player) on one media element, driven by browser.mjs through
// window.pc.  Every error a player reports is kept in pc.errors with the
// player's own words; pc.state() is what the harness polls.
'use strict';

const pc = window.pc = {
  kind: null,        // 'hlsjs' | 'dashjs' | 'shaka'
  player: null,
  el: null,
  errors: [],        // {fatal, text, at}
  events: [],        // notable player events, for the failure report
  audio: null,       // {ctx, analyser} when Web Audio is available
};

function note(fatal, text) {
  pc.errors.push({ fatal: !!fatal, text: String(text), at: pc.el ? pc.el.currentTime : null });
}
function event(text) {
  pc.events.push(`${pc.el ? pc.el.currentTime.toFixed(2) : '-'} ${text}`);
  if (pc.events.length > 200) pc.events.shift();
}

window.addEventListener('error', (e) => note(true, `page error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => note(true, `unhandled rejection: ${e.reason && (e.reason.message || e.reason)}`));

// ---------------------------------------------------------------- errors

function hlsError(d) {
  const parts = [`hls.js ${d.fatal ? 'fatal' : 'non-fatal'} ${d.type}/${d.details}`];
  if (d.reason) parts.push(d.reason);
  if (d.error && d.error.message && d.error.message !== d.reason) parts.push(d.error.message);
  if (d.response && d.response.code) parts.push(`HTTP ${d.response.code}`);
  const url = (d.frag && d.frag.url) || (d.context && d.context.url) || d.url;
  if (url) parts.push(url);
  if (d.mimeType) parts.push(`mimeType ${d.mimeType}`);
  if (d.sourceBufferName) parts.push(`sourceBuffer ${d.sourceBufferName}`);
  return parts.join(': ');
}

let shakaCodeNames = null;
function shakaError(err) {
  if (!err) return 'Shaka: unknown error';
  if (!shakaCodeNames && window.shaka && shaka.util && shaka.util.Error) {
    shakaCodeNames = {};
    for (const [k, v] of Object.entries(shaka.util.Error.Code || {})) shakaCodeNames[v] = k;
  }
  const name = (shakaCodeNames && shakaCodeNames[err.code]) || '';
  let data = '';
  try { data = JSON.stringify(err.data, (k, v) => (v instanceof Error ? v.message : v)).slice(0, 600); } catch { data = String(err.data); }
  return `Shaka ${err.severity === 2 ? 'CRITICAL' : 'RECOVERABLE'} error ${err.code}${name ? ' ' + name : ''} ` +
         `(category ${err.category}): data ${data}${err.message ? ' ' + err.message : ''}`;
}

function dashError(e) {
  const er = e.error || e;
  let data = '';
  if (er.data) {
    try { data = ' ' + JSON.stringify(er.data).slice(0, 400); } catch { data = ''; }
  }
  return `dash.js error ${er.code !== undefined ? er.code : ''}: ${er.message || e.type || JSON.stringify(er)}${data}`;
}

// ------------------------------------------------------------------- load

function setupWebAudio(el) {
  try {
    const ctx = new AudioContext();
    const src = ctx.createMediaElementSource(el);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;
    src.connect(analyser);
    analyser.connect(ctx.destination);
    pc.audio = { ctx, analyser };
    if (ctx.state !== 'running') ctx.resume().catch(() => {});
  } catch (e) {
    pc.audio = null;
    event(`no Web Audio: ${e.message}`);
  }
}

/** The loudest frequency (Hz) between 150 and 1000 Hz now, and its level. */
pc.tone = () => {
  if (!pc.audio) return null;
  const { ctx, analyser } = pc.audio;
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  const hz = ctx.sampleRate / analyser.fftSize;
  let best = -1; let bestDb = -Infinity;
  for (let i = Math.floor(150 / hz); i < Math.ceil(1000 / hz) && i < bins.length; i++) {
    if (bins[i] > bestDb) { bestDb = bins[i]; best = i; }
  }
  return { hz: best * hz, db: bestDb, state: ctx.state };
};

pc.load = async (kind, url, opts) => {
  pc.kind = kind;
  document.getElementById('label').textContent = `${opts.label || ''}`;
  const el = document.createElement(opts.audioOnly ? 'audio' : 'video');
  el.controls = true;
  el.preload = 'auto';
  el.playsInline = true;
  el.crossOrigin = 'anonymous';
  document.getElementById('stage').replaceChildren(el);
  pc.el = el;
  el.addEventListener('error', () => {
    const me = el.error;
    note(true, `media element error: code ${me && me.code}${me && me.message ? ': ' + me.message : ''}`);
  });
  for (const name of ['playing', 'waiting', 'seeking', 'seeked', 'stalled', 'ended', 'resize']) {
    el.addEventListener(name, () => event(name + (name === 'resize' ? ` ${el.videoWidth}x${el.videoHeight}` : '')));
  }
  if (opts.webAudio) setupWebAudio(el);

  if (kind === 'hlsjs') {
    if (!Hls.isSupported()) throw new Error('hls.js: Hls.isSupported() is false');
    const hls = new Hls({ enableWorker: true });
    pc.player = hls;
    hls.on(Hls.Events.ERROR, (ev, d) => note(d.fatal, hlsError(d)));
    hls.on(Hls.Events.LEVEL_SWITCHED, (ev, d) => event(`hls.js level switched to ${d.level} (${hls.levels[d.level] && hls.levels[d.level].height}p)`));
    hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, (ev, d) => event(`hls.js audio track switched to ${d.id} (${hls.audioTracks[d.id] && hls.audioTracks[d.id].lang})`));
    const parsed = new Promise((resolve, reject) => {
      hls.once(Hls.Events.MANIFEST_PARSED, resolve);
      hls.on(Hls.Events.ERROR, (ev, d) => { if (d.fatal) reject(new Error(hlsError(d))); });
    });
    hls.attachMedia(el);
    hls.loadSource(url);
    await parsed;
  } else if (kind === 'dashjs') {
    const p = dashjs.MediaPlayer().create();
    pc.player = p;
    p.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } });
    const ev = dashjs.MediaPlayer.events;
    p.on(ev.ERROR, (e) => note(true, dashError(e)));
    p.on(ev.PLAYBACK_ERROR, (e) => note(true, `dash.js playback error: ${e.error && (e.error.message || e.error.code)}`));
    p.on(ev.QUALITY_CHANGE_RENDERED, (e) => event(`dash.js ${e.mediaType} quality rendered: ${e.newRepresentation && e.newRepresentation.id}`));
    p.on(ev.TRACK_CHANGE_RENDERED, (e) => event(`dash.js ${e.mediaType} track rendered: ${e.newMediaInfo && e.newMediaInfo.lang}`));
    const ready = new Promise((resolve, reject) => {
      p.on(ev.STREAM_INITIALIZED, resolve);
      p.on(ev.ERROR, (e) => reject(new Error(dashError(e))));
    });
    p.initialize(el, url, false);
    await ready;
  } else if (kind === 'shaka') {
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) throw new Error('Shaka: browser not supported');
    const p = new shaka.Player();
    pc.player = p;
    await p.attach(el);
    p.addEventListener('error', (e) => note(e.detail.severity === 2, shakaError(e.detail)));
    p.addEventListener('variantchanged', () => event('Shaka variant changed'));
    p.addEventListener('adaptation', () => event('Shaka adaptation'));
    try {
      await p.load(url);
    } catch (e) {
      const text = shakaError(e);
      note(true, text);
      throw new Error(text);
    }
  } else {
    throw new Error(`unknown player ${kind}`);
  }
  try {
    await el.play();
  } catch (e) {
    note(true, `play() rejected: ${e.name}: ${e.message}`);
    throw e;
  }
};

// ------------------------------------------------------------------ state

function ranges(tr) {
  const out = [];
  for (let i = 0; i < tr.length; i++) out.push(`${tr.start(i).toFixed(2)}-${tr.end(i).toFixed(2)}`);
  return out.join(',');
}

/** The height of the rendition the player says it is playing. */
function playerHeight() {
  const p = pc.player;
  try {
    if (pc.kind === 'hlsjs') { const l = p.levels[p.currentLevel]; return l ? l.height : null; }
    if (pc.kind === 'dashjs') { const r = p.getCurrentRepresentationForType('video'); return r ? r.height : null; }
    if (pc.kind === 'shaka') { const t = p.getVariantTracks().find((v) => v.active); return t ? t.height : null; }
  } catch (e) { return `? ${e.message}`; }
  return null;
}

/** The audio language the player says it is playing. */
function playerLanguage() {
  const p = pc.player;
  try {
    if (pc.kind === 'hlsjs') { const t = p.audioTracks[p.audioTrack]; return t ? t.lang : null; }
    if (pc.kind === 'dashjs') { const t = p.getCurrentTrackFor('audio'); return t ? t.lang : null; }
    if (pc.kind === 'shaka') { const t = p.getAudioTracks().find((a) => a.active); return t ? t.language : null; }
  } catch (e) { return `? ${e.message}`; }
  return null;
}

pc.state = () => {
  const el = pc.el;
  if (!el) return null;
  const q = el.getVideoPlaybackQuality ? el.getVideoPlaybackQuality() : null;
  const s = {
    t: el.currentTime, paused: el.paused, ended: el.ended, seeking: el.seeking,
    readyState: el.readyState, networkState: el.networkState, duration: el.duration,
    width: el.videoWidth || 0, height: el.videoHeight || 0,
    frames: q ? q.totalVideoFrames : null, dropped: q ? q.droppedVideoFrames : null,
    buffered: ranges(el.buffered), playerHeight: playerHeight(), playerLanguage: playerLanguage(),
    errors: pc.errors.slice(), events: pc.events.slice(-15),
  };
  document.getElementById('status').textContent =
    `t=${s.t.toFixed(2)} ${s.paused ? 'paused' : 'playing'} ready=${s.readyState} ` +
    `${s.width}x${s.height} player=${s.playerHeight}p audio=${s.playerLanguage} buffered=${s.buffered}` +
    (s.errors.length ? `\nerrors:\n${s.errors.map((e) => e.text).join('\n')}` : '');
  return s;
};

/** Heights of the renditions the player offers. */
pc.heights = () => {
  const p = pc.player;
  if (pc.kind === 'hlsjs') return p.levels.map((l) => l.height);
  if (pc.kind === 'dashjs') return p.getRepresentationsByType('video').map((r) => r.height);
  if (pc.kind === 'shaka') return [...new Set(p.getVariantTracks().map((t) => t.height))];
  return [];
};

/** Languages the player offers. */
pc.languages = () => {
  const p = pc.player;
  if (pc.kind === 'hlsjs') return p.audioTracks.map((t) => t.lang);
  if (pc.kind === 'dashjs') return p.getTracksFor('audio').map((t) => t.lang);
  if (pc.kind === 'shaka') return p.getAudioTracks().map((t) => t.language);
  return [];
};

/** Switch to the rendition of @height with each player's own API. */
pc.setHeight = (height) => {
  const p = pc.player;
  event(`switching to ${height}p`);
  if (pc.kind === 'hlsjs') {
    const i = p.levels.findIndex((l) => l.height === height);
    if (i < 0) throw new Error(`hls.js has no level of height ${height}`);
    p.currentLevel = i;                      // immediate switch (flushes the buffer)
    return `hls.currentLevel = ${i}`;
  }
  if (pc.kind === 'dashjs') {
    p.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: false } } } });
    const r = p.getRepresentationsByType('video').find((x) => x.height === height);
    if (!r) throw new Error(`dash.js has no video representation of height ${height}`);
    p.setRepresentationForTypeById('video', r.id, true);
    return `setRepresentationForTypeById('video', '${r.id}', true)`;
  }
  if (pc.kind === 'shaka') {
    p.configure({ abr: { enabled: false } });
    const active = p.getVariantTracks().find((t) => t.active);
    const t = p.getVariantTracks().find((x) => x.height === height && (!active || x.language === active.language));
    if (!t) throw new Error(`Shaka has no variant of height ${height}`);
    p.selectVariantTrack(t, true);
    return `selectVariantTrack(${t.id}: ${t.width}x${t.height} ${t.bandwidth} b/s, clearBuffer)`;
  }
  throw new Error('no player');
};

/** Switch the audio language with each player's own API. */
pc.setLanguage = (lang) => {
  const p = pc.player;
  event(`switching audio to ${lang}`);
  if (pc.kind === 'hlsjs') {
    const i = p.audioTracks.findIndex((t) => t.lang === lang);
    if (i < 0) throw new Error(`hls.js has no audio track ${lang}`);
    p.audioTrack = i;
    return `hls.audioTrack = ${i}`;
  }
  if (pc.kind === 'dashjs') {
    const t = p.getTracksFor('audio').find((x) => x.lang === lang);
    if (!t) throw new Error(`dash.js has no audio track ${lang}`);
    p.setCurrentTrack(t);
    return `setCurrentTrack(audio ${t.id} ${t.lang})`;
  }
  if (pc.kind === 'shaka') {
    const t = p.getAudioTracks().find((x) => x.language === lang);
    if (!t) throw new Error(`Shaka has no audio track ${lang}`);
    p.selectAudioTrack(t);
    return `selectAudioTrack(${t.language})`;
  }
  throw new Error('no player');
};

pc.seek = (t) => { event(`seek to ${t}`); pc.el.currentTime = t; };

pc.versions = () => ({
  hlsjs: window.Hls && Hls.version,
  dashjs: window.dashjs && dashjs.Version,
  shaka: window.shaka && shaka.Player.version,
  userAgent: navigator.userAgent,
});
