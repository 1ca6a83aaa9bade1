#!/usr/bin/env bash
# bench/libs.sh DIR - copy the shared libraries the built drivers
# (build-bench/bench/bench_*) need beyond the C library into DIR, so that
# the drivers run on a machine of the same architecture that has no
# compiler or peers' packages (a lent machine without network):
#
#   bench/run.sh --smoke && bench/libs.sh build-bench/libs
#   # copy the tree with build-bench/bench and build-bench/libs, then there:
#   export LD_LIBRARY_PATH=$PWD/build-bench/libs
#   ldconfig -p | grep -q 'libstdc++.so.6 ' ||
#     export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$PWD/build-bench/libs/fallback
#   bench/run.sh --no-build --no-install --threads "1 2 4 8 16"
#
# The C++ runtime (libstdc++, libgcc_s) goes to DIR/fallback: the other
# machine's own is usually newer and should win where it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: bench/libs.sh DIR" >&2; exit 2; }
dir=$1
ls build-bench/bench/bench_* >/dev/null 2>&1 ||
  { echo "libs.sh: no drivers in build-bench/bench (run bench/run.sh first)" >&2; exit 1; }
mkdir -p "$dir/fallback"
for exe in build-bench/bench/bench_*; do
  # bench_mpi needs an MPI installation there anyway (mpiexec).
  if [ ! -f "$exe" ] || [ ! -x "$exe" ] || [ "${exe##*/}" = bench_mpi ]; then continue; fi
  ldd "$exe" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done | sort -u | while read -r name path; do
  case "$name" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*) ;;
    libstdc++.so.*|libgcc_s.so.*) cp -L "$path" "$dir/fallback/" ;;
    *) cp -L "$path" "$dir/" ;;
  esac
done
ls "$dir" "$dir/fallback"
