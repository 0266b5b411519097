#!/usr/bin/env bash
# Make (once, then cached) a local stand-in for python:3.11-slim-bookworm, for building the
# Dockerfile where no registry can be pulled from: Debian bookworm from debootstrap, with Python
# 3.11 and pip, imported into buildah's storage as $BASE_IMAGE.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/container_env.sh

if buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  exit 0
fi
mkdir -p "$CACHE_DIR"
rootfs_tar="$CACHE_DIR/python-bookworm-rootfs.tar"
if [[ ! -s $rootfs_tar ]]; then
  # The Debian mirror this machine's apt already uses.
  mirror=$( (cat /etc/apt/sources.list.d/* /etc/apt/sources.list 2>/dev/null || true) \
           | grep -oE '^(URIs:|deb) *https?://[^ ]+/debian/?$' | head -1 | grep -oE 'https?://[^ ]+')
  rootfs=$(mktemp -d)
  debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates bookworm "$rootfs" "$mirror"
  # Like the official python image: pip may install into this interpreter.
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -cf "$rootfs_tar.partial" .
  mv "$rootfs_tar.partial" "$rootfs_tar"
  rm -rf "$rootfs"
fi
container=$(buildah from scratch)
buildah add "$container" "$rootfs_tar" / >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd python3 "$container"
buildah commit --rm "$container" "$BASE_IMAGE" >/dev/null
echo "base image $BASE_IMAGE ready"
