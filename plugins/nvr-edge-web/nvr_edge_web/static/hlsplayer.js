// The LL-HLS player, for viewers WebRTC does not reach: hls.js where setup-js.sh installed
// it (/static/vendor/hls.mjs), else the browser's own HLS (Safari). It plays the camera's
// multivariant playlist (camera.live.hls_abr: a variant per rung, the camera's audio as
// one audio rendition they share), so the player moves to a smaller rung when the
// network slows; the single-rendition playlist (camera.live.hls) where there is none.
// The token goes as ?token= (a player cannot set headers); the box puts it on every URI
// it lists.
import { mediaUrl } from "./api.js";
import { LiveError } from "./whep.js";

let hlsModule = null;

async function loadHls() {
  if (hlsModule === null) {
    try {
      hlsModule = (await import("/static/vendor/hls.mjs")).default;
    } catch {
      hlsModule = false; // not installed: native HLS, or nothing
    }
  }
  return hlsModule || null;
}

// Plays the camera's LL-HLS in `video`; `onFatal(reason)` when the player gives up.
export async function openHls(camera, video, onFatal) {
  const source = camera.live && (camera.live.hls_abr || camera.live.hls);
  if (!source) throw new LiveError("this camera has no LL-HLS stream");
  const Hls = await loadHls();
  let hls = null;
  const player = new HlsPlayer(video, null);
  if (Hls && Hls.isSupported()) {
    // No worker: the page's CSP allows no blob: scripts. hls.js's own catch-up only acts
    // with more than 1 s buffered, never the case this close to the edge, and each stall
    // would add 1 s to its target: the page keeps the latency itself (keepNearLiveEdge).
    // maxFragLookUpTolerance: with its default (0.25 s) and the buffer within that of the
    // playlist's end, hls.js looks up the segment at the buffered end with no tolerance;
    // Chromium reports that end 1 µs short of the segment's (90 kHz ticks truncated to µs),
    // so it finds the segment it has already loaded and loads nothing until the playlist
    // is 0.25 s further on: a stall at every segment start (seen in its debug log).
    hls = new Hls({ lowLatencyMode: true, enableWorker: false, backBufferLength: 10,
                    maxLiveSyncPlaybackRate: 1, liveSyncOnStallIncrease: 0,
                    maxFragLookUpTolerance: 0.05, ...PART_ABR,
                    abrController: partSizedAbr(Hls) });
    player.hls = hls;
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) onFatal(`LL-HLS: ${data.details}`);
    });
    // no higher than the live view's own stream: a main stream beside a sub stream is
    // listed for other players, but its bit rate is what the sub stream spares a viewer
    // (as WebRTC's ladder leaves it out)
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      const live = ((camera.live && camera.live.rungs) || []).find((r) => r.stream === "live");
      const top = live ? hls.levels.findIndex((level) => levelRung(level) === live.name) : -1;
      if (top >= 0) hls.autoLevelCapping = top;
      if (player.wanted) { // a pin asked before the levels came
        try {
          player.pin(player.wanted);
        } catch {
          // the stream lists no such rendition: hls.js chooses (wanted is cleared)
        }
      }
    });
    hls.loadSource(mediaUrl(source));
    hls.attachMedia(video);
    video.hls = hls; // for the console and the tests: hls.latency, hls.playingDate
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = mediaUrl(source);
    video.addEventListener("error", () => onFatal("LL-HLS: the browser's player failed"));
  } else {
    throw new LiveError("no HLS player in this browser");
  }
  keepNearLiveEdge(video);
  video.play().catch(() => {}); // autoplay refused: the controls-free tile stays paused
  if (hls) {
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) player.stepDown();
    });
  }
  return player;
}

// hls.js's throughput estimate, made to work on 0.1 s parts. It takes each load as at least
// 50 ms (EwmaBandWidthEstimator's minDelayMs_), so a 3 KB part of the 240p rung reads as
// 0.5 Mbit/s however fast the link: from 240p it could never afford the camera's 0.8
// Mbit/s stream again (measured: still on 240p 40 s after a throttle was lifted). 5 ms
// keeps the guard against a zero time and lets a part's real transfer show. A sample
// weighs its load time, about 5-50 ms a part here, so the half-lives (seconds of load
// time, 3 and 9 by default: minutes of parts) are cut to match: ~2 and ~6 s of play on a
// fast link, under a second on a slow one, where loads weigh more. The field is hls.js's
// own (pinned by setup-js.sh): when a version lacks it, hls.js's default stays.
const PART_ABR = { abrEwmaFastLive: 0.1, abrEwmaSlowLive: 0.3 };
const MIN_LOAD_MS = 5;

function partSizedAbr(Hls) {
  const Base = Hls.DefaultConfig.abrController;
  return class extends Base {
    initEstimator() {
      const estimator = super.initEstimator();
      if ("minDelayMs_" in estimator) estimator.minDelayMs_ = MIN_LOAD_MS;
      return estimator;
    }
  };
}

// The rung of an hls.js level: its media playlist is <rung>/index.m3u8.
function levelRung(level) {
  const url = level ? [].concat(level.uri || level.url || [])[0] || "" : "";
  const found = /\/([a-z0-9]{1,16})\/index\.m3u8/.exec(url);
  return found ? found[1] : null;
}

// hls.js's own choice is late at the live edge: its throughput estimate comes from parts,
// which arrive no faster than they are made, so a link too slow for the rung shows as a
// stall well before the estimate falls (measured: ~20 s, and the tile gave up first). A
// stall while hls.js chooses is taken as that sign: one rung down at once (hls.js still
// chooses from there, up included), then a hold, as the box's WebRTC policy does. Asked
// by hls.js's stall report and by the tile's watch (hls.js's misses stalls our catch-up
// seeks interrupt).
const STEP_HOLD_MS = 4000;

class HlsPlayer {
  constructor(video, hls) {
    Object.assign(this, { video, hls, kind: "LL-HLS", failed: false });
    this.wanted = null; // the rung the viewer pinned (null: hls.js chooses)
    this.everPlayed = false; // a frame was shown (the tile's watch says)
    this.steppedAt = -Infinity;
  }

  // No new frame for a while: one rung down while hls.js chooses (not below the lowest,
  // not within STEP_HOLD_MS of the last); true when it stepped.
  stepDown() {
    const hls = this.hls;
    if (!hls || !hls.autoLevelEnabled) return false;
    const level = hls.currentLevel; // hls.js orders its levels by bit rate, lowest first
    const now = performance.now();
    if (level <= 0 || now - this.steppedAt < STEP_HOLD_MS) return false;
    this.steppedAt = now;
    hls.nextAutoLevel = level - 1;
    return true;
  }

  // Pins hls.js to a rung's level (null: hls.js chooses again, under the live view's cap).
  // loadLevel, not nextLevel: the next part comes from the pinned rung and what is
  // buffered plays out, where nextLevel would flush it and stall the picture. Throws the
  // reason when the stream has no such rendition or the browser's own player chooses.
  pin(name) {
    const hls = this.hls;
    if (!hls) throw new Error("this browser's own player chooses the quality");
    this.wanted = name;
    if (name === null) {
      hls.loadLevel = -1;
      return;
    }
    if (!(hls.levels || []).length) return; // applied once the multivariant playlist is parsed
    const index = hls.levels.findIndex((level) => levelRung(level) === name);
    if (index < 0) {
      this.wanted = null;
      throw new Error(`the stream lists no ${name} rendition`);
    }
    hls.loadLevel = index;
  }

  // The rung hls.js plays now (its level's media playlist is <rung>/index.m3u8), with
  // the one it is loading when that differs; null where the player does not say (Safari).
  get rung() {
    if (!this.hls || this.hls.currentLevel < 0) return null;
    const name = (index) => levelRung(this.hls.levels[index]);
    const playing = name(this.hls.currentLevel);
    const next = this.hls.loadLevel >= 0 ? name(this.hls.loadLevel) : null;
    return { name: playing, switchingTo: next && next !== playing ? next : null,
             auto: this.hls.autoLevelEnabled };
  }

  // Frames shown so far and how far behind the live edge the picture is (ms).
  async sample() {
    const quality = this.video.getVideoPlaybackQuality
      ? this.video.getVideoPlaybackQuality() : null;
    const frames = quality ? quality.totalVideoFrames : Math.round(this.video.currentTime * 30);
    let behind = this.hls && Number.isFinite(this.hls.latency) ? this.hls.latency : null;
    const buffered = this.video.buffered;
    if (behind === null && buffered.length) {
      behind = buffered.end(buffered.length - 1) - this.video.currentTime;
    }
    return { frames, latencyMs: behind === null ? null : Math.round(behind * 1000) };
  }

  close() {
    if (this.hls) this.hls.destroy();
    this.video.removeAttribute("src");
    this.video.load();
  }
}

// LL-HLS delivers a part (~100 ms) at a time, each as soon as it is complete, so the
// newest buffered frame is the live edge. Playing BEHIND_S under it leaves room for one
// late part; further behind, play faster (unnoticeable at 1.15x), and from a long way
// behind (a start on an old keyframe, a stall), jump.
const BEHIND_S = 0.2;
const FASTER_FROM_S = 0.25;
const JUMP_FROM_S = 1.0;

function keepNearLiveEdge(video) {
  video.addEventListener("timeupdate", () => {
    const buffered = video.buffered;
    if (!buffered.length || video.paused || video.seeking) return;
    const edge = buffered.end(buffered.length - 1);
    const behind = edge - video.currentTime;
    if (behind > JUMP_FROM_S) {
      video.currentTime = edge - BEHIND_S;
    } else if (behind > FASTER_FROM_S) {
      video.playbackRate = 1.15;
    } else if (behind <= BEHIND_S) {
      video.playbackRate = 1;
    }
  });
}
