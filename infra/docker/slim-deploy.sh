#!/bin/sh
# slim-deploy SRC DEST ARCH: keep what the service runs from a `pnpm deploy` folder (package.json, dist/,
# model/, node_modules/) and drop onnxruntime-node's binaries for other platforms (≈ 245 MB of 290 MB).
# ARCH is Docker's TARGETARCH (amd64 | arm64). Used by infra/docker/Dockerfile and check-images.
set -eu
src=$1 dest=$2 arch=$3
case "$arch" in amd64) keep=x64 ;; arm64) keep=arm64 ;; *) echo "unsupported arch $arch" >&2; exit 1 ;; esac
mkdir -p "$dest"
for part in package.json dist model node_modules; do
  [ -e "$src/$part" ] && cp -a "$src/$part" "$dest/"
done
for bin in "$dest"/node_modules/.pnpm/onnxruntime-node@*/node_modules/onnxruntime-node/bin/napi-v*; do
  [ -d "$bin" ] || continue
  for os in "$bin"/*; do
    [ "$(basename "$os")" = linux ] || rm -rf "$os"
  done
  for cpu in "$bin"/linux/*; do
    [ "$(basename "$cpu")" = "$keep" ] || rm -rf "$cpu"
  done
done
test -f "$dest/dist/main.js" || { echo "slim-deploy: $dest/dist/main.js is missing (did the build run?)" >&2; exit 1; }
