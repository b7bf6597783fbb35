#!/bin/sh
# Installs zkfs and its mount helper:
#   /usr/local/bin/zkfs       the filesystem (built with `swift build -c release --product zkfs`)
#   /sbin/mount.zkfs          so that `mount -t zkfs ...` and fstab lines of type zkfs work
#   /etc/systemd/system/zkfs@.service   (example unit, not enabled)
# Usage: sudo mount-helpers/install.sh [path/to/zkfs]   (default: .build/release/zkfs, else .build/debug/zkfs)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
binary=${1:-}
if [ -z "$binary" ]; then
    for candidate in "$repo/.build/release/zkfs" "$repo/.build/debug/zkfs"; do
        if [ -x "$candidate" ]; then binary=$candidate; break; fi
    done
fi
[ -n "$binary" ] && [ -x "$binary" ] || { echo "install.sh: no zkfs binary; build it first" >&2; exit 1; }
command -v fusermount3 >/dev/null || echo "install.sh: warning: fusermount3 not found (apt-get install fuse3)" >&2

install -m 0755 "$binary" /usr/local/bin/zkfs
install -m 0755 "$here/mount.zkfs" /sbin/mount.zkfs
install -d /etc/zkfs
if [ -d /etc/systemd/system ]; then
    install -m 0644 "$here/zkfs@.service" /etc/systemd/system/zkfs@.service
fi
echo "installed /usr/local/bin/zkfs and /sbin/mount.zkfs"
echo "try: mount -t zkfs 127.0.0.1:2181 /mnt/zk -o ro"
