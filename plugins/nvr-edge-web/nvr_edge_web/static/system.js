// The system page (#system): tiers, the mover's backlog, each camera's state and why,
// recent alerts, the encoders' probes, plugin parts, version and uptime; from GET
// /api/system.
import { getJson } from "./api.js";
import { bytes, days, duration, el } from "./format.js";

const $ = (id) => document.getElementById(id);

export async function refreshSystem() {
  const system = await getJson("/api/system");
  $("system-about").textContent = `nvr-edge ${system.version} on ${system.device || "?"}, `
    + `up ${duration(system.uptime_s)}; updated ${system.updated || "?"}`;
  $("system-tiers").replaceChildren(
    ...Object.entries(system.tiers).map(([name, tier]) => tierCard(name, tier)));
  $("system-cameras").tBodies[0].replaceChildren(
    ...Object.entries(system.cameras).map(([id, camera]) => cameraRow(id, camera)));
  const alerts = system.alerts.map((alert) => el("li",
    `${alert.at} ${alert.level} ${alert.code}${alert.camera ? ` (${alert.camera})` : ""}: `
    + alert.message, `alert alert-${alert.level}`));
  $("system-alerts").replaceChildren(...(alerts.length ? alerts : [el("li", "none", "muted")]));
  showEncoders((system.plugins || {}).encoders);
  $("system-plugins").replaceChildren(...pluginParts(system.plugins || {}));
  return system;
}

// The encoders' probe verdicts (admin: a plugin part): which will encode, which failed why.
function showEncoders(part) {
  $("system-encoders-part").hidden = !part;
  if (!part) return;
  $("system-encoders").tBodies[0].replaceChildren(...(part.probes || []).map((probe) => {
    const row = el("tr");
    row.dataset.encoder = probe.name;
    const verdict = el("td", probe.ok ? "usable" : "failed", "state");
    verdict.dataset.state = probe.ok ? "online" : "offline";
    row.append(el("th", probe.name), el("td", probe.engine), verdict,
      el("td", probe.ok ? "" : probe.reason), el("td", probe.seconds.toFixed(1)));
    row.firstChild.scope = "row";
    return row;
  }));
  $("system-encoders-note").textContent = part.probing ? "Probing now..."
    : (part.prefer ? `Preferred: ${part.prefer}` : "");
}

function tierCard(name, tier) {
  const card = el("article", "", "tier");
  card.dataset.tier = name;
  card.dataset.state = tier.state;
  const total = tier.total_bytes || 0;
  const used = total - (tier.free_bytes || 0);
  const percent = total ? Math.round((used / total) * 100) : 0;
  const bar = el("div", "", "tier-bar");
  bar.setAttribute("role", "meter");
  bar.setAttribute("aria-label", `${name} used`);
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(percent));
  bar.setAttribute("aria-valuetext", `${percent}% used, ${bytes(tier.free_bytes)} free`);
  const fill = el("div", "", "tier-used");
  fill.style.width = `${percent}%`;
  const floor = el("div", "", "tier-floor"); // the free space kept: recording stops above it
  floor.style.left = `${total ? 100 - (tier.floor_bytes / total) * 100 : 100}%`;
  bar.append(fill, floor);
  const backlog = tier.backlog
    ? `; waiting for the archive: ${tier.backlog.segments} segments, ${bytes(tier.backlog.bytes)}`
    : "";
  card.append(
    el("h4", `${name} (${tier.state})`),
    bar,
    el("p", `${bytes(tier.free_bytes)} free of ${bytes(total)}, floor ${bytes(tier.floor_bytes)}`
      + backlog, "tier-free"),
    el("p", `holds ${days(tier.days_held)} of recordings (${bytes(tier.recorded_bytes)})`
      + (tier.days_capacity ? `, about ${days(tier.days_capacity)} when full` : ""), "tier-days"),
  );
  return card;
}

function cameraRow(id, camera) {
  const row = el("tr");
  row.dataset.camera = id;
  const state = el("td", camera.state, "state");
  state.dataset.state = camera.state;
  const continuity = camera.ingest && camera.ingest.continuity !== undefined
    ? `${(camera.ingest.continuity * 100).toFixed(1)}%` : "?";
  const last = camera.last_segment ? camera.last_segment.end : "none";
  row.append(el("th", id), state, el("td", camera.reason || "", "reason"),
    el("td", continuity), el("td", String(camera.segments)), el("td", last));
  row.firstChild.scope = "row";
  return row;
}

// Plugins' parts (admin only): object storage, discovery; shown as they come.
function pluginParts(parts) {
  return Object.entries(parts).map(([name, part]) => {
    const block = el("details", "", "plugin-part");
    block.dataset.plugin = name;
    block.append(el("summary", `plugin ${name}`), el("pre", JSON.stringify(part, null, 2)));
    return block;
  });
}
