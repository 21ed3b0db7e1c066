// Export: the range chosen on a timeline (or marked at the playhead) sent to
// POST /api/exports, its progress polled, then a download link to the one MP4.
import { getJson, mediaUrl, sendJson } from "./api.js";

const POLL_MS = 500;
const $ = (id) => document.getElementById(id);

function describe(selection) {
  const seconds = Math.round((selection.to - selection.from) / 1000);
  return `${new Date(selection.from).toLocaleString()} to `
    + `${new Date(selection.to).toLocaleTimeString()} (${seconds} s)`;
}

// `player` gives the camera to export and the playhead; returns {chosen(selection)}.
export function setUpExport(player) {
  let selection = null;
  const chosen = (range) => {
    selection = range;
    const usable = range && range.to > range.from;
    $("pb-range").textContent = usable ? describe(range) : "Mark a start before the end.";
    $("pb-export").disabled = !usable;
    player.chose(range);
  };
  const mark = (end) => {
    const at = player.playhead();
    if (at == null) return;
    const from = end ? (selection ? selection.from : at - 10e3) : at;
    const to = end ? at : (selection && selection.to > at ? selection.to : at + 10e3);
    chosen({ from, to });
  };
  $("pb-mark-from").addEventListener("click", () => mark(false));
  $("pb-mark-to").addEventListener("click", () => mark(true));
  $("pb-export").addEventListener("click", () => run(player.camera(), selection)
    .catch((error) => {
      $("pb-export-status").textContent = `Export failed: ${error.message}`;
      $("pb-export").disabled = false;
    }));
  return { chosen };
}

async function run(camera, selection) {
  $("pb-export").disabled = true;
  $("pb-download").hidden = true;
  const progress = $("pb-progress");
  progress.hidden = false;
  progress.value = 0;
  let job = await sendJson("POST", "/api/exports", {
    camera, from: new Date(selection.from).toISOString(), to: new Date(selection.to).toISOString(),
  });
  while (job.state === "queued" || job.state === "running") {
    $("pb-export-status").textContent = job.total
      ? `Exporting: ${job.done} of ${job.total} segments` : `Export ${job.state}…`;
    progress.value = job.total ? job.done / job.total : 0;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await getJson(job.url);
  }
  $("pb-export").disabled = false;
  if (job.state !== "done") throw new Error(job.error || job.state);
  progress.value = 1;
  $("pb-export-status").textContent = `Ready: ${camera}, ${Math.round(job.bytes / 1024)} KiB`;
  const link = $("pb-download");
  link.href = mediaUrl(job.download);
  link.download = job.download.split("/").pop();
  link.textContent = `Download ${link.download}`;
  link.hidden = false;
}
