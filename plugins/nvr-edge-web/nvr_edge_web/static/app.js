// The page: one tile per camera the token allows (its live picture, state, last 24 h of
// recordings), laid out by grid.js; #system and #cameras (admin) are the other views.
import { loadAccess } from "./access.js";
import { ApiError, NoAnswer, forgetToken, getJson, setToken, takeTokenFromUrl } from "./api.js";
import { refreshCameras, setUpCameras } from "./cameras.js";
import { setUpFound, showFound } from "./found.js";
import { Grid } from "./grid.js";
import { LiveTile } from "./live.js";
import { closePlayback, openPlayback, setUpPlayback } from "./playback.js";
import { setUpQuality, showQuality } from "./quality.js";
import { refreshSystem } from "./system.js";
import { drawRecorded, momentAt, showCursor, windowEndingNow } from "./timeline.js";

const STATUS_EVERY_MS = 3000;
const SEGMENTS_EVERY_MS = 60000;
const SYSTEM_EVERY_MS = 3000;
const FOUND_EVERY_MS = 5000;
const VIEWS = ["live", "system", "cameras"];
const tiles = new Map(); // camera id -> {camera, element, segments, range}
let timers = []; // the live grid's, kept while another view shows (its tiles stay)
let viewTimers = []; // the shown view's, stopped when it is left
let access = null; // GET /api/me
let liveStarted = false;
let grid = null;
let lostContact = false; // a poll failed for want of an answer: said until one succeeds
const $ = (id) => document.getElementById(id);

function showLogin(reason) {
  stopLive();
  $("grid").replaceChildren();
  for (const id of ["views", "system", "cameras", "expiry", "live-bar"]) $(id).hidden = true;
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
    stopTimers();
    access = null; // a hash change must not start a view with the refused token
    forgetToken();
    showLogin(`The token was refused: ${error.message}`);
    return;
  }
  if (error instanceof NoAnswer) { // the network, or the box restarting: polls go on
    lostContact = true;
    showMessage(`${error.message}: trying again.`);
    return;
  }
  showMessage(error.message || String(error));
}

function makeTile(camera) {
  const element = $("tile-template").content.firstElementChild.cloneNode(true);
  element.dataset.camera = camera.id;
  const name = camera.name || camera.id;
  element.querySelector(".name").textContent = name;
  element.querySelector(".tile-full").setAttribute("aria-label", `Full screen: ${name}`);
  const tile = { camera, element, segments: [], range: windowEndingNow(), live: null };
  setState(tile, camera.state, camera.reason);
  const timeline = element.querySelector(".timeline");
  if (camera.allowed.includes("playback")) {
    timeline.addEventListener("click", (event) => play(tile, momentAt(timeline, event, tile.range)));
  } else {
    timeline.dataset.disabled = "";
    timeline.title = "This token does not allow playback";
  }
  timeline.setAttribute("aria-label", `Last 24 hours of ${name}: ${timeline.title}`);
  timeline.setAttribute("role", "button");
  timeline.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && camera.allowed.includes("playback")) {
      play(tile, tile.range.to - 60000); // the last minute
    }
  });
  const info = element.querySelector(".live-info");
  if (camera.allowed.includes("view")) {
    tile.live = new LiveTile(element.querySelector(".live"), camera,
      (live) => showQuality(info, live));
    setUpQuality(info, tile.live);
  } else {
    element.querySelector(".live-placeholder").textContent = "This token does not allow live view";
    info.hidden = true;
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
  stopLive();
  tiles.clear();
  for (const camera of cameras) tiles.set(camera.id, makeTile(camera));
  grid.setTiles([...tiles.values()]);
  if (!cameras.length) showMessage("This token shows no camera.");
}

async function refreshStatus() {
  const status = await getJson("/api/status");
  for (const [id, camera] of Object.entries(status.cameras)) {
    const tile = tiles.get(id);
    if (!tile) continue;
    setState(tile, camera.state, camera.reason);
    if (tile.live) tile.live.setStatus(camera);
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

// The playback panel on this camera from that moment; the others can join it in sync.
function play(tile, moment) {
  showCursor(tile.element.querySelector(".timeline"), moment, tile.range);
  showMessage("");
  const cameras = [...tiles.values()].map((t) => t.camera);
  openPlayback(tile.camera, moment, cameras).catch(handleError);
}

function every(ms, task, list = timers) {
  const run = () => task().then(() => {
    if (lostContact) showMessage(""); // it answers again
    lostContact = false;
  }).catch(handleError);
  run();
  list.push(setInterval(run, ms));
}

function stopLive() {
  for (const tile of tiles.values()) if (tile.live) tile.live.stop();
}

function stopTimers() {
  [...timers, ...viewTimers].forEach(clearInterval);
  timers = [];
  viewTimers = [];
  liveStarted = false;
}

async function startGrid() {
  if (liveStarted) return;
  liveStarted = true;
  try {
    await loadCameras();
  } catch (error) {
    liveStarted = false;
    handleError(error);
    return;
  }
  every(STATUS_EVERY_MS, refreshStatus);
  every(SEGMENTS_EVERY_MS, () => Promise.all([...tiles.values()].map(refreshSegments)));
}

async function refreshFound() {
  const system = await getJson("/api/system");
  showFound(system.plugins && system.plugins.onvif, () => refreshCameras().catch(handleError));
}

// The view the address names (#live, #system, #cameras); #cameras needs an admin token.
function route() {
  if (!access) return;
  let view = window.location.hash.slice(1);
  if (!VIEWS.includes(view) || (view === "cameras" && !access.admin)) view = "live";
  viewTimers.forEach(clearInterval);
  viewTimers = [];
  $("grid").hidden = view !== "live";
  $("live-bar").hidden = view !== "live";
  if (view !== "live") closePlayback();
  $("system").hidden = view !== "system";
  $("cameras").hidden = view !== "cameras";
  for (const link of $("views").querySelectorAll("a")) {
    if (link.hash === `#${view}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // the views' ids are their hashes: the browser scrolled to the section, past the header
  window.scrollTo(0, 0);
  if (view === "live") startGrid();
  if (view === "system") every(SYSTEM_EVERY_MS, refreshSystem, viewTimers);
  if (view === "cameras") {
    refreshCameras().catch(handleError);
    every(FOUND_EVERY_MS, refreshFound, viewTimers);
  }
}

async function start() {
  stopTimers();
  $("login").hidden = true;
  $("forget").hidden = false;
  showMessage("");
  try {
    access = await loadAccess(); // a refused token shows the form, nothing else
  } catch (error) {
    handleError(error);
    return;
  }
  $("views").hidden = false;
  route();
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
  grid = new Grid({ grid: $("grid"), layout: $("layout"), previous: $("page-previous"),
                    next: $("page-next"), page: $("page-number") },
                  (tile, shown) => tile.live && (shown ? tile.live.start() : tile.live.stop()));
  setUpPlayback(handleError);
  window.addEventListener("hashchange", route);
  setUpCameras(handleError);
  setUpFound(() => refreshCameras().catch(handleError));
  if (takeTokenFromUrl()) start();
  else showLogin("");
}

setUp();
