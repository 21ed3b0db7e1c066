# Shared by image/build and scripts/update-requirements (sourced, not run): isolated pip,
# the target platform's pip options, and wheels of this checkout's distributions.

pip_isolated() {
    # Isolated: the host's pip configuration (constraints, a local wheel folder, extra
    # indexes) must not leak into the image. Only the host's index URL is taken, if set.
    local index=${PIP_INDEX_URL:-}
    [ -n "$index" ] || index=$(python3 -m pip config get global.index-url 2>/dev/null || true)
    PIP_CONFIG_FILE=/dev/null python3 -m pip --isolated --disable-pip-version-check \
        --no-input "$@" ${index:+--index-url "$index"}
}

# target_pip_args PYVER PLATFORMS...: fills the array PIP_TARGET_ARGS
target_pip_args() {
    local pyver=$1 p
    shift
    PIP_TARGET_ARGS=()
    for p in "$@"; do PIP_TARGET_ARGS+=(--platform "$p"); done
    PIP_TARGET_ARGS+=(--python-version "$pyver" --implementation cp --abi "cp${pyver/./}"
                      --only-binary=:all:)
}

# Distributions under plugins/ that are not firmware: simulated cameras, demo, benchmarks and
# the test kit (pytest, a Chromium driver) never go into the image, nor into its pins.
NOT_FIRMWARE_PLUGINS=(nvr-edge-testing)

# checkout_wheels SRC_DIR WORK_DIR OUT_DIR: wheels of the core and of every plugins/*/ with a
# pyproject.toml except NOT_FIRMWARE_PLUGINS, built from a copy of the tracked and new files
# (the work tree gets no build/ folder; ignored files stay out).
checkout_wheels() {
    local src_dir=$1 copy="$2/src" out=$3 p
    rm -rf "$copy"; mkdir -p "$copy" "$out"
    git -C "$src_dir" ls-files -z --cached --others --exclude-standard -- . ':!image' \
        | tar -C "$src_dir" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$copy" -xf -
    local dists=("$copy")
    for p in "$copy"/plugins/*/; do
        [[ " ${NOT_FIRMWARE_PLUGINS[*]} " == *" $(basename "$p") "* ]] && continue
        [ -f "$p/pyproject.toml" ] && dists+=("$p")
    done
    SOURCE_DATE_EPOCH=$(git -C "$src_dir" log -1 --format=%ct) \
        pip_isolated wheel -q --no-deps -w "$out" "${dists[@]}"
}
