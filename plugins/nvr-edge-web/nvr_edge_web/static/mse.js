// Recorded segments played as one continuous video through Media Source Extensions.
//
// A segment is streamed into the buffer as it arrives, read no faster than it plays (a
// default segment is 180 s: tens of MB, more than a SourceBuffer holds at once).
//
// The recorder's segments are already fragmented MP4 (ftyp+moov, then moof+mdat pieces),
// which is what a SourceBuffer takes as it is, so the segment files are appended unchanged
// (GET /api/segments/<id>.mp4): no remux on the box. Each segment is placed right where
// the previous one's video ends (its timestampOffset from its first video decode time:
// each starts from the camera's own clock), so the video never waits at a boundary or in
// a hole of the recording; `pieces` maps the video's time back to the wall clock.
// Not the "sequence" mode, which would do the placing itself: it re-anchors every track
// at any jump in one of them (a camera's audio often starts with one), and the video
// then stalls.
import { mediaUrl } from "./api.js";
import { firstVideoTime } from "./fmp4.js";

const AHEAD_S = 12; // of video kept buffered ahead (times the speed)
const BEHIND_S = 30; // kept behind the playhead (frame steps back, small seeks)
const FEED_EVERY_MS = 250;
const ASK_MORE_EVERY_MS = 10000; // past the last segment known: the recording goes on
const APPEND_BYTES = 512 * 1024; // a segment is appended in pieces as it arrives
const HEAD_BYTES = 4 * 1024 * 1024; // its first video fragment is within this much

// iPhone Safari (17.1+) has only ManagedMediaSource, which wants remote playback off.
const Source = window.MediaSource || window.ManagedMediaSource;
export const canPlay = Boolean(Source);

export function mimeOf(segment) {
  const video = segment.video_codec === "hevc" || segment.video_codec === "h265"
    ? "hvc1.1.6.L120.90" : "avc1.640028";
  return `video/mp4; codecs="${video}${segment.has_audio ? ",mp4a.40.2" : ""}"`;
}

export class SegmentPlayer {
  // `more(last)`: the segments recorded after `last` (a promise of a list, maybe empty).
  constructor(video, more) {
    this.video = video;
    this.more = more;
    this.askedMore = 0;
    this.segments = [];
    this.pieces = []; // {segment, start, end}: where each appended segment lies in the video
    this.next = 0; // index in segments of the next one to append
    this.generation = 0; // bumped by open(): a late fetch of an earlier one is dropped
    this.timer = null;
    this.busy = null; // the generation whose feed is running
    video.addEventListener("waiting", () => this.skipHole());
  }

  // Plays the recording from `wallMs` (or the first segment after it); false when none.
  async open(segments, wallMs) {
    const first = segments.findIndex((s) => s.end_ms > wallMs);
    if (first < 0 || !Source) return false;
    const generation = ++this.generation;
    this.segments = segments;
    this.pieces = [];
    this.next = first;
    const source = new Source();
    this.video.disableRemotePlayback = true;
    this.video.src = URL.createObjectURL(source);
    await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
    if (generation !== this.generation) return true;
    this.source = source;
    this.buffer = source.addSourceBuffer(mimeOf(segments[first]));
    // as long as what is known: else the duration is what is appended so far, and the seek
    // into the first segment below would stop at its first piece
    source.duration = segments.slice(first).reduce((sum, s) => sum + s.end_ms - s.start_ms, 0)
      / 1000;
    clearInterval(this.timer);
    const placed = new Promise((resolve, reject) => { this.placed = { resolve, reject }; });
    this.timer = setInterval(() => this.feed(generation), FEED_EVERY_MS);
    this.feed(generation);
    const piece = await placed; // the first segment's start is in the buffer
    if (generation !== this.generation) return true;
    this.video.currentTime = piece.start + Math.max(0, (wallMs - piece.segment.start_ms) / 1000);
    return true;
  }

  close() {
    this.generation += 1;
    clearInterval(this.timer);
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
    this.pieces = [];
  }

  async feed(generation) {
    if (this.busy === generation || generation !== this.generation) return;
    const ahead = this.ahead();
    this.busy = generation; // an earlier open's feed may still be winding down
    try {
      if (ahead < AHEAD_S * Math.max(1, this.video.playbackRate)) {
        if (this.next >= this.segments.length) await this.askMore(generation);
        await this.appendNext(generation);
      } else await this.evict();
    } catch (error) {
      if (generation !== this.generation) return; // an earlier open's, cut off by this one
      if (this.placed) this.placed.reject(error);
      this.placed = null;
      this.video.dispatchEvent(new CustomEvent("feederror", { detail: error }));
    } finally {
      if (this.busy === generation) this.busy = null;
    }
  }

  async askMore(generation) {
    if (!this.more || Date.now() - this.askedMore < ASK_MORE_EVERY_MS) return;
    this.askedMore = Date.now();
    const last = this.segments[this.segments.length - 1];
    const later = (await this.more(last)).filter((s) => s.start_ms >= last.end_ms - 1000
      && s.id !== last.id);
    if (generation === this.generation && later.length) {
      this.segments = [...this.segments, ...later];
    }
  }

  // Streams the next segment in: placed where the buffer's video ends, appended in
  // pieces, waiting while enough is buffered ahead (and dropping what lies far behind).
  async appendNext(generation) {
    const segment = this.segments[this.next];
    if (!segment) return;
    this.next += 1;
    const response = await fetch(mediaUrl(segment.url));
    if (!response.ok) throw new Error(`segment ${segment.id}: HTTP ${response.status}`);
    const reader = response.body.getReader();
    const piece = { segment, start: this.bufferedEnd(), end: 0 };
    let held = [];
    let size = 0;
    let placed = false;
    for (;;) {
      const { done, value } = await reader.read();
      if (generation !== this.generation) {
        reader.cancel();
        return;
      }
      if (value) {
        held.push(value);
        size += value.length;
      }
      if (!placed) {
        const head = join(held, size);
        held = [head];
        const first = firstVideoTime(head.buffer);
        if (first == null && !done && size < HEAD_BYTES) continue;
        if (first == null) throw new Error(`segment ${segment.id}: no video fragment in it`);
        this.buffer.timestampOffset = piece.start - first;
        placed = true;
      }
      if (size >= APPEND_BYTES || (done && size)) {
        await this.update(() => this.buffer.appendBuffer(join(held, size)));
        if (generation !== this.generation) return; // opened again meanwhile: not ours now
        held = [];
        size = 0;
        piece.end = this.bufferedEnd();
        if (!this.pieces.includes(piece)) this.pieces.push(piece);
        if (this.placed) this.placed.resolve(piece);
        this.placed = null;
      }
      if (done) return;
      await this.room(generation);
    }
  }

  // Waits while more than enough is buffered ahead: the rest of the file waits in the
  // network, not in the browser's memory.
  async room(generation) {
    const enough = () => AHEAD_S * Math.max(1, this.video.playbackRate);
    while (generation === this.generation && this.ahead() > enough()) {
      await this.evict();
      await new Promise((resolve) => setTimeout(resolve, FEED_EVERY_MS));
    }
  }

  ahead() {
    return this.bufferedEnd() - this.video.currentTime;
  }

  async evict() {
    const until = this.video.currentTime - BEHIND_S;
    if (!this.buffer.buffered.length || this.buffer.buffered.start(0) >= until) return;
    await this.update(() => this.buffer.remove(0, until));
  }

  update(change) {
    return new Promise((resolve, reject) => {
      const done = () => { this.buffer.removeEventListener("error", failed); resolve(); };
      const failed = () => {
        this.buffer.removeEventListener("updateend", done);
        reject(new Error("the browser refused the segment"));
      };
      this.buffer.addEventListener("updateend", done, { once: true });
      this.buffer.addEventListener("error", failed, { once: true });
      change();
    });
  }

  bufferedEnd() {
    const ranges = this.buffer ? this.buffer.buffered : null;
    return ranges && ranges.length ? ranges.end(ranges.length - 1) : 0;
  }

  // A few ms between two appended segments' tracks (audio and video end apart): step over.
  skipHole() {
    const ranges = this.buffer ? this.buffer.buffered : null;
    const now = this.video.currentTime;
    for (let i = 0; ranges && i < ranges.length; i += 1) {
      if (ranges.start(i) > now && ranges.start(i) - now < 1) {
        this.video.currentTime = ranges.start(i);
        return;
      }
    }
  }

  // Played up to the last segment known (no endOfStream: more may be recorded meanwhile).
  atEnd() {
    return this.pieces.length > 0 && this.next >= this.segments.length
      && this.bufferedEnd() - this.video.currentTime <= 0.1;
  }

  // The wall-clock time (ms) of the picture shown, null before anything is loaded.
  wallNow() {
    const t = this.video.currentTime;
    const piece = this.pieces.find((p) => t >= p.start && t < p.end)
      || this.pieces[this.pieces.length - 1];
    if (!piece) return null;
    return piece.segment.start_ms + (Math.min(t, piece.end) - piece.start) * 1000;
  }

  // Where the wall-clock moment lies in the video, null when that part is not loaded.
  mediaAt(wallMs) {
    const piece = this.pieces.find((p) => wallMs >= p.segment.start_ms
      && wallMs < p.segment.start_ms + (p.end - p.start) * 1000);
    return piece ? piece.start + (wallMs - piece.segment.start_ms) / 1000 : null;
  }
}

function join(chunks, size) {
  if (chunks.length === 1) return chunks[0];
  const whole = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.length;
  }
  return whole;
}
