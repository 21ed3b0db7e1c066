// The playback timeline of one camera: a window of 24 h, 1 h or 10 min that a drag (or the
// arrow keys) moves, recorded stretches, holes coloured by their cause, the playhead and
// the range chosen for export (shift+drag, or the buttons that mark the playhead).
import { drawRecorded } from "./timeline.js";

export const ZOOMS = { "24 h": 24 * 3600e3, "1 h": 3600e3, "10 min": 600e3 };
const DRAG_PX = 4; // less than this between press and release is a click

export function windowAround(moment, span) {
  const to = Math.min(Date.now(), moment + span / 2);
  return { from: to - span, to };
}

function share(range, moment) {
  return ((moment - range.from) / (range.to - range.from)) * 100;
}

function place(element, range, start, end) {
  const left = Math.max(0, share(range, start));
  const right = Math.min(100, share(range, end));
  element.hidden = right <= left;
  element.style.left = `${left}%`;
  element.style.width = `${Math.max(0, right - left)}%`;
}

export function drawLane(bar, lane, range) {
  drawRecorded(bar, lane.segments, range);
  const pieces = lane.gaps.map((gap) => {
    const piece = document.createElement("div");
    piece.dataset.cause = gap.cause;
    piece.title = `${gap.cause}: ${gap.detail}`;
    place(piece, range, gap.start_ms, gap.end_ms);
    return piece;
  });
  bar.querySelector(".gaps").replaceChildren(...pieces);
  const labels = bar.parentElement.querySelectorAll(".zoom-axis span");
  [range.from, (range.from + range.to) / 2, range.to].forEach((t, i) => {
    if (labels[i]) labels[i].textContent = new Date(t).toLocaleTimeString();
  });
}

export function drawMarks(bar, range, playhead, selection) {
  const cursor = bar.querySelector(".cursor");
  cursor.hidden = playhead == null || playhead < range.from || playhead > range.to;
  if (!cursor.hidden) cursor.style.left = `${share(range, playhead)}%`;
  const chosen = bar.querySelector(".selection");
  if (selection) place(chosen, range, selection.from, selection.to);
  else chosen.hidden = true;
}

function momentAt(bar, clientX, range) {
  const box = bar.getBoundingClientRect();
  const part = Math.min(1, Math.max(0, (clientX - box.left) / box.width));
  return range.from + part * (range.to - range.from);
}

// Pointer and keys on a lane's bar: `view` holds the shared window ({range}) and is told
// of a click or Enter (jump: Enter to the window's middle), a drag or the arrow keys
// (pan), + and - (zoom in, out) or a shift+drag (choose a range).
export function listen(bar, view) {
  let press = null;
  bar.addEventListener("pointerdown", (event) => {
    press = { x: event.clientX, range: { ...view.range }, shift: event.shiftKey,
      at: momentAt(bar, event.clientX, view.range) };
    bar.setPointerCapture(event.pointerId);
  });
  bar.addEventListener("pointermove", (event) => {
    if (!press || Math.abs(event.clientX - press.x) < DRAG_PX) return;
    if (press.shift) {
      const here = momentAt(bar, event.clientX, press.range);
      view.choose({ from: Math.min(press.at, here), to: Math.max(press.at, here) });
      return;
    }
    const moved = ((event.clientX - press.x) / bar.getBoundingClientRect().width)
      * (press.range.to - press.range.from);
    view.pan({ from: press.range.from - moved, to: press.range.to - moved });
  });
  bar.addEventListener("pointerup", (event) => {
    if (press && Math.abs(event.clientX - press.x) < DRAG_PX) view.jump(press.at);
    press = null;
  });
  bar.addEventListener("keydown", (event) => {
    const span = view.range.to - view.range.from;
    const step = { ArrowLeft: -span / 10, ArrowRight: span / 10 }[event.key];
    if (step) {
      event.preventDefault();
      view.pan({ from: view.range.from + step, to: view.range.to + step });
    } else if (event.key === "+" || event.key === "-") {
      event.preventDefault();
      view.zoom(event.key === "+" ? 1 : -1);
    } else if (event.key === "Enter") {
      view.jump((view.range.from + view.range.to) / 2);
    }
  });
}
