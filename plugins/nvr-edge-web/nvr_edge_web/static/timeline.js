// A camera's last 24 h as a bar: recorded stretches drawn, a click picks a moment.
export const WINDOW_MS = 24 * 3600 * 1000;
const JOIN_GAP_MS = 2000; // segments this close are drawn as one stretch

export function windowEndingNow() {
  const to = Date.now();
  return { from: to - WINDOW_MS, to };
}

export function drawRecorded(timeline, segments, range) {
  const layer = timeline.querySelector(".recorded");
  const span = range.to - range.from;
  const pieces = [];
  for (const run of stretches(segments)) {
    const start = Math.max(run.start, range.from);
    const end = Math.min(run.end, range.to);
    if (end <= start) continue;
    const piece = document.createElement("div");
    piece.style.left = `${((start - range.from) / span) * 100}%`;
    piece.style.width = `${((end - start) / span) * 100}%`;
    pieces.push(piece);
  }
  layer.replaceChildren(...pieces);
}

function* stretches(segments) {
  let run = null;
  for (const segment of segments) {
    if (run && segment.start_ms - run.end <= JOIN_GAP_MS) {
      run.end = Math.max(run.end, segment.end_ms);
      continue;
    }
    if (run) yield run;
    run = { start: segment.start_ms, end: segment.end_ms };
  }
  if (run) yield run;
}

export function momentAt(timeline, event, range) {
  const box = timeline.getBoundingClientRect();
  const share = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
  return range.from + share * (range.to - range.from);
}

export function showCursor(timeline, moment, range) {
  const cursor = timeline.querySelector(".cursor");
  cursor.style.left = `${((moment - range.from) / (range.to - range.from)) * 100}%`;
  cursor.hidden = false;
}
