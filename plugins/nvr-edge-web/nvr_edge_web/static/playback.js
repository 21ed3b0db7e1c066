// The playback panel: one lane per camera (video + zoomable timeline), played in sync on
// the wall clock. The first lane leads; the others follow it (a small speed nudge for a
// small drift, a seek for a large one, paused where they recorded nothing).
import { getJson } from "./api.js";
import { setUpExport } from "./export.js";
import { SegmentPlayer, canPlay } from "./mse.js";
import { ZOOMS, drawLane, drawMarks, listen, windowAround } from "./zoomline.js";

const SYNC_EVERY_MS = 250;
const RELOAD_AFTER_MS = 300; // a drag redraws at once and asks the box once it rests
const SEEK_DRIFT_MS = 400; // a follower further off than this seeks; closer, it is nudged
const NUDGE = 0.1; // the most a follower's speed is changed to catch up
const DEFAULT_FRAME_S = 1 / 25;
const $ = (id) => document.getElementById(id);

const view = {
  lanes: [], range: windowAround(Date.now(), ZOOMS["1 h"]), span: ZOOMS["1 h"],
  selection: null, cameras: [], timer: null, onError: () => {},
  pan(range) {
    this.range = range;
    redraw(false);
    clearTimeout(this.reload);
    this.reload = setTimeout(() => redraw(true), RELOAD_AFTER_MS);
  },
  jump(moment) { jumpTo(moment).catch(this.onError); },
  zoom(direction) { // +1: the next closer zoom, -1: the next wider
    const spans = Object.values(ZOOMS); // widest first
    const at = spans.indexOf(this.span) + direction;
    if (at >= 0 && at < spans.length) zoomTo(spans[at]);
  },
  choose(selection) { this.selection = selection; exportTool.chosen(selection); redraw(false); },
};
let exportTool = null;

function leader() {
  return view.lanes[0] || null;
}

// Where the shown pictures are on the wall clock (the leader's).
export function playhead() {
  const lane = leader();
  return lane ? lane.player.wallNow() : null;
}

async function loadLane(lane) {
  const query = new URLSearchParams({
    camera: lane.camera.id, from: new Date(view.range.from).toISOString(),
    to: new Date(view.range.to).toISOString(), limit: "10000",
  });
  const [listed, holes] = await Promise.all([
    getJson(`/api/segments?${query}`), getJson(`/api/gaps?${query}`)]);
  lane.segments = listed.segments;
  lane.gaps = holes.gaps;
  lane.loaded = { ...view.range };
}

async function laterSegments(camera, last) {
  const query = new URLSearchParams({
    camera: camera.id, from: new Date(last.end_ms).toISOString(), limit: "50" });
  return (await getJson(`/api/segments?${query}`)).segments;
}

async function redraw(reload) {
  try {
    if (reload) await Promise.all(view.lanes.map(loadLane));
  } catch (error) {
    view.onError(error);
  }
  for (const lane of view.lanes) {
    drawLane(lane.bar, lane, view.range);
    Object.assign(lane.bar.dataset, { from: view.range.from, to: view.range.to }); // for tests
    lane.bar.setAttribute("aria-valuetext", `${new Date(view.range.from).toLocaleString()} to `
      + `${new Date(view.range.to).toLocaleString()}`);
  }
  drawMarksAll();
}

function drawMarksAll() {
  const at = playhead();
  for (const lane of view.lanes) {
    drawMarks(lane.bar, view.range, at, view.selection);
    const own = lane.player.wallNow();
    lane.element.dataset.wall = own == null ? "" : String(Math.round(own)); // read by tests
  }
  $("pb-now").textContent = at == null ? "" : `Showing ${new Date(at).toLocaleString()}`;
}

function makeLane(camera) {
  const element = $("lane-template").content.firstElementChild.cloneNode(true);
  element.dataset.camera = camera.id;
  element.querySelector(".lane-name").textContent = camera.name || camera.id;
  const video = element.querySelector("video");
  const bar = element.querySelector(".zoombar");
  bar.setAttribute("aria-label", `Timeline of ${camera.name || camera.id}`);
  const lane = { camera, element, video, bar, segments: [], gaps: [],
    player: null, note: element.querySelector(".lane-note") };
  lane.player = new SegmentPlayer(video, (last) => laterSegments(camera, last));
  listen(bar, view);
  video.addEventListener("feederror", (event) => view.onError(event.detail));
  const remove = element.querySelector(".lane-remove");
  remove.setAttribute("aria-label", `Remove ${camera.name || camera.id} from playback`);
  remove.addEventListener("click", () => removeLane(lane));
  return lane;
}

function removeLane(lane) {
  lane.player.close();
  lane.element.remove();
  view.lanes = view.lanes.filter((l) => l !== lane);
  if (!view.lanes.length) closePlayback();
}

async function startLane(lane, moment) {
  lane.opening = true;
  let found = false;
  try {
    found = await lane.player.open(lane.segments, moment);
  } finally {
    lane.opening = false;
  }
  lane.note.textContent = found ? "" : canPlay ? "No recording at or after this moment."
    : "This browser cannot play recordings (it has no Media Source Extensions).";
  if (found) {
    lane.video.playbackRate = Number($("pb-speed").value);
    if ($("pb-play").textContent === "Pause") lane.video.play().catch(() => {});
  }
  return found;
}

// Plays every lane from `moment` (ms): the window follows when the moment is out of it.
export async function jumpTo(moment) {
  if (moment < view.range.from || moment > view.range.to) {
    view.range = windowAround(moment, view.span);
    await redraw(true);
  }
  await Promise.all(view.lanes.map((lane) => startLane(lane, moment)));
  drawMarksAll();
}

function sync() {
  const first = leader();
  const wall = playhead();
  if (!first || wall == null) return;
  if (first.player.atEnd()) first.note.textContent = "End of the recording so far.";
  else if (first.note.textContent.startsWith("End")) first.note.textContent = "";
  if (wall > view.range.to) { // the playhead left the window: the window follows
    view.range = windowAround(wall + view.span * 0.4, view.span);
    redraw(true);
  }
  for (const lane of view.lanes.slice(1)) {
    if (lane.opening) continue;
    const video = lane.video;
    const own = lane.player.wallNow();
    const there = lane.player.mediaAt(wall);
    if (there == null) {
      const recorded = lane.segments.some((s) => s.start_ms <= wall && s.end_ms > wall);
      if (recorded && (own == null || Math.abs(own - wall) > SEEK_DRIFT_MS)) {
        startLane(lane, wall);
      } else if (!recorded) {
        video.pause();
        lane.note.textContent = "No recording at this moment.";
      }
      continue;
    }
    lane.note.textContent = "";
    const drift = wall - own;
    if (Math.abs(drift) > SEEK_DRIFT_MS) video.currentTime = there;
    const nudge = Math.max(-NUDGE, Math.min(NUDGE, drift / 1000));
    video.playbackRate = first.video.playbackRate * (1 + nudge);
    if (first.video.paused !== video.paused) {
      if (first.video.paused) video.pause();
      else video.play().catch(() => {});
    }
  }
  drawMarksAll();
}

function zoomTo(span) {
  view.span = span;
  view.range = windowAround(playhead() ?? Date.now(), span);
  redraw(true);
}

function frameStep(direction) {
  for (const lane of view.lanes) lane.video.pause();
  $("pb-play").textContent = "Play";
  const first = leader();
  if (!first) return;
  first.video.currentTime = Math.max(0, first.video.currentTime
    + direction * (first.frameS || DEFAULT_FRAME_S));
  for (const lane of view.lanes.slice(1)) {
    const there = lane.player.mediaAt(first.player.wallNow());
    if (there != null) lane.video.currentTime = there;
  }
}

// Measured from the pictures shown (a camera's rate is not in the catalog).
function measureFrames(lane) {
  if (!lane.video.requestVideoFrameCallback) return;
  let last = null;
  const seen = (_, frame) => {
    if (last != null && frame.mediaTime > last && lane.video.playbackRate === 1) {
      const step = frame.mediaTime - last;
      if (step < 0.5) lane.frameS = Math.min(lane.frameS || step, step);
    }
    last = frame.mediaTime;
    if (lane.element.isConnected) lane.video.requestVideoFrameCallback(seen);
  };
  lane.video.requestVideoFrameCallback(seen);
}

export async function addCamera(camera, moment) {
  if (view.lanes.some((l) => l.camera.id === camera.id)) return;
  const lane = makeLane(camera);
  view.lanes.push(lane);
  $("lanes").append(lane.element);
  measureFrames(lane);
  await loadLane(lane);
  await redraw(false);
  await startLane(lane, moment ?? playhead() ?? Date.now());
}

// Opens the panel on `camera` at `moment`; `cameras` are those the others can be picked from.
export async function openPlayback(camera, moment, cameras) {
  closeLanes();
  $("player").hidden = false;
  $("pb-play").textContent = "Pause";
  view.cameras = cameras.filter((c) => c.allowed.includes("playback"));
  $("pb-camera").replaceChildren(...view.cameras.map((c) => new Option(c.name || c.id, c.id)));
  view.range = windowAround(moment, view.span);
  $("pb-when").value = localInput(moment);
  await addCamera(camera, moment);
  clearInterval(view.timer);
  view.timer = setInterval(sync, SYNC_EVERY_MS);
  $("player").scrollIntoView({ block: "nearest" });
}

function closeLanes() {
  for (const lane of view.lanes) lane.player.close();
  view.lanes = [];
  $("lanes").replaceChildren();
}

export function closePlayback() {
  clearInterval(view.timer);
  closeLanes();
  $("player").hidden = true;
}

function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3);
  return d.toISOString().slice(0, 19);
}

export function setUpPlayback(onError) {
  view.onError = onError;
  $("player-close").addEventListener("click", closePlayback);
  $("pb-play").addEventListener("click", () => {
    const play = $("pb-play").textContent === "Play";
    $("pb-play").textContent = play ? "Pause" : "Play";
    for (const lane of view.lanes) {
      if (play) lane.video.play().catch(() => {});
      else lane.video.pause();
    }
  });
  $("pb-speed").addEventListener("change", () => {
    for (const lane of view.lanes) lane.video.playbackRate = Number($("pb-speed").value);
  });
  $("pb-back").addEventListener("click", () => frameStep(-1));
  $("pb-forward").addEventListener("click", () => frameStep(1));
  for (const button of document.querySelectorAll(".pb-zoom")) {
    button.addEventListener("click", () => zoomTo(ZOOMS[button.dataset.zoom]));
  }
  $("pb-jump").addEventListener("submit", (event) => {
    event.preventDefault();
    const moment = new Date($("pb-when").value).getTime(); // the browser's own zone
    if (Number.isFinite(moment)) jumpTo(moment).catch(onError);
  });
  $("pb-add").addEventListener("submit", (event) => {
    event.preventDefault();
    const camera = view.cameras.find((c) => c.id === $("pb-camera").value);
    if (camera) addCamera(camera).catch(onError);
  });
  exportTool = setUpExport({
    camera: () => leader() && leader().camera.id, playhead, onError,
    chose: (selection) => { view.selection = selection; drawMarksAll(); },
  });
}
