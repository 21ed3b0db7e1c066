// Recorded segments played as one continuous video through Media Source Extensions.
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
    this.busy = false;
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
    await this.appendNext(generation);
    const piece = this.pieces[0];
    if (!piece) return false;
    this.video.currentTime = piece.start + Math.max(0, (wallMs - piece.segment.start_ms) / 1000);
    clearInterval(this.timer);
    this.timer = setInterval(() => this.feed(generation), FEED_EVERY_MS);
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
    if (this.busy || generation !== this.generation) return;
    const ahead = this.bufferedEnd() - this.video.currentTime;
    this.busy = true;
    try {
      if (ahead < AHEAD_S * Math.max(1, this.video.playbackRate)) {
        if (this.next >= this.segments.length) await this.askMore(generation);
        await this.appendNext(generation);
      } else await this.evict();
    } catch (error) {
      this.video.dispatchEvent(new CustomEvent("feederror", { detail: error }));
    } finally {
      this.busy = false;
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

  async appendNext(generation) {
    const segment = this.segments[this.next];
    if (!segment) return;
    const response = await fetch(mediaUrl(segment.url));
    if (!response.ok) throw new Error(`segment ${segment.id}: HTTP ${response.status}`);
    const data = await response.arrayBuffer();
    if (generation !== this.generation) return;
    const start = this.bufferedEnd();
    const first = firstVideoTime(data);
    if (first == null) throw new Error(`segment ${segment.id}: no video fragment in it`);
    this.buffer.timestampOffset = start - first;
    await this.update(() => this.buffer.appendBuffer(data));
    this.pieces.push({ segment, start, end: this.bufferedEnd() });
    this.next += 1;
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
