// One WebRTC live session negotiated by WHEP (POST the offer, get the answer and a session
// URL; GET it for its state, DELETE it to stop; POST <session>/rung pins a rung). The appliance sends the
// camera's H.264 as it is, or a rung transcoded for this viewer: no audio.
import { bearer } from "./api.js";

// A failure the tile may retry (the stream is not there yet, the network is down) or not
// (the box refuses this output: WebRTC is then no use, LL-HLS may be).
export class LiveError extends Error {
  constructor(message, { retry = false, status = 0 } = {}) {
    super(message);
    this.retry = retry;
    this.status = status;
  }
}

export async function openWhep(camera, video) {
  if (!window.RTCPeerConnection) throw new LiveError("this browser has no WebRTC");
  const pc = new RTCPeerConnection(); // no ICE server: the box offers its LAN addresses
  const transceiver = pc.addTransceiver("video", { direction: "recvonly" });
  preferH264(transceiver); // the box can only pass H.264 through
  pc.ontrack = (event) => {
    video.srcObject = event.streams[0] || new MediaStream([event.track]);
  };
  let response;
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringDone(pc);
    response = await fetch(camera.live.whep, {
      method: "POST",
      headers: { ...bearer(), "Content-Type": "application/sdp" },
      body: pc.localDescription.sdp,
    });
  } catch (error) {
    pc.close();
    throw new LiveError(`the box did not answer (${error.message})`, { retry: true });
  }
  if (!response.ok) {
    pc.close();
    // 503: no stream yet, or the camera's viewers are all taken; 401/403: the token
    throw new LiveError(await errorOf(response),
      { retry: response.status === 503 || response.status >= 500, status: response.status });
  }
  const session = new URL(response.headers.get("Location"), window.location.href).href;
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  return new WhepPlayer(pc, session, video);
}

class WhepPlayer {
  constructor(pc, session, video) {
    Object.assign(this, { pc, session, video, kind: "WebRTC", serial: null });
    this.everPlayed = false; // a frame was decoded (the tile's watch says)
    this.last = null; // the previous stats sample: latency from what changed since
  }

  get failed() {
    return ["failed", "closed"].includes(this.pc.connectionState);
  }

  // Frames decoded so far and the latency now (ms): the jitter buffer's delay over the
  // last interval and half the round trip. null while unknown.
  async sample() {
    const stats = await this.pc.getStats();
    let inbound = null;
    let rtt = null;
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") inbound = s;
      if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime !== undefined) {
        rtt = s.currentRoundTripTime;
      }
    });
    if (!inbound) return { frames: 0, latencyMs: null };
    const now = { delay: inbound.jitterBufferDelay || 0,
                  emitted: inbound.jitterBufferEmittedCount || 0 };
    let latencyMs = null;
    const before = this.last;
    if (before && now.emitted > before.emitted) {
      const buffer = (now.delay - before.delay) / (now.emitted - before.emitted);
      latencyMs = Math.round((buffer + (rtt || 0) / 2) * 1000);
    } else if (before) {
      latencyMs = before.latencyMs;
    }
    this.last = { ...now, latencyMs };
    return { frames: inbound.framesDecoded || 0, latencyMs };
  }

  // {"rung": name} or {"rung": null} (automatic again); the session's ABR status.
  async pin(rung) {
    return this.learn(await fetch(`${this.session}/rung`, {
      method: "POST",
      headers: { ...bearer(), "Content-Type": "application/json" },
      body: JSON.stringify({ rung }),
    }));
  }

  // The session's ABR status, changing nothing.
  async state() {
    return this.learn(await fetch(this.session, { headers: bearer() }));
  }

  async learn(response) {
    if (!response.ok) throw new LiveError(await errorOf(response), { status: response.status });
    const status = await response.json();
    this.serial = status.session; // its name in /api/status (cameras.<id>.webrtc)
    return status;
  }

  close(keepalive = false) {
    fetch(this.session, { method: "DELETE", headers: bearer(), keepalive }).catch(() => {});
    this.pc.close();
  }
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

export async function errorOf(response) {
  try {
    return (await response.json()).error || response.statusText;
  } catch {
    return response.statusText || `HTTP ${response.status}`;
  }
}
