// What the token allows (GET /api/me): admin controls only for an admin over every camera,
// and a notice while the token is about to expire.
import { getJson } from "./api.js";

const EXPIRY_NOTICE_S = 600; // warn in the last 10 minutes
let expiryTimer = null;

export async function loadAccess() {
  const me = await getJson("/api/me");
  document.body.dataset.admin = me.admin ? "yes" : "no";
  for (const element of document.querySelectorAll(".admin-only")) element.hidden = !me.admin;
  watchExpiry(me);
  return me;
}

function watchExpiry(me) {
  clearInterval(expiryTimer);
  const expiresAt = Date.now() + me.expires_in_s * 1000; // the box's clock, not the viewer's
  const notice = document.getElementById("expiry");
  const show = () => {
    const left = Math.round((expiresAt - Date.now()) / 1000);
    notice.hidden = left > EXPIRY_NOTICE_S;
    if (left <= 0) notice.textContent = "This token has expired: ask for a new one.";
    else notice.textContent = `This token expires in ${Math.ceil(left / 60)} min `
      + `(${new Date(expiresAt).toLocaleTimeString()}): ask for a new one.`;
  };
  show();
  expiryTimer = setInterval(show, 15000);
}
