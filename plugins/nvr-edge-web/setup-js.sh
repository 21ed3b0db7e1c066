#!/bin/sh
# The page's optional JavaScript library, from the npm registry at set-up time (never
# committed): hls.js, which plays the LL-HLS fallback where the browser has no native HLS
# (every browser but Safari). The page works without it (WebRTC, or native HLS).
# --no-package-lock: nothing records download URLs; the version is pinned here instead.
set -eu
HLS_JS_VERSION=1.6.19
here=$(cd "$(dirname "$0")" && pwd)
vendor="$here/nvr_edge_web/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm install --no-package-lock --no-save --no-audit --no-fund --ignore-scripts \
    --prefix "$work" "hls.js@$HLS_JS_VERSION"
mkdir -p "$vendor"
# The ES module build, imported by static/live.js from /static/vendor/hls.mjs
cp "$work/node_modules/hls.js/dist/hls.mjs" "$vendor/hls.mjs"
cp "$work/node_modules/hls.js/LICENSE" "$vendor/hls.js.LICENSE"
echo "hls.js $HLS_JS_VERSION -> $vendor/hls.mjs"
