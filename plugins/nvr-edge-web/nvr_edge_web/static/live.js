// A tile's live picture: WebRTC by WHEP (whep.js), LL-HLS (hlsplayer.js) where WebRTC is
// not available, and a watch that keeps it going: a picture that stops (the camera went
// away, the network dropped, the session ended) shows "reconnecting" over the last frame,
// and a new session is asked for with a growing pause until one plays again.
//
// `camera` is the entry from GET /api/cameras: {id, name, state, allowed, live: {whep, hls,
// mode, streaming, outputs, rungs}}. `/?live=hls` skips WebRTC (a network that blocks its
// UDP, or comparing the two).
import { openHls } from "./hlsplayer.js";
import { openWhep } from "./whep.js";

const WATCH_MS = 1000;
const STALL_SAY_S = 3;      // no new frame for this long: the tile says so
const STALL_RESTART_S = 6;  // ... and this long: the session is given up, a new one asked
const STALL_STEP_S = 2;     // LL-HLS: this long, a rung down first (its wait starts again)
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const FORCED_HLS = new URLSearchParams(window.location.search).get("live") === "hls";
const open = new Set(); // the tiles playing now: their sessions end when the page goes

window.addEventListener("pagehide", () => {
  for (const tile of open) tile.stop();
});

export class LiveTile {
  // `box` is the tile's `.live` element; `onChange(tile)` after anything shown changed.
  constructor(box, camera, onChange = () => {}) {
    Object.assign(this, { box, camera, onChange });
    this.player = null;
    this.running = false;
    this.connecting = false;           // an attempt is under way
    this.attempt = 0;                  // failed tries since the last picture
    this.timer = null;                 // the next try, or the watch
    this.pinned = null;                // the rung the viewer chose (null: automatic)
    this.server = null;                // this session's entry in /api/status
    this.cameraStatus = { state: camera.state, reason: camera.reason };
    this.hlsBecause = FORCED_HLS ? "LL-HLS chosen by ?live=hls" : refusedWhep(camera);
    this.state = "idle";               // connecting, playing, stalled, reconnecting, off
    this.message = "";
    this.latencyMs = null;
    this.overlay = document.createElement("p");
    this.overlay.className = "live-overlay";
    this.overlay.setAttribute("role", "status");
  }

  get kind() {
    return this.player ? this.player.kind : this.hlsBecause ? "LL-HLS" : "WebRTC";
  }

  get video() {
    return this.player ? this.player.video : null;
  }

  start() {
    if (this.running) return;
    this.running = true;
    open.add(this);
    this.connect();
  }

  stop() {
    this.running = false;
    open.delete(this);
    this.drop();
    this.say("idle", "paused while not shown");
  }

  // The camera's entry in /api/status: its state, and the WebRTC sessions open on it.
  setStatus(status) {
    const back = status.state === "online" && this.cameraStatus.state !== "online";
    this.cameraStatus = status;
    if (back && this.running && !this.player) this.connect(); // not at the backoff's end
    const serial = this.player && this.player.serial;
    this.server = (status.webrtc || []).find((s) => serial !== null && s.session === serial)
      || null;
    this.onChange(this);
  }

  // Pins a rung (null: automatic); resolves to the WebRTC session's status ({} over
  // LL-HLS, where hls.js switches level), or throws the reason.
  async pin(rung) {
    if (!this.player) throw new Error("no live picture to choose the quality of");
    if (this.player.kind === "WebRTC") this.server = await this.player.pin(rung || null);
    else this.player.pin(rung || null);
    this.pinned = rung || null; // kept for the next session (after a reconnect)
    this.onChange(this);
    return this.server || {};
  }

  async connect() {
    if (this.connecting) return; // one attempt at a time: a single player per tile
    this.connecting = true;
    try {
      await this.attemptOnce();
    } finally {
      this.connecting = false;
    }
  }

  async attemptOnce() {
    clearTimeout(this.timer);
    if (!this.running) return;
    const off = offReason(this.camera);
    if (off) {
      this.say("off", off);
      return;
    }
    this.say(this.attempt ? "reconnecting" : "connecting",
      this.attempt ? `reconnecting (try ${this.attempt + 1})` : `connecting (${this.kind})`);
    const video = document.createElement("video");
    Object.assign(video, { autoplay: true, muted: true, playsInline: true });
    video.setAttribute("aria-label", `${this.camera.name || this.camera.id} live`);
    let player;
    try {
      player = this.hlsBecause
        ? await openHls(this.camera, video, (reason) => this.lost(reason))
        : await openWhep(this.camera, video);
    } catch (error) {
      setTimeout(() => this.failed(error)); // after this attempt has ended
      return;
    }
    if (!this.running) {
      player.close();
      return;
    }
    if (this.hlsBecause) video.title = `WebRTC: ${this.hlsBecause}; playing LL-HLS`;
    this.player = player;
    this.box.replaceChildren(video, this.overlay);
    if (player.kind === "WebRTC") {
      // learns the session's name in /api/status, and keeps the viewer's choice
      (this.pinned ? player.pin(this.pinned) : player.state())
        .then((status) => { this.server = status; })
        .catch(() => { this.pinned = null; });
    } else if (this.pinned) {
      try {
        player.pin(this.pinned);
      } catch {
        this.pinned = null; // the new stream lists no such rendition: hls.js chooses
      }
    }
    this.watch(player);
  }

  failed(error) {
    if (error.status === 401 || error.status === 403) {
      this.say("off", `live view refused: ${error.message}`);
    } else if (!error.retry && !this.hlsBecause) {
      this.hlsBecause = error.message; // WebRTC is no use here: LL-HLS at once
      this.connect();
    } else {
      this.retryLater(error.message);
    }
  }

  retryLater(reason) {
    const wait = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.say("reconnecting", `reconnecting in ${wait / 1000} s: ${reason}${this.why()}`);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  // The camera's own state when it is not online: why there is no picture.
  why() {
    const { state, reason } = this.cameraStatus || {};
    if (!state || state === "online") return "";
    return ` (camera ${state}${reason ? `: ${reason}` : ""})`;
  }

  lost(reason) {
    if (!this.running) return;
    const player = this.player;
    // a WebRTC session that never connected: its UDP is blocked here, LL-HLS may pass
    if (player && player.kind === "WebRTC" && !player.everPlayed
        && player.pc.connectionState !== "connected") {
      this.hlsBecause = `the WebRTC connection failed (${reason})`;
    }
    this.drop();
    this.retryLater(reason);
  }

  drop() {
    clearTimeout(this.timer);
    clearInterval(this.timer);
    if (this.player) this.player.close(true);
    this.player = null;
    this.server = null;
    this.latencyMs = null;
  }

  watch(player) {
    let frames = 0;
    let lastFrameAt = performance.now();
    const tick = async () => {
      if (player !== this.player) return;
      let sample;
      try {
        sample = await player.sample();
      } catch {
        sample = { frames, latencyMs: null };
      }
      if (player !== this.player) return;
      const now = performance.now();
      if (sample.frames > frames) {
        frames = sample.frames;
        lastFrameAt = now;
        player.everPlayed = true;
        this.attempt = 0;
        this.latencyMs = sample.latencyMs;
        if (this.state !== "playing") this.say("playing", "");
      }
      let still = (now - lastFrameAt) / 1000;
      if (still > STALL_STEP_S && player.stepDown && player.stepDown()) {
        lastFrameAt = now; // the smaller rung gets the whole wait before the give-up
        still = 0;
      }
      if (player.failed) {
        this.lost("the WebRTC connection ended");
      } else if (still > STALL_RESTART_S) {
        this.lost(`no picture for ${Math.round(still)} s`);
      } else if (still > STALL_SAY_S && player.everPlayed) {
        this.latencyMs = null;
        this.say("stalled", `reconnecting: no picture for ${Math.round(still)} s${this.why()}`);
      } else {
        this.onChange(this);
      }
    };
    this.timer = setInterval(tick, WATCH_MS);
  }

  say(state, message) {
    this.state = state;
    this.message = message;
    this.box.dataset.live = state;
    this.overlay.textContent = message;
    this.overlay.hidden = !message;
    if (!this.player) this.box.replaceChildren(this.overlay);
    this.onChange(this);
  }
}

// A camera whose live view cannot be had at all: the reason, else "".
function offReason(camera) {
  if (camera.live && camera.live.mode === "off") {
    return "live view is off for this camera (cameras[].live)";
  }
  const hls = outputRefusal(camera, "hls");
  if (refusedWhep(camera) && hls) return `live view unavailable: ${hls}`;
  return "";
}

// An output that cannot carry the camera's stream (its codec) says so: not tried.
function outputRefusal(camera, name) {
  const output = ((camera.live && camera.live.outputs) || {})[name];
  return output && output.available === false ? output.reason : "";
}

function refusedWhep(camera) {
  if (!window.RTCPeerConnection) return "this browser has no WebRTC";
  if (!receivesH264()) return "this browser's WebRTC has no H.264 (yet)";
  return outputRefusal(camera, "whep");
}

// The box sends H.264 as the camera made it. Firefox offers it only once its OpenH264
// plugin has arrived (or with a hardware decoder): asked up front, LL-HLS at once instead
// of a WHEP offer the box must refuse.
function receivesH264() {
  const capabilities = window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities
    && RTCRtpReceiver.getCapabilities("video");
  if (!capabilities) return true; // cannot tell: the offer decides
  return capabilities.codecs.some((codec) => codec.mimeType.toLowerCase() === "video/h264");
}

// LL-HLS in `box` without a watch: the fallback alone (its test, and the console).
export async function fallbackToHls(box, camera, reason) {
  const video = document.createElement("video");
  Object.assign(video, { autoplay: true, muted: true, playsInline: true });
  video.title = `WebRTC: ${reason}; playing LL-HLS`;
  const show = (text) => {
    const message = document.createElement("p");
    message.className = "live-placeholder";
    message.textContent = `live view unavailable: ${reason}; ${text}`;
    box.replaceChildren(message);
  };
  try {
    await openHls(camera, video, show);
    box.replaceChildren(video);
  } catch (error) {
    show(error.message);
  }
}
