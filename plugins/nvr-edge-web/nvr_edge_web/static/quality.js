// What a tile's live picture is (its transport, rung, size and latency) and the rung
// picker: "auto" lets the session's network choose (the box's ABR), a rung pins it
// (POST <session>/rung). A rung the box refuses says why, next to the picker.

// The rungs the picker offers, as the box builds its WebRTC ladder (webrtc/abr.py): not a
// main stream beside a sub stream (LL-HLS lists it for other players; the page's hls.js
// is capped below it, and a pin keeps to the same choice).
function pickerRungs(camera) {
  return ((camera.live && camera.live.rungs) || []).filter((r) => r.stream !== "main");
}

// Fills the tile's `.live-info` for `live` (a LiveTile) and wires its picker once.
export function setUpQuality(info, live) {
  const label = info.querySelector(".rung-label");
  const picker = info.querySelector(".rung");
  const name = live.camera.name || live.camera.id;
  picker.id = `rung-${live.camera.id}`;
  label.htmlFor = picker.id;
  picker.setAttribute("aria-label", `Quality of ${name}`);
  const options = [new Option("auto", "")];
  for (const rung of pickerRungs(live.camera)) {
    const option = new Option(`${rung.name} (${rung.width}x${rung.height})`, rung.name);
    if (rung.available === false) {
      option.disabled = true;
      option.textContent += `: ${rung.reason}`;
    }
    options.push(option);
  }
  picker.replaceChildren(...options);
  picker.addEventListener("change", async () => {
    const error = info.querySelector(".rung-error");
    error.textContent = "";
    try {
      const status = await live.pin(picker.value || null);
      if (status.refused) error.textContent = `${picker.value}: ${status.refused}`;
    } catch (failure) {
      error.textContent = `${picker.value || "auto"}: ${failure.message}`;
      picker.value = live.pinned || "";
    }
  });
}

// The line under the picture: "WebRTC · sub (auto) 640x360 · 85 ms"; over LL-HLS the
// rung hls.js plays: "LL-HLS · 240p (auto) · 426x240 · 620 ms".
export function showQuality(info, live) {
  const video = live.video;
  const parts = [live.kind];
  const server = live.server;
  if (server) {
    let rung = server.rung;
    if (server.switching_to) rung += ` → ${server.switching_to}`;
    if (!server.pinned) rung += " (auto)";
    else rung += server.pinned === server.rung ? " (pinned)" : ` (pinned: ${server.pinned})`;
    parts.push(rung);
  } else if (live.kind === "LL-HLS") {
    const hlsRung = live.player && live.player.rung;
    const carried = ((live.camera.live && live.camera.live.rungs) || [])
      .find((r) => r.stream === "live");
    if (hlsRung && hlsRung.name) {
      let rung = hlsRung.name;
      if (hlsRung.switchingTo) rung += ` → ${hlsRung.switchingTo}`;
      parts.push(rung + (hlsRung.auto ? " (auto)" : " (pinned)"));
    } else if (carried) {
      parts.push(carried.name);
    }
  }
  if (video && video.videoWidth) parts.push(`${video.videoWidth}x${video.videoHeight}`);
  if (live.latencyMs !== null && live.state === "playing") {
    parts.push(`${live.latencyMs} ms`);
  }
  const text = info.querySelector(".quality");
  text.textContent = live.state === "playing" ? parts.join(" · ") : parts[0];
  text.title = live.kind === "WebRTC"
    ? "transport · rung (auto: chosen by the network, pinned: chosen here) · picture size"
      + " · latency (jitter buffer + half the round trip)"
    : "transport · rung (auto: chosen by the player from its throughput, pinned: chosen"
      + " here) · picture size"
      + " · latency (behind the live edge)";
  const hlsRung = !server && live.player && live.player.rung;
  info.dataset.rung = server ? server.rung : (hlsRung && hlsRung.name) || "";
  const error = info.querySelector(".rung-error");
  if (server && server.refused && !error.textContent) {
    error.textContent = `${server.pinned || server.rung}: ${server.refused}`;
  }
  const picker = info.querySelector(".rung");
  // Safari's own LL-HLS player chooses itself: no picker there
  const choosable = live.player && (live.kind === "WebRTC" || live.player.hls);
  picker.disabled = !choosable;
  info.querySelector(".rung-label").hidden = !choosable || pickerRungs(live.camera).length < 2;
}
