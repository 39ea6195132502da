#!/usr/bin/env bash
# Builds the arm64 Debian rootfs the package is tested in under qemu-user (issue 13), or finds it built.
#   scripts/arm64-rootfs.sh [--force] [--quiet]
# Prints the rootfs's path on stdout; progress goes to stderr.
#
# Where: ${GLASSBRIDGE_ARM64_CACHE:-~/.cache/glassbridge/arm64}/rootfs-<key>, with `rootfs` a link to the current
# one. <key> hashes what it is built from: this script, scripts/arm64/packages.txt and the suite
# (GLASSBRIDGE_ARM64_SUITE, bookworm). A missing or half-built rootfs, or a changed key, builds it anew; otherwise
# this does nothing. The .debs are kept in <cache>/debs, so a rebuild downloads only what changed.
# How: debootstrap --foreign (on the host), then its second stage inside the rootfs, run by qemu-aarch64-static
# through binfmt_misc, in a private mount namespace (nothing it mounts is seen on the host).
# Mirror: GLASSBRIDGE_ARM64_MIRROR (http://deb.debian.org/debian). Needs root; installs debootstrap,
# qemu-user-static and binfmt-support when missing (scripts/system-packages.sh arm64).
# One build at a time: <cache>/lock (flock), exclusive here, shared by scripts/arm64/run.sh while a run uses it.
set -euo pipefail
GB_ORIG_ARGS="$*"
GB_LOG_PREFIX=arm64-rootfs
source "$(dirname "${BASH_SOURCE[0]}")/arm64/common.sh"

force=0 quiet=0
for a in "$@"; do
  case $a in
    --force) force=1 ;;
    --quiet) quiet=1 ;;
    -h|--help) gb_usage "$0"; exit 0 ;;
    *) gb_die "unknown argument '$a' (try --help)" ;;
  esac
done
say() { [[ $quiet -eq 1 ]] || gb_say "$@"; }

mirror=${GLASSBRIDGE_ARM64_MIRROR:-http://deb.debian.org/debian}
key=$(gb_rootfs_key)
cache=$GB_ARM64_CACHE
final=$cache/rootfs-$key
stamp=.glassbridge-rootfs-key

up_to_date() { [[ $force -eq 0 && -f $final/$stamp && $(cat "$final/$stamp") == "$key" ]]; }

# The quick path: nothing to do, no root needed.
if up_to_date; then
  [[ $(readlink "$cache/rootfs" 2>/dev/null) == "rootfs-$key" ]] || { gb_need_root "updating $cache/rootfs"; ln -sfn "rootfs-$key" "$cache/rootfs"; }
  say "up to date: $final"
  echo "$final"
  exit 0
fi

gb_need_root "building the arm64 rootfs"
"$GB_CHECKOUT/scripts/system-packages.sh" arm64 >&2
gb_ensure_binfmt

mkdir -p "$cache/debs"
exec 9>"$cache/lock"
if ! flock -n -x 9; then
  gb_say "waiting for another build or run of the arm64 rootfs to finish ($cache/lock)"
  flock -x 9
fi
if up_to_date; then  # built by the run we waited for
  ln -sfn "rootfs-$key" "$cache/rootfs"
  say "up to date: $final"
  echo "$final"
  exit 0
fi

# Nothing may be mounted under a folder we are about to delete (a runner's mounts live in their own namespace, so
# this only catches something mounted by hand).
safe_rm() {
  local d=$1
  [[ -e $d ]] || return 0
  if findmnt -rn -o TARGET | grep -qF "$d"; then gb_die "something is mounted under $d; unmount it first"; fi
  rm -rf --one-file-system "$d"
}

packages=$(gb_packages | paste -sd, -)
partial=$final.partial
safe_rm "$partial"
safe_rm "$final"
t0=$(date +%s)

say "building the arm64 $GB_ARM64_SUITE rootfs in $final (key $key) from $mirror"
say "packages: $packages"
say "stage 1/3: debootstrap --foreign (downloads and unpacks on the host)"
debootstrap --arch=arm64 --variant=minbase --foreign --include="$packages" --cache-dir="$cache/debs" \
  "$GB_ARM64_SUITE" "$partial" "$mirror" > "$cache/debootstrap-stage1.log" 2>&1 \
  || { tail -n 30 "$cache/debootstrap-stage1.log" >&2; gb_die "debootstrap's first stage failed (log: $cache/debootstrap-stage1.log)"; }
t1=$(date +%s)
say "stage 1 done in $((t1 - t0)) s"

# The rest runs arm64 binaries through qemu: a clean environment (nothing of the host's leaks in), a private mount
# namespace, a real core rather than qemu's default `max` (SVE, SME).
in_rootfs() {
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    QEMU_CPU=neoverse-n1 unshare -m --propagation private chroot "$partial" "$@"
}

say "stage 2/3: debootstrap --second-stage under qemu-aarch64 (configures every package; the slow part)"
in_rootfs /debootstrap/debootstrap --second-stage > "$cache/debootstrap-stage2.log" 2>&1 \
  || { tail -n 30 "$cache/debootstrap-stage2.log" >&2; tail -n 30 "$partial/debootstrap/debootstrap.log" >&2 2>/dev/null || true
       gb_die "debootstrap's second stage failed (log: $cache/debootstrap-stage2.log)"; }
t2=$(date +%s)
say "stage 2 done in $((t2 - t1)) s"

say "stage 3/3: finishing (apt sources, mount points, cleaning)"
cat > "$partial/etc/apt/sources.list" <<SOURCES
deb $mirror $GB_ARM64_SUITE main
deb $mirror $GB_ARM64_SUITE-updates main
deb http://deb.debian.org/debian-security $GB_ARM64_SUITE-security main
SOURCES
# Mount points of scripts/arm64/run.sh: DNS and the host's CA bundle are laid over these files at run time.
rm -f "$partial/etc/resolv.conf"; : > "$partial/etc/resolv.conf"
[[ -f $partial/etc/ssl/certs/ca-certificates.crt ]] || gb_die "ca-certificates did not produce /etc/ssl/certs/ca-certificates.crt"
mkdir -p "$partial/root/.cache/pip" "$partial/opt"
in_rootfs /bin/sh -c 'apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log'
# A smoke test of what the runs need.
in_rootfs /usr/bin/python3 -c 'import ssl, venv, ensurepip, platform; assert platform.machine() == "aarch64"' \
  || gb_die "python3 in the new rootfs does not work"
[[ -f $partial/usr/include/python3.11/Python.h && -f $partial/usr/include/aarch64-linux-gnu/python3.11/pyconfig.h ]] \
  || gb_die "the rootfs lacks aarch64 CPython 3.11 headers (libpython3.11-dev)"
t3=$(date +%s)
size=$(du -sx --block-size=1M "$partial" | cut -f1)
cat > "$partial/etc/glassbridge-rootfs.txt" <<INFO
key=$key
suite=$GB_ARM64_SUITE
mirror=$mirror
packages=$packages
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
seconds_stage1=$((t1 - t0))
seconds_stage2=$((t2 - t1))
seconds_total=$((t3 - t0))
size_mb=$size
python=$(in_rootfs /usr/bin/python3 -c 'import platform; print(platform.python_version())')
INFO
echo "$key" > "$partial/$stamp"
mv "$partial" "$final"
ln -sfn "rootfs-$key" "$cache/rootfs"

# Rootfs of other keys are stale now: remove them (we hold the lock exclusively, so no run is using them).
for old in "$cache"/rootfs-*; do
  [[ -d $old && $old != "$final" ]] || continue
  say "removing the stale rootfs $old"
  safe_rm "$old"
done

say "built in $((t3 - t0)) s (stage 1 $((t1 - t0)) s, stage 2 $((t2 - t1)) s), ${size} MB: $final"
echo "$final"
