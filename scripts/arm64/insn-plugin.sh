#!/usr/bin/env bash
# Builds QEMU's instruction-counting TCG plugin (tests/plugin/insn.c) for the host's qemu-aarch64, or finds it
# built; prints the path of the .so on stdout (progress on stderr).
#   scripts/arm64/insn-plugin.sh [--force]
#
# Debian ships no TCG plugins, so this fetches the Debian source package of the installed qemu-user
# (`dpkg-query -W -f='${source:Version}' qemu-user`, e.g. 1:7.2+dfsg-7+deb12u18) from Debian's mirror with
# `apt-get source --download-only` on a private sources list (deb-src lines in <cache>/apt; the host's apt
# configuration is not touched), extracts the two files it needs, include/qemu/qemu-plugin.h and
# tests/plugin/insn.c, and compiles them with `gcc -shared -fPIC` and glib's cflags. The plugin API version
# must match the qemu that loads it, hence one build per source version.
#
# Where: <cache>/qemu-plugin/<source version>/libinsn.so with <cache> = ${GLASSBRIDGE_ARM64_CACHE:-~/.cache/glassbridge/arm64};
# the .dsc and tarballs stay in <cache>/qemu-plugin/src (downloaded once; nothing of QEMU enters the checkout).
# Built and up to date: does nothing.
#
# Loading it: only the dynamically linked /usr/bin/qemu-aarch64 (package qemu-user) can load plugins; the
# qemu-aarch64-static that binfmt_misc runs inside scripts/arm64/run.sh cannot (no -plugin option). So run the
# guest program with the host's qemu-aarch64 directly, the rootfs as its prefix:
#   qemu-aarch64 -L ROOTFS -cpu cortex-a53 -plugin LIBINSN,inline=on -d plugin -D LOG ROOTFS/usr/bin/python3 ...
# (or the environment: QEMU_LD_PREFIX, QEMU_CPU, QEMU_PLUGIN=file=LIBINSN,inline=on, QEMU_LOG=plugin,
# QEMU_LOG_FILENAME). At exit the plugin writes "insns: N" (inline=on: one counter for all threads) or
# "total insns: N" (per-vCPU callbacks, slower) to the log. scripts/arm64/insn_counts.sh does this.
# Needs gcc, libglib2.0-dev and qemu-user (installed when missing, as root) and Debian's mirror.
set -euo pipefail
GB_ORIG_ARGS="$*"
GB_LOG_PREFIX=arm64-insn-plugin
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

force=0
for a in "$@"; do
  case $a in
    --force) force=1 ;;
    -h|--help) gb_usage "$0"; exit 0 ;;
    *) gb_die "unknown argument '$a' (try --help)" ;;
  esac
done

# What it needs on the host.
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v pkg-config >/dev/null || need+=(pkg-config)
pkg-config --exists glib-2.0 2>/dev/null || need+=(libglib2.0-dev)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
if [[ ${#need[@]} -gt 0 ]]; then
  [[ $(id -u) -eq 0 ]] || gb_die "missing ${need[*]}. Run: sudo apt-get install --no-install-recommends ${need[*]}"
  gb_say "installing ${need[*]} (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2; }
fi

qemu_pkg=qemu-user
dpkg-query -W qemu-user >/dev/null 2>&1 || gb_die "qemu-user is not installed (qemu-aarch64 is not Debian's?)"
srcver=$(dpkg-query -W -f='${source:Version}' "$qemu_pkg")     # 1:7.2+dfsg-7+deb12u18 (no binNMU suffix)
[[ -n $srcver ]] || gb_die "could not read the source version of $qemu_pkg"
dir=$GB_ARM64_CACHE/qemu-plugin
out=$dir/${srcver//:/_}/libinsn.so
stamp=$out.stamp
want="qemu=$srcver plugin=tests/plugin/insn.c script=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
if [[ $force -eq 0 && -f $out && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  gb_say "up to date: $out"
  echo "$out"
  exit 0
fi

# The source package, from a private deb-src list (no change to /etc/apt).
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[[ -n $codename ]] || gb_die "no VERSION_CODENAME in /etc/os-release: is this Debian?"
mirror=${GLASSBRIDGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${GLASSBRIDGE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
apt=$dir/apt src=$dir/src
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$src"
{
  echo "deb-src [signed-by=$keyring] $mirror $codename main"
  echo "deb-src [signed-by=$keyring] $mirror $codename-updates main"
  echo "deb-src [signed-by=$keyring] $security $codename-security main"
} > "$apt/sources.list"
aptopts=(-q -o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
         -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
dsc=$src/qemu_${srcver#*:}.dsc
if [[ ! -f $dsc ]]; then
  gb_say "fetching the Debian source of qemu $srcver ($mirror)"
  apt-get "${aptopts[@]}" update >&2
  (cd "$src" && apt-get "${aptopts[@]}" source --download-only "qemu=$srcver" >&2) \
    || gb_die "apt-get source qemu=$srcver failed (is $mirror reachable? is $srcver still on it?)"
fi
[[ -f $dsc ]] || gb_die "no $dsc after apt-get source"

# Unpack it (Debian's patches applied: dpkg-source -x) and keep just the two files.
work=$(mktemp -d "$dir/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
gb_say "unpacking $(basename "$dsc")"
dpkg-source --no-check -x "$dsc" "$work/qemu" >/dev/null
hdr=$work/qemu/include/qemu/qemu-plugin.h
c=$work/qemu/tests/plugin/insn.c
[[ -f $hdr && -f $c ]] || gb_die "no include/qemu/qemu-plugin.h or tests/plugin/insn.c in qemu $srcver"

mkdir -p "$(dirname "$out")"
# shellcheck disable=SC2046
gcc -O2 -shared -fPIC -Wall -I"$(dirname "$hdr")" $(pkg-config --cflags glib-2.0) -o "$out.tmp" "$c" \
  $(pkg-config --libs glib-2.0)

# Check that this qemu loads it and that it counts: the rootfs's /bin/true, when the rootfs is built.
rootfs=$GB_ARM64_CACHE/rootfs
if [[ -x $rootfs/bin/true ]]; then
  qemu-aarch64 -L "$rootfs" -cpu cortex-a53 -plugin "$out.tmp",inline=on -d plugin -D "$work/check.log" \
    "$rootfs/bin/true" || gb_die "qemu-aarch64 could not run /bin/true with $out.tmp loaded"
  n=$(sed -n 's/^insns: //p' "$work/check.log")
  [[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || gb_die "the plugin counted nothing for /bin/true: $(cat "$work/check.log")"
  gb_say "check: /bin/true runs $n guest instructions (cortex-a53)"
fi
mv "$out.tmp" "$out"
echo "$want" > "$stamp"
gb_say "built: $out (from qemu $srcver)"
echo "$out"
