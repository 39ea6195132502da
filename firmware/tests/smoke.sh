#!/usr/bin/env bash
# Smoke test of a firmware image: boot it, handshake over its UART socket with gb-fw-client, get a Status,
# then a small bulk transfer verified by the firmware's SHA-256.
#   smoke.sh host  path/to/glassbridge-fw-host  path/to/gb-fw-client
#   smoke.sh mps2-an386|netduinoplus2  path/to/glassbridge-fw.elf  path/to/gb-fw-client
set -euo pipefail
board=$1 image=$2 client=$3
if [[ ! -x $client ]]; then
  echo "smoke.sh: $client is missing: build the host port first" \
       "(.venv/bin/cmake -S firmware -B build/fw-host -G Ninja -DGB_BOARD=host && .venv/bin/cmake --build build/fw-host)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/gb-fw-smoke.XXXXXX)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
sock=$dir/uart.sock
if [[ $board == host ]]; then
  "$image" --uart "unix:$sock" --ctl "$dir/ctl.sock" --state "$dir/state" >"$dir/log" 2>&1 &
else
  qemu-system-arm -M "$board" -nographic -monitor none -kernel "$image" \
    -chardev "socket,id=u0,path=$sock,server=on,wait=off" -serial chardev:u0 >"$dir/log" 2>&1 &
fi
pid=$!
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
"$client" --timeout 10000 "$sock" status
"$client" --timeout 20000 "$sock" transfer 20000
