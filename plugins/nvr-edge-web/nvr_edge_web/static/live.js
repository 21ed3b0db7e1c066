// Hook point for the live relay (WebRTC over WHEP, LL-HLS fallback).
//
// `tile` is the camera's `.live` element (it holds a "live view: coming" placeholder);
// `camera` is the entry from GET /api/cameras: {id, name, state, allowed, live: {whep, hls}}.
// The relay's code replaces this body: negotiate with camera.live.whep (Bearer token),
// fall back to camera.live.hls via mediaUrl() from api.js, and put a <video> in `tile`.
// The app calls it once per camera whose token allows "view".
export function startLive(tile, camera) {
  void tile;
  void camera;
}
