// The harness's own check of what is served (docs/players.md, "The served
// media agrees with its manifests"): before any player runs, every segment
// of a title is fetched and its fragmented-MP4 boxes are read, and what the
// manifests say about it must be what it holds:
//   - HLS: each #EXTINF equals the segment's media duration (the sum of its
//     trun sample durations over the track's mdhd timescale), segments
//     follow each other without gap or overlap (tfdt), and the variant's
//     CODECS name the codec in each init segment's sample entry;
//   - DASH: each SegmentTimeline S@t/S@d equals the segment's earliest
//     presentation time (tfdt plus the smallest composition offset) and
//     duration, and @codecs names the init segment's codec;
//   - every init and media segment answers 200 and is whole: its boxes fit
//     the body, and the trun's samples fit the mdat.
// Players forgive some of this (hls.js corrects durations from the media,
// ffmpeg ignores codec strings) or fail far from the cause ("ended at 42 s",
// "channel element 1.0 is not allocated"); this check names the segment,
// the manifest line and both values.
//
// Pure Node (fetch, Buffer); no player.  Used by common.mjs
// (originWithSamples) for every test of the players suite.

const MAX_SHOWN = 6;      // problems shown per manifest, then "and N more"
const HLS_SLACK = 0.001;  // s: #EXTINF is printed with up to 6 decimals

// ------------------------------------------------------------ ISO BMFF

/** The boxes in buf[off, end): {type, start, body, end}; a box whose size
 *  runs past @end is returned with cut: true (a truncated body). */
function boxes(buf, off, end) {
  const out = [];
  while (off + 8 <= end) {
    let size = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    let hdr = 8;
    if (size === 1) {
      if (off + 16 > end) { out.push({ type, start: off, body: off + 16, end, cut: true, size: NaN }); break; }
      size = Number(buf.readBigUInt64BE(off + 8));
      hdr = 16;
    } else if (size === 0) {
      size = end - off;
    }
    if (size < hdr) throw new Error(`box '${type}' at byte ${off} has size ${size}`);
    if (off + size > end) { out.push({ type, start: off, body: off + hdr, end, cut: true, size }); break; }
    out.push({ type, start: off, body: off + hdr, end: off + size, cut: false, size });
    off += size;
  }
  return out;
}

function child(buf, box, type, skip = 0) {
  return boxes(buf, box.body + skip, box.end).find((b) => b.type === type);
}

function path(buf, box, types) {
  let b = box;
  for (const t of types) {
    if (!b) return undefined;
    b = child(buf, b, t);
  }
  return b;
}

const hex2 = (n) => n.toString(16).padStart(2, '0');

/** What an init segment says: timescale, sample entry, codec string (exact
 *  for AVC, the sample entry type otherwise), trex defaults. */
export function parseInit(buf) {
  const top = { body: 0, end: buf.length };
  const moov = child(buf, top, 'moov');
  if (!moov) throw new Error('no moov box');
  if (moov.cut) throw new Error(`the moov box needs ${moov.size} bytes, the body has ${buf.length - moov.start}`);
  const trak = child(buf, moov, 'trak');
  const mdhd = path(buf, trak, ['mdia', 'mdhd']);
  if (!mdhd) throw new Error('no moov/trak/mdia/mdhd');
  const v = buf[mdhd.body];
  const timescale = buf.readUInt32BE(mdhd.body + (v === 1 ? 20 : 12));
  const stsd = path(buf, trak, ['mdia', 'minf', 'stbl', 'stsd']);
  if (!stsd) throw new Error('no stsd');
  const entry = boxes(buf, stsd.body + 8, stsd.end)[0];
  if (!entry) throw new Error('an empty stsd');
  let codec = entry.type;
  if (/^avc[13]$/.test(entry.type)) {
    // VisualSampleEntry: 78 bytes before its child boxes; avcC's bytes 1-3
    // are profile, constraint flags and level (RFC 6381 3.3).
    const avcc = child(buf, entry, 'avcC', 78);
    if (avcc) codec = `${entry.type}.${hex2(buf[avcc.body + 1])}${hex2(buf[avcc.body + 2])}${hex2(buf[avcc.body + 3])}`;
  }
  const trex = path(buf, moov, ['mvex', 'trex']);
  return {
    timescale, entry: entry.type, codec,
    defaultDuration: trex ? buf.readUInt32BE(trex.body + 12) : 0,
    defaultSize: trex ? buf.readUInt32BE(trex.body + 16) : 0,
  };
}

/** What a media segment holds: the first tfdt (t: decode time), its
 *  earliest presentation time (ept: t plus the smallest composition
 *  offset, which is what a DASH S@t is), the summed sample durations; and
 *  it throws unless every sample's bytes are in the body. */
export function parseSegment(buf, init) {
  const top = boxes(buf, 0, buf.length);
  const cut = top.find((b) => b.cut);
  if (cut) throw new Error(`cut short: its '${cut.type}' box declares ${cut.size} bytes, the body has ${buf.length - cut.start} of them`);
  let t = null;
  let duration = 0;
  let samples = 0;
  let earliest = null;        // the smallest composition time, from tfdt
  for (const moof of top.filter((b) => b.type === 'moof')) {
    for (const traf of boxes(buf, moof.body, moof.end).filter((b) => b.type === 'traf')) {
      const tfhd = child(buf, traf, 'tfhd');
      if (!tfhd) throw new Error('a traf without tfhd');
      const hf = buf.readUInt32BE(tfhd.body) & 0xffffff;
      let p = tfhd.body + 8;
      let base = moof.start;                       // default-base-is-moof
      if (hf & 0x1) { base = Number(buf.readBigUInt64BE(p)); p += 8; }
      if (hf & 0x2) p += 4;
      let dDur = init.defaultDuration;
      let dSize = init.defaultSize;
      if (hf & 0x8) { dDur = buf.readUInt32BE(p); p += 4; }
      if (hf & 0x10) { dSize = buf.readUInt32BE(p); p += 4; }
      const tfdt = child(buf, traf, 'tfdt');
      if (tfdt && t === null) {
        t = buf[tfdt.body] === 1 ? Number(buf.readBigUInt64BE(tfdt.body + 4)) : buf.readUInt32BE(tfdt.body + 4);
      }
      for (const trun of boxes(buf, traf.body, traf.end).filter((b) => b.type === 'trun')) {
        const f = buf.readUInt32BE(trun.body) & 0xffffff;
        const n = buf.readUInt32BE(trun.body + 4);
        let q = trun.body + 8;
        let dataOffset = 0;
        if (f & 0x1) { dataOffset = buf.readInt32BE(q); q += 4; }
        if (f & 0x4) q += 4;
        const signed = buf[trun.body] >= 1;   // trun version 1: signed offsets
        let bytes = 0;
        for (let i = 0; i < n; i++) {
          const dts = duration;
          if (f & 0x100) { duration += buf.readUInt32BE(q); q += 4; } else duration += dDur;
          if (f & 0x200) { bytes += buf.readUInt32BE(q); q += 4; } else bytes += dSize;
          if (f & 0x400) q += 4;
          let cto = 0;
          if (f & 0x800) { cto = signed ? buf.readInt32BE(q) : buf.readUInt32BE(q); q += 4; }
          if (earliest === null || dts + cto < earliest) earliest = dts + cto;
        }
        samples += n;
        if (base + dataOffset + bytes > buf.length) {
          throw new Error(`cut short: its trun's ${n} samples need bytes up to ${base + dataOffset + bytes}, the body has ${buf.length}`);
        }
      }
    }
  }
  if (t === null) throw new Error('no moof/traf/tfdt');
  return { t, ept: t + (earliest || 0), duration, samples };
}

// ---------------------------------------------------------------- fetching

/** GET every URL once (HLS and DASH name the same segments). */
class Fetcher {
  constructor() { this.cache = new Map(); }
  get(url) {
    if (!this.cache.has(url)) {
      this.cache.set(url, fetch(url).then(async (r) => ({ status: r.status, body: Buffer.from(await r.arrayBuffer()) }))
        .catch((e) => ({ status: 0, error: `${e.message}${e.cause ? ' (' + e.cause.message + ')' : ''}` })));
    }
    return this.cache.get(url);
  }
  async init(url) {
    const r = await this.get(url);
    if (r.status !== 200) throw new Error(`GET ${url}: ${r.status ? 'HTTP ' + r.status : r.error}`);
    if (!r.parsed) {
      try { r.parsed = parseInit(r.body); } catch (e) { throw new Error(`init segment ${url}: ${e.message}`); }
    }
    return r.parsed;
  }
  async segment(url, init) {
    const r = await this.get(url);
    if (r.status !== 200) throw new Error(`GET ${url}: ${r.status ? 'HTTP ' + r.status : r.error}`);
    try { return parseSegment(r.body, init); } catch (e) { throw new Error(`${url}: ${e.message}`); }
  }
}

/** Whether the codec string @s names the codec of @init. */
function codecMatches(s, init) {
  s = s.trim();
  if (/^avc[13]$/.test(init.entry)) return s.toLowerCase() === init.codec.toLowerCase();
  const fourcc = { Opus: 'opus', fLaC: 'flac', 'ac-3': 'ac-3', 'ec-3': 'ec-3' }[init.entry] || init.entry;
  return s.split('.')[0].toLowerCase() === fourcc.toLowerCase();
}

const secs = (ticks, ts) => (ticks / ts).toFixed(6).replace(/0{1,3}$/, '');

// ---------------------------------------------------------------- HLS

function attrs(line) {
  const out = {};
  for (const m of line.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) out[m[1]] = m[2].replace(/^"|"$/g, '');
  return out;
}

async function fetchText(url) {
  const r = await fetch(url);
  const text = await r.text();
  if (r.status !== 200) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return text;
}

/** The problems of one HLS media playlist: #EXTINF against each segment. */
async function hlsPlaylist(f, url, problems) {
  const text = await fetchText(url);
  const name = url.split('/').pop();
  let init = null;
  let extinf = null;
  let n = 0;
  let prevEnd = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-MAP:')) {
      const u = new URL(attrs(line.slice(11)).URI, url).href;
      init = await f.init(u).catch((e) => { problems.push(`${name}: ${e.message}`); return null; });
    } else if (line.startsWith('#EXTINF:')) {
      extinf = line.slice(8).split(',')[0];
    } else if (line && !line.startsWith('#')) {
      n++;
      const u = new URL(line, url).href;
      if (!init) { problems.push(`${name} segment ${n} (${u}): no usable #EXT-X-MAP init segment before it`); continue; }
      let s;
      try { s = await f.segment(u, init); } catch (e) { problems.push(`${name} segment ${n}: ${e.message}`); prevEnd = null; continue; }
      const real = s.duration / init.timescale;
      if (!(Math.abs(Number(extinf) - real) <= HLS_SLACK)) {
        problems.push(`${name} segment ${n} (${u}): #EXTINF:${extinf}, but the segment holds ` +
          `${secs(s.duration, init.timescale)} s of media (${s.samples} samples, trun durations at timescale ${init.timescale})`);
      }
      if (prevEnd !== null && s.t !== prevEnd) {
        problems.push(`${name} segment ${n} (${u}): starts at ${secs(s.t, init.timescale)} s (tfdt), but the segment before it ends at ${secs(prevEnd, init.timescale)} s`);
      }
      prevEnd = s.t + s.duration;
    }
  }
  return { init, segments: n };
}

async function checkHls(f, url, problems) {
  const master = await fetchText(url);
  const renditions = {};      // GROUP-ID -> [uri]
  const lines = master.split('\n').map((l) => l.trim());
  for (const l of lines) {
    if (l.startsWith('#EXT-X-MEDIA:')) {
      const a = attrs(l.slice(13));
      if (a.URI) (renditions[a['GROUP-ID']] ||= []).push(a.URI);
    }
  }
  const playlists = new Map();   // uri -> {init, segments}
  const playlist = async (u) => {
    if (!playlists.has(u)) playlists.set(u, await hlsPlaylist(f, new URL(u, url).href, problems).catch((e) => { problems.push(e.message); return { init: null, segments: 0 }; }));
    return playlists.get(u);
  };
  let variants = 0;
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('#EXT-X-STREAM-INF:')) continue;
    variants++;
    const a = attrs(lines[i].slice(18));
    const codecs = (a.CODECS || '').split(',').filter(Boolean);
    const uri = lines[i + 1];
    const inits = [[uri, (await playlist(uri)).init]];
    for (const g of ['AUDIO', 'SUBTITLES']) {
      for (const r of (a[g] && renditions[a[g]]) || []) inits.push([r, (await playlist(r)).init]);
    }
    for (const [u, init] of inits) {
      if (init && !codecs.some((c) => codecMatches(c, init))) {
        problems.push(`master.m3u8 variant ${uri}: CODECS="${codecs.join(',')}" does not name the codec of ${u}'s init segment, ` +
          `which holds ${init.entry}${init.codec !== init.entry ? ' (' + init.codec + ')' : ''}`);
      }
    }
  }
  for (const group of Object.values(renditions)) for (const r of group) await playlist(r);
  const segments = [...playlists.values()].reduce((a, p) => a + p.segments, 0);
  return `${variants} variants, ${playlists.size} playlists, ${segments} segments`;
}

// ---------------------------------------------------------------- DASH

/** A tiny element tree of the MPD (enough for what pagecast writes). */
function xmlTree(text) {
  const root = { name: '#root', attrs: {}, children: [] };
  const stack = [root];
  for (const m of text.matchAll(/<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>/g)) {
    if (m[1]) { if (stack.length > 1) stack.pop(); continue; }
    const el = { name: m[2], attrs: {}, children: [] };
    for (const a of m[3].matchAll(/([\w:.-]+)\s*=\s*"([^"]*)"/g)) el.attrs[a[1]] = a[2].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    stack[stack.length - 1].children.push(el);
    if (!m[4]) stack.push(el);
  }
  return root;
}
const kids = (el, name) => el.children.filter((c) => c.name === name);

async function checkDash(f, url, problems) {
  const root = xmlTree(await fetchText(url));
  const mpd = kids(root, 'MPD')[0];
  if (!mpd) throw new Error(`${url}: no MPD element`);
  let reps = 0;
  let segments = 0;
  for (const period of kids(mpd, 'Period')) {
    for (const set of kids(period, 'AdaptationSet')) {
      for (const rep of kids(set, 'Representation')) {
        reps++;
        const tpl = kids(rep, 'SegmentTemplate')[0] || kids(set, 'SegmentTemplate')[0];
        if (!tpl) { problems.push(`manifest.mpd Representation ${rep.attrs.id}: no SegmentTemplate`); continue; }
        const fill = (s, number) => s.replace(/\$RepresentationID\$/g, rep.attrs.id).replace(/\$Number\$/g, String(number));
        const where = `manifest.mpd Representation ${rep.attrs.id}`;
        let init;
        try { init = await f.init(new URL(fill(tpl.attrs.initialization, 0), url).href); } catch (e) { problems.push(`${where}: ${e.message}`); continue; }
        const codecs = rep.attrs.codecs || set.attrs.codecs || '';
        if (!codecMatches(codecs, init)) {
          problems.push(`${where}: codecs="${codecs}", but its init segment holds ${init.entry}${init.codec !== init.entry ? ' (' + init.codec + ')' : ''}`);
        }
        const ts = Number(tpl.attrs.timescale || 1);
        const timeline = kids(tpl, 'SegmentTimeline')[0];
        if (!timeline) { problems.push(`${where}: no SegmentTimeline`); continue; }
        let t = 0;
        let number = Number(tpl.attrs.startNumber || 1);
        for (const s of kids(timeline, 'S')) {
          if (s.attrs.t !== undefined) t = Number(s.attrs.t);
          const d = Number(s.attrs.d);
          for (let k = 0; k <= Number(s.attrs.r || 0); k++, number++, t += d) {
            segments++;
            const u = new URL(fill(tpl.attrs.media, number), url).href;
            let seg;
            try { seg = await f.segment(u, init); } catch (e) { problems.push(`${where} segment ${number}: ${e.message}`); continue; }
            // the MPD's timescale may differ from the track's: compare times
            const tHere = (x) => x * init.timescale / ts;
            if (Math.abs(tHere(t) - seg.ept) > 1 || Math.abs(tHere(d) - seg.duration) > 1) {
              problems.push(`${where} segment ${number} (${u}): the SegmentTimeline says t=${t} d=${d} ` +
                `(${secs(t, ts)} s + ${secs(d, ts)} s at timescale ${ts}), but the segment holds ${secs(seg.ept, init.timescale)} s + ` +
                `${secs(seg.duration, init.timescale)} s (earliest presentation time ${seg.ept}, trun durations ${seg.duration} at timescale ${init.timescale})`);
            }
          }
        }
      }
    }
  }
  return `${reps} representations, ${segments} segments`;
}

// ---------------------------------------------------------------- the check

/**
 * Check @title (from describeTitle: .title, .hls, .dash) and record one
 * line per manifest in @report.  Never throws.
 */
export async function checkServed(report, title) {
  const f = new Fetcher();
  for (const [kind, url, name, check] of [
    ['hls', title.hls, 'master.m3u8', checkHls],
    ['dash', title.dash, 'manifest.mpd', checkDash],
  ]) {
    const what = `served ${title.title} ${name}: the segments agree with it`;
    const problems = [];
    let summary = '';
    try { summary = await check(f, url, problems); } catch (e) { problems.push(e.message); }
    if (!problems.length) {
      report.pass(what, `${summary}: ${kind === 'hls' ? '#EXTINF, CODECS' : 'SegmentTimeline t/d, codecs'}, whole segments`);
    } else {
      const shown = problems.slice(0, MAX_SHOWN);
      if (problems.length > MAX_SHOWN) shown.push(`… and ${problems.length - MAX_SHOWN} more`);
      report.fail(what, `${problems.length} problem(s):\n    ${shown.join('\n    ')}`);
    }
  }
}
