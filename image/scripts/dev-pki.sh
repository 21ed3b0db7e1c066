#!/usr/bin/env bash
# dev-pki.sh DIR: a development update PKI in DIR (made once, reused): ca.cert.pem (the
# keyring an image trusts), signing.key.pem + signing.cert.pem (issued by that CA, signs
# bundles). For labs and tests only: a fleet's CA and signing key live outside the
# repository and the build machine's output (NVR_UPDATE_CA, NVR_UPDATE_CERT, NVR_UPDATE_KEY).
#   dev-pki.sh DIR [NAME]   NAME goes into the subjects (default "development")
set -euo pipefail
dir=$1; name=${2:-development}
[ -f "$dir/signing.cert.pem" ] && exit 0
mkdir -p "$dir"; chmod 700 "$dir"
tmp=$(mktemp -d "$dir/.new.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -days 3650 -subj "/O=nvr-edge/CN=nvr-edge $name update CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$tmp/ca.key.pem" -out "$tmp/ca.cert.pem" 2>/dev/null
openssl req "${ec[@]}" -subj "/O=nvr-edge/CN=nvr-edge $name bundle signer" \
    -keyout "$tmp/signing.key.pem" -out "$tmp/signing.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' > "$tmp/ext"
openssl x509 -req -in "$tmp/signing.csr" -CA "$tmp/ca.cert.pem" -CAkey "$tmp/ca.key.pem" \
    -CAcreateserial -days 3650 -extfile "$tmp/ext" -out "$tmp/signing.cert.pem" 2>/dev/null
rm -f "$tmp/signing.csr" "$tmp/ext" "$tmp/ca.cert.srl"
mv "$tmp"/* "$dir/"
