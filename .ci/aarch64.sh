#!/usr/bin/env bash
# The aarch64 (NEON) build of the kernels, checked without aarch64 hardware:
# Debian's cross compiler builds the kernel objects as CMakeLists.txt does
# for aarch64 (one 16-byte "baseline" level, NEON being baseline there) and
# tests/native/kernels_driver.cpp, which calls them on float32, float64 and
# float16 rows against long double references; QEMU user emulation runs
# it. Exits non-zero on a compile error, a warning or any mismatch.
# About a minute of compiling on 2 cores; the run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends \
    g++-aarch64-linux-gnu qemu-user
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cxx=aarch64-linux-gnu-g++
# CMakeLists.txt's kernel flags (LL_WARNINGS, LL_KERNEL_FLAGS), warnings as errors.
flags=(-std=c++17 -O3 -fno-math-errno -ffp-contract=fast -fno-semantic-interposition
       -Wall -Wextra -Wconversion -Wno-sign-conversion -Wno-psabi -Werror -Icsrc)
table=(-DLL_TABLE_NAME=kernels_baseline)
pids=()
# Every unit CMakeLists.txt compiles per SIMD level (csrc/kernels/isa_*.cpp).
for src in csrc/kernels/isa_*.cpp; do
  unit=$(basename "$src" .cpp)
  "$cxx" "${flags[@]}" -DLL_ISA=baseline -DLL_VEC_BYTES=16 "${table[@]}" \
    -c "$src" -o "$out/$unit.o" &
  pids+=($!)
done
"$cxx" "${flags[@]}" "${table[@]}" -c tests/native/kernels_driver.cpp -o "$out/driver.o"
for pid in "${pids[@]}"; do wait "$pid"; done
"$cxx" "$out"/*.o -o "$out/kernels_driver"

# The NEON code is there: vector FMAs and float16 <-> float32 conversions.
aarch64-linux-gnu-objdump -d "$out/isa_table.o" |
  awk '/\tfmla\tv/ {f++} /\tfcvtl\tv[0-9]+\.4s, v[0-9]+\.4h/ {w++}
       /\tfcvtn\tv[0-9]+\.4h, v[0-9]+\.4s/ {n++}
       END {printf "NEON in isa_table.o: %d vector fmla, %d fcvtl (float16 loads), %d fcvtn (stores)\n", f, w, n}'

qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/kernels_driver"
