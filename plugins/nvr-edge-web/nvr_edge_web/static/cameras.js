// The cameras page (#cameras, admin): list, enable/disable, add and edit through the
// config API; a refusal naming `cameras[i].<key>` is shown beside that field; "Test the
// stream" shows what the main URL carries and its picture before anything is saved.
import { ApiError, getJson, sendJson } from "./api.js";
import { el } from "./format.js";
import { showSnapshot } from "./snapshot.js";

const MERGE_PATCH = "application/merge-patch+json";
const FIELDS = ["id", "name", "main", "sub", "live", "retention_days", "enabled"];
const $ = (id) => document.getElementById(id);
let cameras = []; // the running config's cameras, passwords masked (***)
let editing = null; // index in `cameras`, or cameras.length for a new one

export async function refreshCameras() {
  const { config } = await getJson("/api/config");
  cameras = config.cameras || [];
  $("camera-list").replaceChildren(...cameras.map(cameraRow));
}

function cameraRow(camera, index) {
  const row = el("div", "", "camera-row");
  row.dataset.camera = camera.id;
  const toggle = document.createElement("input");
  toggle.type = "checkbox";
  toggle.id = `enabled-${camera.id}`;
  toggle.checked = camera.enabled !== false;
  const label = el("label", "record");
  label.htmlFor = toggle.id;
  toggle.addEventListener("change", () => save(index, { ...camera, enabled: toggle.checked }));
  const edit = el("button", "Edit");
  edit.type = "button";
  edit.setAttribute("aria-label", `Edit ${camera.id}`);
  edit.addEventListener("click", () => openForm(index));
  row.append(el("strong", camera.id), el("span", camera.name || "", "muted"),
    el("code", camera.main), toggle, label, edit);
  return row;
}

function openForm(index) {
  editing = index;
  const camera = cameras[index] || { live: "always", enabled: true };
  const form = $("camera-form");
  for (const name of FIELDS) {
    const input = form.elements[name];
    if (input.type === "checkbox") input.checked = camera[name] !== false;
    else input.value = camera[name] ?? (name === "live" ? "always" : "");
  }
  clearErrors();
  $("cf-test-result").textContent = "";
  $("cf-test-picture").hidden = true;
  form.hidden = false;
  form.elements.id.focus();
}

function readForm() {
  const form = $("camera-form");
  const camera = { ...(cameras[editing] || {}) }; // keeps keys the form does not show
  for (const name of FIELDS) {
    const input = form.elements[name];
    if (input.type === "checkbox") camera[name] = input.checked;
    else if (input.type === "number" && input.value.trim()) camera[name] = Number(input.value);
    else if (input.value.trim()) camera[name] = input.value.trim();
    else delete camera[name];
  }
  return camera;
}

// `cameras` is an array, so a merge patch replaces it whole: the others go back unchanged
// (their masked passwords keep their running values).
async function save(index, camera) {
  const next = cameras.slice();
  next[index] = camera;
  try {
    await sendJson("PATCH", "/api/config", { cameras: next }, MERGE_PATCH);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 400) throw error;
    showRefusal(index, error.message);
    return false;
  }
  await refreshCameras();
  return true;
}

function showRefusal(index, message) {
  if ($("camera-form").hidden || editing !== index) openForm(index); // a refused toggle
  const named = /cameras\[(\d+)\]\.(\w+)/.exec(message);
  const slot = named && Number(named[1]) === index
    ? document.querySelector(`#camera-form .field-error[data-for="${named[2]}"]`) : null;
  if (slot) {
    slot.textContent = message;
    $("camera-form").elements[named[2]].setAttribute("aria-invalid", "true");
  } else {
    $("camera-form-error").textContent = message;
  }
}

function clearErrors() {
  for (const slot of document.querySelectorAll("#camera-form .field-error")) slot.textContent = "";
  for (const input of $("camera-form").elements) input.removeAttribute("aria-invalid");
  $("camera-form-error").textContent = "";
}

// "Test the stream": the URL typed opened once by the box (test_stream). A URL still
// showing the saved camera's masked password (***) can only be opened by the box as it
// is saved: that camera's picture is asked for instead (camera_snapshot).
async function testStream() {
  const form = $("camera-form");
  const main = form.elements.main;
  const slot = document.querySelector('#camera-form .field-error[data-for="main"]');
  slot.textContent = "";
  main.removeAttribute("aria-invalid");
  const url = main.value.trim();
  const saved = cameras[editing];
  const [command, args] = saved && url === saved.main && url.includes("***")
    ? ["camera_snapshot", { camera: saved.id }] : ["test_stream", { url }];
  try {
    await showSnapshot(command, args, $("cf-test-result"), $("cf-test-picture"),
      form.elements.id.value.trim() || "the stream");
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    slot.textContent = error.message;
    main.setAttribute("aria-invalid", "true");
  }
}

export function setUpCameras(onError) {
  $("cf-test").addEventListener("click", () => testStream().catch(onError));
  $("camera-add").addEventListener("click", () => openForm(cameras.length));
  $("camera-cancel").addEventListener("click", () => {
    $("camera-form").hidden = true;
  });
  $("camera-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors();
    save(editing, readForm())
      .then((saved) => { if (saved) $("camera-form").hidden = true; })
      .catch(onError);
  });
}
