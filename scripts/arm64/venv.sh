#!/usr/bin/env bash
# The venv inside the arm64 rootfs with the project's dependencies as aarch64 wheels from the package index.
#   scripts/arm64/venv.sh [--extras test,bench] [--also DIR[EXTRA,...]]... [--no-deps FILE]... [--core CORE]
# Venv: /opt/glassbridge-venv in the rootfs (a new rootfs starts without one). Its requirements are
# [project].dependencies of pyproject.toml (plus the extras asked for) and those of each --also DIR/pyproject.toml
# with the extras named in brackets (e.g. companion[ocr], rig; their requirements on glassbridge* are left to the
# wheels); then each --no-deps FILE, a hash-pinned requirements file installed with --no-deps --require-hashes
# (companion/ocr-engine.txt: a wheel whose declared dependencies must not come along). All of it is hashed into
# /opt/glassbridge-venv/.glassbridge-requirements, and the venv is made anew only when that hash changes.
# Binary wheels only (--only-binary=:all:): the rootfs has no compiler, so a dependency without an aarch64 wheel
# fails here by name. The glassbridge wheel itself is installed separately (pip install --no-deps).
# Prints the venv's python on stdout.
set -euo pipefail
GB_ORIG_ARGS="$*"
GB_LOG_PREFIX=arm64-venv
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

extras= core=neoverse-n1 also=() nodeps=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --extras) extras=$2; shift 2 ;;
    --also)  # DIR or DIR[EXTRA,...]: passed on as /abs/DIR/pyproject.toml[EXTRA,...]
      dir=${2%%[*}; bracket=${2#"$dir"}
      also+=("$(cd "$dir" && pwd)/pyproject.toml$bracket"); shift 2 ;;
    --no-deps) [[ -f $2 ]] || gb_die "--no-deps $2: no such file"; nodeps+=("$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
    --core) core=$2; shift 2 ;;
    -h|--help) gb_usage "$0"; exit 0 ;;
    *) gb_die "unknown argument '$1' (try --help)" ;;
  esac
done

venv=/opt/glassbridge-venv
rootfs=$("$GB_CHECKOUT/scripts/arm64-rootfs.sh" --quiet)
mkdir -p "$GB_ARM64_CACHE/run"
reqs=$GB_ARM64_CACHE/run/requirements.txt
python3 - "$GB_CHECKOUT/pyproject.toml" "$extras" "${also[@]}" > "$reqs.tmp" <<'PY'
import re, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
reqs = list(project["dependencies"])
for extra in filter(None, sys.argv[2].split(",")):
    reqs += project["optional-dependencies"][extra]
for other in sys.argv[3:]:
    path, _, wanted = other.partition("[")
    other_project = tomllib.load(open(path, "rb"))["project"]
    other_reqs = list(other_project["dependencies"])
    for extra in filter(None, wanted.rstrip("]").split(",")):
        other_reqs += other_project["optional-dependencies"][extra]
    reqs += [r for r in other_reqs if not re.match(r"glassbridge\b", r)]
print("\n".join(reqs))
PY
mv "$reqs.tmp" "$reqs"
# The --no-deps files, one after another (pip reads their comments as comments).
nodeps_reqs=$GB_ARM64_CACHE/run/requirements-no-deps.txt
cat /dev/null "${nodeps[@]}" > "$nodeps_reqs"
want=$(cat "$reqs" "$nodeps_reqs" | sha256sum | cut -c1-16)
if [[ -f $rootfs$venv/.glassbridge-requirements && $(cat "$rootfs$venv/.glassbridge-requirements") == "$want" ]]; then
  gb_say "up to date: $venv in $rootfs"
  echo "$venv/bin/python"
  exit 0
fi

gb_say "making $venv in the rootfs: $(wc -l < "$reqs") requirements of pyproject.toml${extras:+ (extras: $extras)}${nodeps:+, then ${nodeps[*]} without their dependencies}, aarch64 wheels"
t0=$(date +%s)
"$GB_ARM64_DIR/run.sh" --bind "$GB_ARM64_CACHE/run" "$core" -- /bin/sh -euc '
  venv=$1
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: -r "$2"
  if [ -s "$3" ]; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: --no-deps --require-hashes \
      -r "$3"
  fi
  "$venv/bin/python" -m pip list --disable-pip-version-check --format=freeze > "$venv/.glassbridge-freeze.txt"
' sh "$venv" "$reqs" "$nodeps_reqs" >&2
echo "$want" > "$rootfs$venv/.glassbridge-requirements"
gb_say "venv made in $(( $(date +%s) - t0 )) s: $(wc -l < "$rootfs$venv/.glassbridge-freeze.txt") packages ($rootfs$venv/.glassbridge-freeze.txt)"
echo "$venv/bin/python"
