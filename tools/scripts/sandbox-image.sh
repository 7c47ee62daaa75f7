#!/usr/bin/env bash
# Builds the default code-sandbox image aibox/sandbox:latest (ARCHITECTURE §8) from Debian packages, no registry needed:
# debootstrap a minimal bookworm with bash, coreutils, git, python3, node, ps and tini, then `docker import` it.
# Runs as user sandbox (uid/gid 1000) in /workspace, under tini, with `sleep infinity` as the default command.
# Run as root from anywhere; `make sandbox-image` calls it. A no-op when the image exists.
# Optional: AIBOX_SANDBOX_IMAGE_REBUILD=1 rebuilds anyway; AIBOX_SANDBOX_MIRROR=<url> overrides the Debian mirror
# (default: the first non-security URI apt uses, else http://deb.debian.org/debian).
set -euo pipefail

image="aibox/sandbox:latest"
suite="bookworm"
packages="bash,coreutils,git,python3,nodejs,ca-certificates,procps,tini"
uid=1000

log() { echo "sandbox-image: $*"; }
die() {
  echo "sandbox-image: $*" >&2
  exit 1
}

command -v docker >/dev/null 2>&1 ||
  die "docker is missing; install it with: apt-get install -y docker.io debootstrap"
docker info >/dev/null 2>&1 ||
  die "cannot reach the docker daemon; start it (dockerd) and check that this user may use it"

if docker image inspect "$image" >/dev/null 2>&1 && [[ -z "${AIBOX_SANDBOX_IMAGE_REBUILD:-}" ]]; then
  log "$image already exists; set AIBOX_SANDBOX_IMAGE_REBUILD=1 to rebuild it"
  exit 0
fi

debootstrap="$(command -v debootstrap || true)"
[[ -z "$debootstrap" && -x /usr/sbin/debootstrap ]] && debootstrap=/usr/sbin/debootstrap
[[ -n "$debootstrap" ]] ||
  die "debootstrap is missing; install it with: apt-get install -y docker.io debootstrap"
[[ "$(id -u)" -eq 0 ]] || die "debootstrap needs root; run this as root (e.g. sudo make sandbox-image)"

# The mirror apt already uses for $suite itself (deb822 stanzas first, then the one-line format), so the build works
# where apt works; security and third-party repositories list other suites and are skipped.
mirror="${AIBOX_SANDBOX_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  mirror="$(
    {
      for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" ]] || continue
        awk -v suite="$suite" '
          function flush() { if (has_suite && uri != "") print uri; uri = ""; has_suite = 0 }
          /^[[:space:]]*$/ { flush(); next }
          tolower($1) == "uris:" { uri = $2 }
          tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has_suite = 1 }
          END { flush() }' "$f"
      done
      cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk -v suite="$suite" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i + 1) == suite) print $i; break } }'
    } | grep -E '^https?://' | head -n 1 || true
  )"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

started=$SECONDS
previous="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
work="$(mktemp -d -p "${TMPDIR:-/var/tmp}")"
rootfs="$work/rootfs"

# Unmount whatever debootstrap may have left mounted (proc, sys, a bound /dev) before deleting, never across filesystems.
cleanup() {
  local mnt
  if command -v findmnt >/dev/null 2>&1; then
    { findmnt -rn -o TARGET | grep -F "$work/" || true; } | sort -r | while read -r mnt; do umount -l "$mnt" || true; done
  fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

log "debootstrap --variant=minbase $suite from $mirror into $rootfs"
if ! "$debootstrap" --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  [[ -f "$rootfs/debootstrap/debootstrap.log" ]] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
  die "debootstrap failed (see above)"
fi

log "configuring the rootfs: user sandbox ($uid:$uid), /workspace, hostname"
chroot "$rootfs" groupadd --gid "$uid" sandbox
chroot "$rootfs" useradd --uid "$uid" --gid "$uid" --home-dir /workspace --no-create-home --shell /bin/bash sandbox
mkdir -p "$rootfs/workspace"
chown "$uid:$uid" "$rootfs/workspace"
echo sandbox >"$rootfs/etc/hostname"
cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror $suite main
EOF
# Keep later `apt-get install`s in the sandbox as lean as this image.
mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/aibox-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF

log "trimming apt caches, docs, man pages and logs"
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/lintian "$rootfs"/usr/share/linda \
  "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/tmp/* "$rootfs"/var/tmp/* "$rootfs"/debootstrap
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
# Docker supplies /dev, resolv.conf and hosts at run time; do not ship the build host's (/dev is left out of the tar).
rm -f "$rootfs/etc/resolv.conf"
: >"$rootfs/etc/machine-id"

node_version="$(chroot "$rootfs" node --version)"
python_version="$(chroot "$rootfs" python3 --version | awk '{print $2}')"
git_version="$(chroot "$rootfs" git --version | awk '{print $3}')"

log "importing into docker as $image (node $node_version, python $python_version, git $git_version)"
if findmnt -rn -o TARGET | grep -qF "$rootfs/"; then
  die "something is still mounted under $rootfs: $(findmnt -rn -o TARGET | grep -F "$rootfs/" | tr '\n' ' ')"
fi
tar --numeric-owner --one-file-system --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -C "$rootfs" -c . |
  docker import \
  --change "USER $uid:$uid" \
  --change 'WORKDIR /workspace' \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8' \
  --change 'ENTRYPOINT ["/usr/bin/tini","--"]' \
  --change 'CMD ["sleep","infinity"]' \
  --change "LABEL org.opencontainers.image.created=\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\" org.opencontainers.image.title=\"aibox sandbox\" aibox.sandbox.suite=\"debian $suite\" aibox.sandbox.packages=\"$packages\" aibox.sandbox.versions=\"node $node_version, python $python_version, git $git_version\"" \
  --message "aibox sandbox: debootstrap $suite ($packages)" \
  - "$image" >/dev/null

# A rebuild leaves the old image untagged. It is not removed here: containers may still be starting from it
# (a `docker image rm` racing a `docker create` has hung dockerd 20.10).
if [[ -n "$previous" && "$previous" != "$(docker image inspect --format '{{.Id}}' "$image")" ]]; then
  log "the previous image ${previous#sha256:} is now untagged; remove it with: docker image prune"
fi
log "built $image ($(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}')) in $((SECONDS - started))s"
