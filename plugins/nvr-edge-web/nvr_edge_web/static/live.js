// Live view: WebRTC negotiated by WHEP (POST the offer, get the answer and a session URL;
// DELETE that URL to stop). The appliance sends the camera's H.264 as it is: no audio.
//
// `tile` is the camera's `.live` element; `camera` is the entry from GET /api/cameras:
// {id, name, state, allowed, live: {whep, hls, mode, streaming, outputs}}. The app calls startLive once per camera
// whose token allows "view". `/?live=hls` skips WebRTC (a network that blocks its UDP,
// or comparing the two).
import { bearer, mediaUrl } from "./api.js";

const RETRY_MS = 3000; // the camera has no stream yet (503): ask again
const FORCED_HLS = new URLSearchParams(window.location.search).get("live") === "hls";

export function startLive(tile, camera) {
  if (camera.live && camera.live.mode === "off") {
    show(tile, "live view is off for this camera (cameras[].live)");
    return;
  }
  // An output that cannot carry the camera's stream (its codec) says so: not tried.
  const outputs = (camera.live && camera.live.outputs) || {};
  const refused = (name) => (outputs[name] && outputs[name].available === false
    ? outputs[name].reason : null);
  if (refused("whep") && refused("hls")) {
    show(tile, `live view unavailable: ${refused("hls")}`);
    return;
  }
  if (FORCED_HLS || refused("whep")) {
    fallbackToHls(tile, camera, refused("whep") || "LL-HLS chosen by ?live=hls");
    return;
  }
  play(tile, camera).catch((error) => fallbackToHls(tile, camera, error.message));
}

async function play(tile, camera) {
  const pc = new RTCPeerConnection(); // no ICE server: the box offers its LAN addresses
  const transceiver = pc.addTransceiver("video", { direction: "recvonly" });
  preferH264(transceiver); // the box can only pass H.264 through
  const video = document.createElement("video");
  Object.assign(video, { autoplay: true, muted: true, playsInline: true });
  pc.ontrack = (event) => {
    video.srcObject = event.streams[0] || new MediaStream([event.track]);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringDone(pc);
  const response = await fetch(camera.live.whep, {
    method: "POST",
    headers: { ...bearer(), "Content-Type": "application/sdp" },
    body: pc.localDescription.sdp,
  });
  if (!response.ok) {
    pc.close();
    const reason = await errorOf(response);
    if (response.status === 503) {
      show(tile, `live view: ${reason}`);
      setTimeout(() => startLive(tile, camera), RETRY_MS);
      return;
    }
    throw new Error(reason);
  }
  const session = response.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  tile.replaceChildren(video);
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "failed") {
      pc.close();
      fallbackToHls(tile, camera, "the WebRTC connection failed");
    }
  };
  // Tell the box when the page goes away, so the session ends at once.
  window.addEventListener("pagehide", () => {
    if (session) fetch(session, { method: "DELETE", headers: bearer(), keepalive: true });
    pc.close();
  });
}

function preferH264(transceiver) {
  const codecs = (RTCRtpReceiver.getCapabilities("video") || { codecs: [] }).codecs;
  const h264 = codecs.filter((c) => /^video\/(h264|rtx)$/i.test(c.mimeType));
  if (h264.length && transceiver.setCodecPreferences) transceiver.setCodecPreferences(h264);
}

// WHEP without trickle: the offer carries every candidate.
function gatheringDone(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 2000); // a host without a usable interface: send what we have
  });
}

async function errorOf(response) {
  try {
    return (await response.json()).error || response.statusText;
  } catch {
    return response.statusText || `HTTP ${response.status}`;
  }
}

function show(tile, text) {
  const message = document.createElement("p");
  message.className = "live-placeholder";
  message.textContent = text;
  tile.replaceChildren(message);
}

// When WebRTC does not work: LL-HLS (camera.live.hls), with hls.js where setup-js.sh
// installed it (/static/vendor/hls.mjs), else the browser's own HLS (Safari). The token
// goes as ?token= (a player cannot set headers); the box puts it on every URI it lists.
export async function fallbackToHls(tile, camera, reason) {
  const source = camera.live && camera.live.hls;
  if (!source) {
    show(tile, `live view unavailable: ${reason}`);
    return;
  }
  const video = document.createElement("video");
  Object.assign(video, { autoplay: true, muted: true, playsInline: true });
  video.title = `WebRTC: ${reason}; playing LL-HLS`;
  let Hls = null;
  try {
    Hls = (await import("/static/vendor/hls.mjs")).default;
  } catch {
    Hls = null; // not installed: native HLS, or nothing
  }
  if (Hls && Hls.isSupported()) {
    // No worker: the page's CSP allows no blob: scripts. hls.js's own catch-up only acts
    // with more than 1 s buffered, never the case this close to the edge, and each stall
    // would add 1 s to its target: the page keeps the latency itself (keepNearLiveEdge).
    const hls = new Hls({ lowLatencyMode: true, enableWorker: false, backBufferLength: 10,
                          maxLiveSyncPlaybackRate: 1, liveSyncOnStallIncrease: 0 });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) {
        hls.destroy();
        show(tile, `live view unavailable: ${reason}; LL-HLS: ${data.details}`);
      }
    });
    hls.loadSource(mediaUrl(source));
    hls.attachMedia(video);
    keepNearLiveEdge(video);
    video.hls = hls; // for the console and the tests: hls.latency, hls.playingDate
    window.addEventListener("pagehide", () => hls.destroy());
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = mediaUrl(source);
  } else {
    show(tile, `live view unavailable: ${reason} (no HLS player in this browser)`);
    return;
  }
  tile.replaceChildren(video);
  video.play().catch(() => {}); // autoplay refused: the controls-free tile stays paused
}

// LL-HLS delivers a part (~200 ms) at a time, each as soon as it is complete, so the
// newest buffered frame is the live edge. Playing BEHIND_S under it leaves room for one
// late part; further behind, play faster (unnoticeable at 1.15x), and from a long way
// behind (a start on an old keyframe, a stall), jump.
const BEHIND_S = 0.4;
const FASTER_FROM_S = 0.6;
const JUMP_FROM_S = 1.5;

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
