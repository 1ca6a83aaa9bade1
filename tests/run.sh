#!/usr/bin/env bash
# The test command (README.md, .ci/run): installs what the tests need when it
# is missing (mpich included, for the optional MPI module), then builds and
# runs the whole suite in five builds, warnings as errors: gcc and clang
# plain, ASan+UBSan with each, gcc ThreadSanitizer.
# Any failure or sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v gcc >/dev/null || missing+=(gcc)
command -v clang >/dev/null || missing+=(clang)
[ -f /usr/include/cmocka.h ] || missing+=(libcmocka-dev)
# the benchmark's peers: the smoke run below checks the suite still builds
command -v g++ >/dev/null || missing+=(g++)
[ -f /usr/include/pthreadpool.h ] || missing+=(libpthreadpool-dev)
[ -d /usr/include/oneapi/tbb ] || [ -d /usr/include/tbb ] || missing+=(libtbb-dev)
# pool_map_mpi's tests and example run under mpich's mpiexec
command -v mpiexec.mpich >/dev/null || missing+=(mpich)
compgen -G '/usr/lib/*/pkgconfig/mpich.pc' >/dev/null || missing+=(libmpich-dev)
# clang's sanitizer runtimes come in their own package
if command -v clang >/dev/null &&
   ! echo 'int main(void){return 0;}' | clang -x c -fsanitize=address - -o /dev/null 2>/dev/null; then
  missing+=(libclang-rt-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

jobs=$(nproc 2>/dev/null || echo 2)
run_build() { # name cc sanitize [cmake options...]
  local dir=build-test/$1 cc=$2 san=$3
  shift 3
  echo "== $(basename "$dir"): CC=$cc POOLMAP_SANITIZE=${san:-none} $*"
  CC=$cc cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_COMPILE_WARNING_AS_ERROR=ON -DPOOLMAP_SANITIZE="$san" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  ctest --test-dir "$dir" --output-on-failure -j"$jobs"
}

# gcc also builds the benchmark suite and smoke-runs every workload once.
run_build gcc gcc "" -DPOOLMAP_BENCH=ON
run_build clang clang ""
run_build asan gcc address
run_build asan-clang clang address
run_build tsan gcc thread
echo "== all builds passed"
