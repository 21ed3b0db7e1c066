// Pictures from the snapshot commands (camera_snapshot, test_stream, preview_camera): what
// the stream carries in words, and its picture, or the refusal for the caller to place.
import { sendJson } from "./api.js";

// Runs `command` with `args`; fills `facts` (text) and `img`; throws the ApiError.
export async function showSnapshot(command, args, facts, img, label) {
  facts.textContent = "Opening the stream...";
  img.hidden = true;
  try {
    const { result } = await sendJson("POST", `/api/commands/${command}`, args);
    facts.textContent = describe(result);
    img.src = `data:image/jpeg;base64,${result.jpeg}`;
    img.alt = `${label}: ${result.width}x${result.height} picture`;
    img.hidden = false;
    return result;
  } catch (error) {
    facts.textContent = "";
    throw error;
  }
}

function describe(shot) {
  const parts = [`${shot.codec} ${shot.width}x${shot.height}`];
  if (shot.fps) parts.push(`${shot.fps} fps`);
  if (shot.audio) parts.push(`audio ${shot.audio}`);
  if (shot.source === "recording") parts.push(`last recorded ${shot.at}`);
  return parts.join(", ");
}
