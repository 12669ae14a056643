#!/usr/bin/env bash
# Prepares what a GPU device check carries: a minimal Java runtime (jlink), the agent jar and the
# shared reference script, packed as .device/bundle.tar.gz (git-ignored; well under the 64 MiB limit).
#
#   scripts/device-bundle.sh        then, on the device machine: scripts/device-check.sh
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$repo"
[ -f agent/target/diem-agent.jar ] || ./mvnw -B -q -DskipTests package
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
jlink --add-modules java.base,java.naming,java.sql,java.management,jdk.management,jdk.unsupported,jdk.crypto.ec,jdk.incubator.vector \
    --strip-debug --no-man-pages --no-header-files --compress=2 --output "$stage/runtime"
cp agent/target/diem-agent.jar "$stage/"
cp "${DIEM_HF_REFERENCE:-$repo/../shared/gpu/hf_reference.py}" "$stage/hf_reference.py"
mkdir -p .device
tar czf .device/bundle.tar.gz -C "$stage" .
echo "wrote .device/bundle.tar.gz ($(du -h .device/bundle.tar.gz | cut -f1))"
