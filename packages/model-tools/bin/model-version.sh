#!/usr/bin/env bash
# Sourced by a service's train.sh: sets and exports MODEL_VERSION, the version directory training writes.
# Version directories are immutable once written (their files are hashed in the card), so training never
# overwrites one: by default it writes the next whole number after the newest version in model/, as a
# candidate (served only once promoted); MODEL_VERSION=<v> picks another number that must not exist yet.
model_root=${1:?usage: source model-version.sh <model dir>}
if [ -z "${MODEL_VERSION:-}" ]; then
  newest=$(find "$model_root" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9]+' -printf '%f\n' 2>/dev/null | sort -n | tail -n 1)
  MODEL_VERSION=$(( ${newest:-0} + 1 ))
fi
if ! [[ "$MODEL_VERSION" =~ ^[0-9]+$ ]]; then
  echo "MODEL_VERSION must be a whole number, got '$MODEL_VERSION'" >&2
  exit 1
fi
if [ -e "$model_root/$MODEL_VERSION" ]; then
  echo "model/$MODEL_VERSION exists and versions are immutable: choose a new MODEL_VERSION (or leave it unset for the next one)" >&2
  exit 1
fi
export MODEL_VERSION
echo "training writes model/$MODEL_VERSION/ (a candidate if another version exists: promote it to serve)"
