# Shared by scripts/arm64-rootfs.sh, scripts/arm64/run.sh and scripts/arm64/venv.sh (sourced, not run).
# Nothing here changes what the rootfs contains, so it is not part of the rootfs's cache key.

GB_ARM64_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)        # scripts/arm64
GB_CHECKOUT=$(cd "$GB_ARM64_DIR/../.." && pwd)                     # the checkout these scripts belong to
GB_ARM64_CACHE=${GLASSBRIDGE_ARM64_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glassbridge/arm64}
GB_ARM64_SUITE=${GLASSBRIDGE_ARM64_SUITE:-bookworm}
GB_ARM64_CORES=(cortex-a53 neoverse-n1)

gb_say() { echo "${GB_LOG_PREFIX:-arm64}: $*" >&2; }
gb_die() { echo "${GB_LOG_PREFIX:-arm64}: error: $*" >&2; exit 1; }

gb_need_root() {  # gb_need_root <what for>
  [[ $(id -u) -eq 0 ]] && return 0
  gb_die "$1 needs root (debootstrap, chroot, mount namespaces, binfmt_misc). Run it as root, e.g.: sudo $0 ${GB_ORIG_ARGS:-}"
}

# binfmt_misc must be mounted and qemu-aarch64 registered with the F (fix-binary) flag: the kernel then opens the
# host's qemu-aarch64-static once, at registration, and the rootfs needs no copy of qemu inside it.
gb_ensure_binfmt() {
  local bm=/proc/sys/fs/binfmt_misc
  if [[ ! -e $bm/status ]]; then
    if [[ $(id -u) -ne 0 ]]; then
      gb_die "binfmt_misc is not mounted. Run: sudo mount -t binfmt_misc binfmt_misc $bm"
    fi
    gb_say "mounting binfmt_misc on $bm"
    mount -t binfmt_misc binfmt_misc "$bm" || gb_die "could not mount binfmt_misc on $bm"
  fi
  if [[ $(head -n1 "$bm/qemu-aarch64" 2>/dev/null) != enabled ]]; then
    if [[ $(id -u) -ne 0 ]]; then
      gb_die "qemu-aarch64 is not registered with binfmt_misc. Run: sudo update-binfmts --enable qemu-aarch64"
    fi
    gb_say "registering qemu-aarch64 with binfmt_misc (update-binfmts, from qemu-user-static)"
    update-binfmts --enable qemu-aarch64 2>/dev/null \
      || { update-binfmts --import qemu-aarch64 && update-binfmts --enable qemu-aarch64; } \
      || gb_die "update-binfmts could not register qemu-aarch64 (is qemu-user-static installed?)"
  fi
  grep -q '^flags:.*F' "$bm/qemu-aarch64" \
    || gb_die "qemu-aarch64 is registered without the F (fix-binary) flag ($bm/qemu-aarch64): programs inside the rootfs cannot find qemu. Remove that registration (echo -1 > $bm/qemu-aarch64) and run again."
}

# The cache key of the rootfs: what it is built from (the build script, the package list, the suite).
gb_rootfs_key() {
  local f
  for f in "$GB_CHECKOUT/scripts/arm64-rootfs.sh" "$GB_ARM64_DIR/packages.txt"; do
    [[ -f $f ]] || gb_die "missing $f"
  done
  { sha256sum "$GB_CHECKOUT/scripts/arm64-rootfs.sh" "$GB_ARM64_DIR/packages.txt" | cut -d' ' -f1
    echo "suite=$GB_ARM64_SUITE arch=arm64"; } | sha256sum | cut -c1-16
}

# The package list without comments and blank lines, one per line.
gb_packages() { sed -e 's/#.*//' -e 's/[[:space:]]//g' "$GB_ARM64_DIR/packages.txt" | grep -v '^$'; }

# The comment block at the top of a script (after the shebang), as its --help.
gb_usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1"; }
