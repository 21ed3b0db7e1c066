// The page: one tile per camera the token allows, its state, its last 24 h of recordings.
import { ApiError, forgetToken, getJson, mediaUrl, setToken, takeTokenFromUrl } from "./api.js";
import { startLive } from "./live.js";
import {
  drawRecorded, momentAt, nextSegment, segmentAt, showCursor, windowEndingNow,
} from "./timeline.js";

const STATUS_EVERY_MS = 3000;
const SEGMENTS_EVERY_MS = 60000;
const tiles = new Map(); // camera id -> {camera, element, segments, range}
let timers = [];
const $ = (id) => document.getElementById(id);

function showLogin(reason) {
  $("grid").replaceChildren();
  $("login").hidden = false;
  $("login-error").textContent = reason || "";
  $("forget").hidden = true;
}

function showMessage(text) {
  $("message").textContent = text;
  $("message").hidden = !text;
}

function handleError(error) {
  if (error instanceof ApiError && error.status === 401) {
    timers.forEach(clearInterval);
    timers = [];
    forgetToken();
    showLogin(`The token was refused: ${error.message}`);
    return;
  }
  showMessage(error.message || String(error));
}

function makeTile(camera) {
  const element = $("tile-template").content.firstElementChild.cloneNode(true);
  element.dataset.camera = camera.id;
  element.querySelector(".name").textContent = camera.name || camera.id;
  const tile = { camera, element, segments: [], range: windowEndingNow() };
  setState(tile, camera.state, camera.reason);
  const timeline = element.querySelector(".timeline");
  if (camera.allowed.includes("playback")) {
    timeline.addEventListener("click", (event) => play(tile, momentAt(timeline, event, tile.range)));
  } else {
    timeline.dataset.disabled = "";
    timeline.title = "This token does not allow playback";
  }
  if (camera.allowed.includes("view")) {
    startLive(element.querySelector(".live"), camera);
  }
  return tile;
}

function setState(tile, state, reason) {
  const badge = tile.element.querySelector(".state");
  badge.textContent = state;
  badge.dataset.state = state;
  badge.title = reason || "";
}

async function loadCameras() {
  const { cameras } = await getJson("/api/cameras");
  tiles.clear();
  for (const camera of cameras) tiles.set(camera.id, makeTile(camera));
  $("grid").replaceChildren(...[...tiles.values()].map((t) => t.element));
  if (!cameras.length) showMessage("This token shows no camera.");
}

async function refreshStatus() {
  const status = await getJson("/api/status");
  for (const [id, camera] of Object.entries(status.cameras)) {
    const tile = tiles.get(id);
    if (tile) setState(tile, camera.state, camera.reason);
  }
  $("updated").textContent = status.updated ? `updated ${status.updated}` : "";
}

async function refreshSegments(tile) {
  if (!tile.camera.allowed.includes("playback")) return;
  const range = windowEndingNow();
  const query = new URLSearchParams({
    camera: tile.camera.id,
    from: new Date(range.from).toISOString(),
    to: new Date(range.to).toISOString(),
    limit: "10000",
  });
  const { segments } = await getJson(`/api/segments?${query}`);
  tile.segments = segments;
  tile.range = range;
  drawRecorded(tile.element.querySelector(".timeline"), segments, range);
}

function play(tile, moment) {
  showCursor(tile.element.querySelector(".timeline"), moment, tile.range);
  const found = segmentAt(tile.segments, moment);
  if (!found) {
    showMessage(`Nothing recorded on ${tile.camera.id} after ${new Date(moment).toLocaleString()}.`);
    return;
  }
  showMessage("");
  playSegment(tile, found.segment, found.offsetS);
}

function playSegment(tile, segment, offsetS) {
  const video = $("video");
  $("player").hidden = false;
  $("player-title").textContent =
    `${tile.camera.name || tile.camera.id}: ${new Date(segment.start_ms).toLocaleString()}`;
  video.onloadedmetadata = () => {
    video.currentTime = Math.min(offsetS, Math.max(0, video.duration - 0.1));
    video.play().catch(() => {}); // autoplay may be refused; the controls are there
  };
  video.onended = () => {
    const next = nextSegment(tile.segments, segment);
    if (next) playSegment(tile, next, 0);
  };
  video.onerror = () => showMessage(`Cannot play segment ${segment.id} of ${tile.camera.id}.`);
  video.src = mediaUrl(segment.url);
}

function every(ms, task) {
  const run = () => task().catch(handleError);
  run();
  timers.push(setInterval(run, ms));
}

async function start() {
  timers.forEach(clearInterval);
  timers = [];
  $("login").hidden = true;
  $("forget").hidden = false;
  showMessage("");
  try {
    await loadCameras();
  } catch (error) {
    handleError(error);
    return;
  }
  every(STATUS_EVERY_MS, refreshStatus);
  every(SEGMENTS_EVERY_MS, () => Promise.all([...tiles.values()].map(refreshSegments)));
}

function setUp() {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken($("token-input").value.trim());
    $("token-input").value = "";
    start();
  });
  $("forget").addEventListener("click", () => {
    forgetToken();
    window.location.reload();
  });
  $("player-close").addEventListener("click", () => {
    const video = $("video");
    video.pause();
    video.removeAttribute("src");
    video.load();
    $("player").hidden = true;
  });
  if (takeTokenFromUrl()) start();
  else showLogin("");
}

setUp();
