// "Found cameras" (#cameras, with the ONVIF plugin): the candidates it heard of (status
// part plugins.onvif.candidates) and a Search that runs `discover`; "Add" runs
// `adopt_camera` with the credentials and camera id asked for here, "Preview" shows the
// camera's picture with them first (`preview_camera`).
import { ApiError, sendJson } from "./api.js";
import { showSnapshot } from "./snapshot.js";

const $ = (id) => document.getElementById(id);
const shown = new Map(); // URN -> list item (kept across refreshes: a half-filled form stays)

// Candidates from /api/system's plugins.onvif (absent: the plugin is not installed).
export function showFound(onvif, onAdopted) {
  $("found").hidden = !onvif;
  if (onvif) mergeCandidates(onvif.candidates || [], onAdopted);
}

function mergeCandidates(candidates, onAdopted) {
  for (const candidate of candidates) {
    if (candidate.ignored) shown.delete(candidate.id); // "Ignore" (kept in [onvif] ignored)
    else if (!shown.has(candidate.id)) {
      shown.set(candidate.id, candidateItem(candidate, onAdopted));
    }
  }
  $("found-list").replaceChildren(...shown.values());
}

async function ignore(candidate, item) {
  try {
    await sendJson("POST", "/api/commands/ignore_camera", { id: candidate.id });
    shown.delete(candidate.id);
    item.remove();
  } catch (refused) {
    if (!(refused instanceof ApiError)) throw refused;
    item.querySelector(".candidate-error").textContent = refused.message;
  }
}

function candidateItem(candidate, onAdopted) {
  const item = $("found-template").content.firstElementChild.cloneNode(true);
  item.dataset.urn = candidate.id;
  item.querySelector(".candidate-name").textContent = candidate.name || candidate.id;
  // streams: what the camera proposed when asked ([onvif] user/password, or a Search
  // with credentials); the roles first
  const streams = (candidate.streams || []).filter((s) => s.role)
    .map((s) => `${s.role} ${s.width}x${s.height} ${s.codec}`);
  item.querySelector(".candidate-address").textContent =
    [candidate.address, candidate.hardware || candidate.model, ...streams, candidate.problem]
      .filter(Boolean).join(", ");
  const form = item.querySelector(".candidate-form");
  const add = item.querySelector(".candidate-add");
  add.setAttribute("aria-label", `Add ${candidate.name || candidate.id}`);
  add.addEventListener("click", () => {
    form.hidden = false;
    form.elements.camera.focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    adopt(candidate, form, onAdopted);
  });
  const ignoreButton = item.querySelector(".candidate-ignore");
  ignoreButton.setAttribute("aria-label", `Ignore ${candidate.name || candidate.id}`);
  ignoreButton.addEventListener("click", () => ignore(candidate, item));
  const preview = item.querySelector(".candidate-preview");
  preview.setAttribute("aria-label", `Preview ${candidate.name || candidate.id}`);
  preview.addEventListener("click", () => showPreview(candidate, form));
  return item;
}

function credentials(form) {
  const args = {};
  for (const name of ["user", "password"]) {
    const value = form.elements[name].value.trim();
    if (value) args[name] = value;
  }
  return args;
}

// The camera asked with the credentials typed, its sub stream opened once: nothing saved.
async function showPreview(candidate, form) {
  const error = form.querySelector(".candidate-error");
  error.textContent = "";
  try {
    await showSnapshot("preview_camera", { id: candidate.id, ...credentials(form) },
      form.querySelector(".candidate-facts"), form.querySelector(".candidate-picture"),
      candidate.name || candidate.id);
  } catch (refused) {
    if (!(refused instanceof ApiError)) throw refused;
    error.textContent = refused.message;
  }
}

async function adopt(candidate, form, onAdopted) {
  const error = form.querySelector(".candidate-error");
  error.textContent = "";
  const args = { id: candidate.id, ...credentials(form) };
  const camera = form.elements.camera.value.trim();
  if (camera) args.camera = camera;
  try {
    const { result } = await sendJson("POST", "/api/commands/adopt_camera", args);
    form.elements.password.value = "";
    form.hidden = true;
    form.closest("li").dataset.adopted = result.camera || args.camera || "";
    error.textContent = "";
    onAdopted();
  } catch (refused) {
    if (!(refused instanceof ApiError)) throw refused;
    error.textContent = refused.message;
  }
}

export function setUpFound(onAdopted) {
  $("found-search").addEventListener("submit", (event) => {
    event.preventDefault();
    const args = {};
    const user = $("found-user").value.trim();
    if (user) args.user = user;
    if ($("found-password").value) args.password = $("found-password").value;
    $("found-password").value = ""; // not left in the page; "Add" asks for it again
    $("found-message").textContent = "Searching...";
    sendJson("POST", "/api/commands/discover", args).then(({ result }) => {
      const found = result.candidates || [];
      $("found-message").textContent = `${found.length} camera(s) answered.`;
      mergeCandidates(found, onAdopted);
    }).catch((error) => {
      $("found-message").textContent = `Search failed: ${error.message}`;
    });
  });
}
