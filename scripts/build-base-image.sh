#!/usr/bin/env bash
# Builds a local Debian bookworm base image with Python 3.11 and venv, from Debian's packages
# by debootstrap, for machines that reach Debian's mirror but no image registry. Use it as
#   docker build --build-arg BASE_IMAGE=localhost/genrekit-base:bookworm ...
# Usage: scripts/build-base-image.sh [ENGINE] [TAG]   (ENGINE: podman or docker; run as root)
set -euo pipefail
engine=${1:-podman}
tag=${2:-localhost/genrekit-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
rootfs=$(mktemp -d /var/tmp/genrekit-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" "$mirror" >/dev/null
# A base image carries no package lists, caches or docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
tar -C "$rootfs" -c . | "$engine" import --change 'CMD ["python3"]' - "$tag" >/dev/null
echo "$tag"
