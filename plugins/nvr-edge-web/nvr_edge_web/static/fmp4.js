// The first decode time (seconds) of a fragmented MP4's video track: the `tfdt` of its
// first `moof` over the `mdhd` timescale of the `trak` whose handler is `vide`. What the
// playback buffer needs to place a segment (each starts from the camera's own clock).
function* boxes(view, start, end) {
  let at = start;
  while (at + 8 <= end) {
    let size = view.getUint32(at);
    const type = String.fromCharCode(...new Uint8Array(view.buffer, view.byteOffset + at + 4, 4));
    let header = 8;
    if (size === 1) {
      size = Number(view.getBigUint64(at + 8));
      header = 16;
    } else if (size === 0) size = end - at;
    if (size < header || at + size > end) return;
    yield { type, body: at + header, end: at + size };
    at += size;
  }
}

function child(view, box, type) {
  for (const found of boxes(view, box.body, box.end)) if (found.type === type) return found;
  return null;
}

// track id -> timescale, for the video tracks of the moov
function videoTracks(view, moov) {
  const tracks = new Map();
  for (const trak of boxes(view, moov.body, moov.end)) {
    if (trak.type !== "trak") continue;
    const tkhd = child(view, trak, "tkhd");
    const mdia = child(view, trak, "mdia");
    const mdhd = mdia && child(view, mdia, "mdhd");
    const hdlr = mdia && child(view, mdia, "hdlr");
    if (!tkhd || !mdhd || !hdlr) continue;
    const handler = view.getUint32(hdlr.body + 8);
    if (handler !== 0x76696465) continue; // "vide"
    const id = view.getUint32(tkhd.body + (view.getUint8(tkhd.body) === 1 ? 20 : 12));
    tracks.set(id, view.getUint32(mdhd.body + (view.getUint8(mdhd.body) === 1 ? 20 : 12)));
  }
  return tracks;
}

// null for a file with no video fragment, or one cut short or malformed.
export function firstVideoTime(data) {
  try {
    return scan(new DataView(data));
  } catch (error) {
    if (error instanceof RangeError) return null; // a box that claims more than the file has
    throw error;
  }
}

function scan(view) {
  let tracks = null;
  for (const box of boxes(view, 0, view.byteLength)) {
    if (box.type === "moov") tracks = videoTracks(view, box);
    if (box.type !== "moof" || !tracks) continue;
    for (const traf of boxes(view, box.body, box.end)) {
      const tfhd = traf.type === "traf" && child(view, traf, "tfhd");
      const tfdt = tfhd && child(view, traf, "tfdt");
      const scale = tfhd && tracks.get(view.getUint32(tfhd.body + 4));
      if (!tfdt || !scale) continue;
      const time = view.getUint8(tfdt.body) === 1
        ? Number(view.getBigUint64(tfdt.body + 4)) : view.getUint32(tfdt.body + 4);
      return time / scale;
    }
  }
  return null;
}
