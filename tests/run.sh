#!/usr/bin/env bash
# The test command (README.md, .ci/run): installs what the tests need when it
# is missing (mpich included, for the optional MPI module), then builds and
# runs the whole suite in five builds, warnings as errors: gcc and clang
# plain, ASan+UBSan with each, gcc ThreadSanitizer; runs the unit tests once
# more under valgrind memcheck (gcc build); clang-tidy and cppcheck on src/;
# and a short libFuzzer session (clang). gcc also builds the benchmark suite
# and smoke-runs every workload. Any failure, sanitizer or valgrind report,
# or lint finding fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v gcc >/dev/null || missing+=(gcc)
command -v clang >/dev/null || missing+=(clang)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v clang-tidy >/dev/null || missing+=(clang-tidy)
command -v cppcheck >/dev/null || missing+=(cppcheck)
[ -f /usr/include/cmocka.h ] || missing+=(libcmocka-dev)
# the benchmark's peers: the smoke run below checks the suite still builds
command -v g++ >/dev/null || missing+=(g++)
[ -f /usr/include/pthreadpool.h ] || missing+=(libpthreadpool-dev)
[ -d /usr/include/oneapi/tbb ] || [ -d /usr/include/tbb ] || missing+=(libtbb-dev)
# pool_map_mpi's tests and example run under mpich's mpiexec
command -v mpiexec.mpich >/dev/null || missing+=(mpich)
compgen -G '/usr/lib/*/pkgconfig/mpich.pc' >/dev/null || missing+=(libmpich-dev)
# clang's sanitizer and libFuzzer runtimes come in their own package
if command -v clang >/dev/null &&
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}' |
     clang -x c -fsanitize=fuzzer,address - -o /dev/null 2>/dev/null; then
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
    -DCMAKE_COMPILE_WARNING_AS_ERROR=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    -DPOOLMAP_SANITIZE="$san" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  ctest --test-dir "$dir" --output-on-failure -j"$jobs"
}

# Every unit test once under valgrind memcheck, two at a time. Zero reports
# is the bar (valgrind's own exit code); the stress test runs its short mode
# (1 s). Skipped: test_fairness, which asserts scheduling order (how many
# queued tasks started before a worker joined a map): valgrind runs one thread at a time
# with its own scheduler, so that order is valgrind's; the same calls' memory
# behaviour is covered by the other tests. test_mpi runs under mpiexec only.
run_valgrind() { # build dir
  local log=build-test/valgrind
  echo "== valgrind memcheck: $1"
  rm -rf "$log" && mkdir -p "$log"
  if ! find "$1/tests" -maxdepth 1 -name 'test_*' -type f -perm -u+x \
         ! -name test_fairness ! -name test_mpi -print0 | sort -z |
       xargs -0 -P"$jobs" -I{} sh -c '
         log=$0/$(basename "$1").log
         if POOLMAP_TEST_SCALE=1 POOLMAP_STRESS_SECONDS=1 \
            valgrind -q --error-exitcode=1 --leak-check=full \
              --errors-for-leak-kinds=definite --show-leak-kinds=definite \
              "$1" >"$log" 2>&1; then
           echo "valgrind: $(basename "$1") clean"
         else
           echo "valgrind: $(basename "$1") FAILED:"; cat "$log"; exit 1
         fi' "$log" {}; then
    echo "== valgrind reported errors (logs in $log)"
    return 1
  fi
}

# clang-tidy (.clang-tidy: warnings are errors) and cppcheck on src/ (the
# MPI module too, when the build dir has it).
run_lint() { # build dir with compile_commands.json
  local mpi=
  grep -q 'src/mpi/map_mpi.c' "$1/compile_commands.json" && mpi=src/mpi/*.c
  echo "== clang-tidy src/*.c $mpi"
  clang-tidy -p "$1" --quiet src/*.c $mpi
  echo "== cppcheck src/"
  cppcheck --enable=warning,performance,portability --std=c11 --error-exitcode=1 \
    --inline-suppr -q -I include src/
}

# The fuzz harness: the committed seed corpus, then 30 s of fuzzing (new
# inputs go to the build dir, never into fuzz/corpus). A crash fails the run;
# the input that caused it is left in build-test/fuzz/.
run_fuzz() {
  local dir=build-test/fuzz
  echo "== fuzz: CC=clang POOLMAP_FUZZ=ON, 30 s"
  CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_COMPILE_WARNING_AS_ERROR=ON -DPOOLMAP_FUZZ=ON -DPOOLMAP_TESTS=OFF \
    -DPOOLMAP_EXAMPLES=OFF -DPOOLMAP_INSTALL=OFF >/dev/null
  cmake --build "$dir" -j"$jobs" --target fuzz_api >/dev/null
  ctest --test-dir "$dir" --output-on-failure
  mkdir -p "$dir/corpus"
  "$dir/fuzz/fuzz_api" -max_total_time=30 -timeout=20 -print_final_stats=1 \
    -artifact_prefix="$dir/" "$dir/corpus" fuzz/corpus 2>"$dir/fuzz.log" ||
    { tail -n 60 "$dir/fuzz.log"; echo "== fuzz_api found a failure"; return 1; }
  grep -E '^stat::number_of_executed_units|^Done' "$dir/fuzz.log" || true
}

# gcc also builds the benchmark suite and smoke-runs every workload once.
run_build gcc gcc "" -DPOOLMAP_BENCH=ON
run_valgrind build-test/gcc
run_build clang clang ""
run_lint build-test/clang
run_build asan gcc address
# This one also takes the sleep path of systems without a futex.
run_build asan-clang clang address -DPOOLMAP_PORTABLE_PARKING=ON
run_build tsan gcc thread
run_fuzz
echo "== all builds passed"
