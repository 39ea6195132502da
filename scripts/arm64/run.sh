#!/usr/bin/env bash
# Runs a command inside the arm64 rootfs (scripts/arm64-rootfs.sh) under qemu-user, pinned to a real core.
#   scripts/arm64/run.sh [--bind DIR]... [--workdir DIR] CORE -- CMD [ARG]...
#   CORE: cortex-a53 | neoverse-n1
#
# - QEMU_CPU=CORE (qemu's default `max` has SVE and SME, on which LiteRT's XNNPACK gives wrong int8 results), and
#   scripts/arm64/cpuinfo/CORE.txt laid over /proc/cpuinfo, one block per host CPU (qemu-user 7.2 shows the host's
#   x86 cpuinfo, on which LiteRT crashes).
# - Its own mount and PID namespaces (unshare): /proc (of the new PID namespace), /sys, /dev, a fresh tmpfs /tmp,
#   the host's resolv.conf and CA bundle, the checkout (at the same path as on the host), each --bind DIR (same
#   path) and a pip cache kept in <cache>/pip-cache. Nothing is mounted on the host; when CMD ends, whatever it
#   left running is ended too.
# - A clean environment: PATH, HOME=/root, LANG=C.UTF-8, TERM, QEMU_CPU, the CA bundle's path for pip and Python's
#   ssl (SSL_CERT_FILE, PIP_CERT, REQUESTS_CA_BUNDLE), GLASSBRIDGE_ARM64_CORE=CORE. Add more with
#   `env NAME=VALUE CMD...`.
# - Working directory: the current one if it is the checkout, a --bind DIR or under one, else the checkout;
#   --workdir DIR sets it.
# Builds the rootfs first if it is missing or stale. Needs root. Exit status: CMD's.
set -euo pipefail
GB_ORIG_ARGS="$*"
GB_LOG_PREFIX=arm64-run
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [[ ${1:-} == --in-namespace ]]; then
  # ---- second half: inside the new mount and PID namespaces (we are PID 1 here), still the host's programs ----
  R=$GB_RUN_ROOTFS
  mount -t proc proc "$R/proc"
  mount --bind "$GB_RUN_CPUINFO" "$R/proc/cpuinfo"
  mount --rbind /sys "$R/sys"; mount --make-rslave "$R/sys"
  mount --rbind /dev "$R/dev"; mount --make-rslave "$R/dev"
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
  mount --bind "$GB_RUN_CA" "$R/etc/ssl/certs/ca-certificates.crt"
  mount -o remount,bind,ro "$R/etc/ssl/certs/ca-certificates.crt"
  [[ -e /etc/resolv.conf ]] && mount --bind /etc/resolv.conf "$R/etc/resolv.conf"
  mount --bind "$GB_ARM64_CACHE/pip-cache" "$R/root/.cache/pip"
  IFS=: read -r -a binds <<< "$GB_RUN_BINDS"
  for b in "${binds[@]}"; do
    [[ -n $b ]] || continue
    mkdir -p "$R$b"
    mount --rbind "$b" "$R$b"
  done
  cmd=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
       "TERM=${TERM:-dumb}" "QEMU_CPU=$GB_RUN_CORE" "GLASSBRIDGE_ARM64_CORE=$GB_RUN_CORE"
       SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt
       REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
       chroot "$R" /bin/sh -c 'cd "$0" || exit 125; exec "$@"' "$GB_RUN_WORKDIR" "${@:2}")
  # As PID 1 we reap orphans and pass on signals; the command keeps our stdin (a background job would get
  # /dev/null) and not the lock's descriptor.
  "${cmd[@]}" 9>&- <&0 &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
  rc=0
  while :; do
    wait "$child" && rc=0 || rc=$?
    kill -0 "$child" 2>/dev/null || break
  done
  exit "$rc"
fi

# ---- first half: on the host ----
usage() { gb_usage "$0"; exit "${1:-2}"; }
binds=("$GB_CHECKOUT") workdir=
while [[ $# -gt 0 ]]; do
  case $1 in
    --bind) [[ $# -ge 2 ]] || usage; d=$(cd "$2" && pwd) || gb_die "--bind $2: no such folder"; binds+=("$d"); shift 2 ;;
    --workdir) [[ $# -ge 2 ]] || usage; workdir=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) usage ;;
    *) break ;;
  esac
done
[[ $# -ge 3 && $2 == -- ]] || usage
core=$1; shift 2
cpuinfo_src=$GB_ARM64_DIR/cpuinfo/$core.txt
[[ " ${GB_ARM64_CORES[*]} " == *" $core "* && -f $cpuinfo_src ]] \
  || gb_die "unknown core '$core' (one of: ${GB_ARM64_CORES[*]})"
gb_need_root "scripts/arm64/run.sh"

rootfs=$("$GB_CHECKOUT/scripts/arm64-rootfs.sh" --quiet)
gb_ensure_binfmt

# /proc/cpuinfo for this core, one block per CPU the guest can see (qemu runs guest threads on the host's CPUs;
# sysconf and LiteRT's cpuinfo count them in /sys).
ncpu=$(nproc --all)
mkdir -p "$GB_ARM64_CACHE/run" "$GB_ARM64_CACHE/pip-cache"
cpuinfo=$GB_ARM64_CACHE/run/cpuinfo-$core-$ncpu
{ for ((i = 0; i < ncpu; i++)); do sed "s/^processor\t: 0$/processor\t: $i/" "$cpuinfo_src"; echo; done; } > "$cpuinfo.tmp"
mv "$cpuinfo.tmp" "$cpuinfo"

ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[[ -f $ca ]] || ca=/etc/ssl/certs/ca-certificates.crt
[[ -f $ca ]] || gb_die "no CA bundle on the host ($ca): pip inside could not reach the package index"

if [[ -z $workdir ]]; then
  workdir=$GB_CHECKOUT
  for b in "${binds[@]}"; do [[ $PWD == "$b" || $PWD == "$b"/* ]] && workdir=$PWD; done
fi

# A shared lock: scripts/arm64-rootfs.sh (exclusive) waits for the runs using the rootfs before replacing it.
# Bounded: a build takes ~5 min; one stuck for longer than GB_ARM64_LOCK_WAIT (s) is an error, not a silent hang.
exec 9>"$GB_ARM64_CACHE/lock"
flock -w "${GB_ARM64_LOCK_WAIT:-1800}" -s 9 || gb_die "the arm64 rootfs is locked by a build for more than \
${GB_ARM64_LOCK_WAIT:-1800} s ($GB_ARM64_CACHE/lock): is a scripts/arm64-rootfs.sh stuck? (fuser -v $GB_ARM64_CACHE/lock)"

export GB_RUN_ROOTFS=$rootfs GB_RUN_CPUINFO=$cpuinfo GB_RUN_CORE=$core GB_RUN_CA=$ca GB_RUN_WORKDIR=$workdir
GB_RUN_BINDS=$(IFS=:; echo "${binds[*]}"); export GB_RUN_BINDS
exec unshare --mount --pid --fork --propagation private --kill-child=TERM -- \
  /bin/bash "$GB_ARM64_DIR/run.sh" --in-namespace "$@"
