#!/bin/sh
# Container entrypoint (run by tini). When MODEL_DIR points at the shared model volume, copy into it each
# model version baked into the image that it lacks, and the image's `active` pointer if it has none: a new
# volume starts with what the image serves, and a promotion written to the volume (predict-model promote)
# is never overwritten. Copies land under a temporary name and are renamed, so replicas starting together
# never see a half-copied version. Then exec the command (node dist/main.js).
set -eu
# BAKED_MODEL_DIR: where the image keeps its model versions (a test points it elsewhere).
baked=${BAKED_MODEL_DIR:-/app/model}
if [ -n "${MODEL_DIR:-}" ] && [ "$MODEL_DIR" != "$baked" ] && [ -d "$baked" ]; then
  mkdir -p "$MODEL_DIR"
  for version in "$baked"/*/; do
    name=$(basename "$version")
    [ -e "$MODEL_DIR/$name" ] && continue
    tmp="$MODEL_DIR/.seed-$name-$$"
    cp -R "$version" "$tmp"
    mv -T "$tmp" "$MODEL_DIR/$name" 2>/dev/null || rm -rf "$tmp"
  done
  if [ -f "$baked/active" ] && [ ! -e "$MODEL_DIR/active" ]; then
    cp "$baked/active" "$MODEL_DIR/.seed-active-$$"
    mv -n "$MODEL_DIR/.seed-active-$$" "$MODEL_DIR/active"
    rm -f "$MODEL_DIR/.seed-active-$$"
  fi
fi
exec "$@"
