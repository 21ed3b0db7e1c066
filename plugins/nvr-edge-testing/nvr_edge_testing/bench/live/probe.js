// Glass-to-glass latency probe, injected into the live page before its own scripts run.
//
// Every <video> the page shows is watched with requestVideoFrameCallback: for each frame
// put on screen, the top two bands are copied to a canvas and the clock face painted by
// the simulated camera is read back (nvr_edge/simcam/clockface.py: 32 cells of ms since
// the epoch mod 2^32, band 1 inverted as a check). Latency = the moment the frame is
// expected on screen (performance.timeOrigin + expectedDisplayTime) minus the painted
// time. The harness reads and empties the samples with window.__latencyProbe.take().
(() => {
  const BITS = 32;
  const MODULUS = 2 ** 32;
  const THRESHOLD = 128; // RGB: halfway between limited-range black and white
  const state = {
    samples: [], // [wall-clock ms when shown, latency ms]
    unreadable: 0,
    firstFrameAt: null, // ms since timeOrigin of the first frame shown
    presented: null, // [[presentedFrames, shown ms] first, [...] last] since the last take
    stalls: [], // [wall-clock ms, ms from "waiting" to the next "playing"]: it ran dry
    ahead: [], // s buffered ahead of the playhead, at each frame shown
  };
  let stalledAt = null;
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });

  function readClock(video) {
    const width = video.videoWidth;
    const cell = Math.floor(width / BITS);
    if (cell < 2) return null;
    canvas.width = width;
    canvas.height = 2 * cell;
    context.drawImage(video, 0, 0, width, 2 * cell, 0, 0, width, 2 * cell);
    const data = context.getImageData(0, 0, width, 2 * cell).data;
    const bright = (x, y) => {
      const i = (y * width + x) * 4;
      return (data[i] + data[i + 1] + data[i + 2]) / 3 > THRESHOLD;
    };
    let value = 0;
    for (let i = 0; i < BITS; i += 1) {
      const x = i * cell + Math.floor(cell / 2);
      const bit = bright(x, Math.floor(cell / 2));
      if (bit === bright(x, cell + Math.floor(cell / 2))) return null; // torn or smeared
      value = value * 2 + (bit ? 1 : 0);
    }
    return value;
  }

  function latency(painted, shownMs) {
    const whole = Math.floor(shownMs);
    let delta = (((whole - painted) % MODULUS) + MODULUS) % MODULUS;
    if (delta >= MODULUS / 2) delta -= MODULUS;
    return delta + (shownMs - whole);
  }

  function watch(video) {
    if (video.__latencyWatched || !video.requestVideoFrameCallback) return;
    video.__latencyWatched = true;
    video.addEventListener("waiting", () => { stalledAt = performance.now(); });
    video.addEventListener("playing", () => {
      if (stalledAt !== null) {
        state.stalls.push([performance.timeOrigin + stalledAt, performance.now() - stalledAt]);
      }
      stalledAt = null;
    });
    const onFrame = (_now, meta) => {
      const shownMs = performance.timeOrigin + meta.expectedDisplayTime;
      if (state.firstFrameAt === null) state.firstFrameAt = meta.expectedDisplayTime;
      const mark = [meta.presentedFrames, shownMs];
      state.presented = state.presented ? [state.presented[0], mark] : [mark, mark];
      const painted = readClock(video);
      const buffered = video.buffered;
      if (buffered.length) state.ahead.push(buffered.end(buffered.length - 1) - video.currentTime);
      if (painted === null) state.unreadable += 1;
      else state.samples.push([shownMs, latency(painted, shownMs)]);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  new MutationObserver(() => document.querySelectorAll("video").forEach(watch))
    .observe(document, { childList: true, subtree: true });

  // The request that started the live view: the WHEP POST, or the first HLS playlist (the
  // page's multivariant abr.m3u8, else a media playlist).
  function liveRequestStart() {
    const first = performance.getEntriesByType("resource")
      .find((e) => /\/whep$|\/(abr|index)\.m3u8/.test(e.name.split("?")[0]));
    return first ? first.startTime : null;
  }

  window.__latencyProbe = {
    // Without emptying anything: has a frame been shown yet, and since when.
    status() {
      return { firstFrameAt: state.firstFrameAt, liveRequestAt: liveRequestStart(),
               samples: state.samples.length };
    },
    take() {
      const taken = {
        samples: state.samples,
        unreadable: state.unreadable,
        presented: state.presented,
        stalls: state.stalls,
        ahead: state.ahead,
        firstFrameAt: state.firstFrameAt,
        liveRequestAt: liveRequestStart(),
        hlsLatency: (() => {
          const video = document.querySelector("video");
          return video && video.hls ? video.hls.latency : null;
        })(),
      };
      state.samples = [];
      state.unreadable = 0;
      state.presented = null;
      state.stalls = [];
      state.ahead = [];
      return taken;
    },
  };
})();
