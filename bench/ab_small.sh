#!/usr/bin/env bash
# bench/ab_small.sh - before and after a change, W5's small call measured
# against pthreadpool in the same process: each build's `bench_probe
# small` runs poolmap and pthreadpool in turns (blocks of 1000 calls), and
# the figure is poolmap's time over pthreadpool's in that process. What
# makes one process slower than the next (where the kernel put the threads,
# the VM's spells) then cancels out: on the 2-core VM one build against
# itself read 0.9997 and 0.9992 new/old over 60 pairs (about 2 minutes),
# 0.997-1.007 over 15, where bench/ab.sh's per-process times move by
# about 1 %.
#
#   git worktree add /tmp/old <commit> && (cd /tmp/old && bench/run.sh --smoke)
#   bench/run.sh --smoke    # builds this tree's bench_probe in build-bench/bench
#   bench/ab_small.sh /tmp/old/build-bench/bench build-bench/bench   # 60 pairs
#
# --spike D [--at I] passes on to bench_probe small: item I (default the
# first of the second thread's share) costs D items more in every call,
# the balance of a call one thread of which falls behind.
#
# Prints, per build, the median and quartiles of the ratio (below 1:
# poolmap faster than pthreadpool), then new's median over old's, and in
# how many pairs of processes (run one after the other) new's ratio was the
# lower. Without pthreadpool (bench_probe built where it was not found) the
# yardstick is the serial loop in the same process. The builds' processes
# alternate which goes first. Each process takes about a second.
set -uo pipefail
usage() {
  echo "usage: bench/ab_small.sh OLD_DIR NEW_DIR [--threads T] [--runs K] [--iters K]" >&2
  echo "                         [--spike D [--at I]]" >&2
  exit 2
}
[ $# -ge 2 ] || usage
OLD=$1 NEW=$2
shift 2
THREADS=2
RUNS=60
ITERS=""
SPIKE=()   # bench_probe small --spike D [--at I]: one costly item in every call
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS=${2:?}; shift 2 ;;
    --runs) RUNS=${2:?}; shift 2 ;;
    --iters) ITERS=${2:?}; shift 2 ;;
    --spike|--at) SPIKE+=("$1" "${2:?}"); shift 2 ;;
    *) usage ;;
  esac
done
case "$THREADS$RUNS$ITERS" in ''|*[!0-9]*) usage ;; esac
[ "$RUNS" -ge 3 ] || { echo "ab_small.sh: --runs must be at least 3" >&2; exit 2; }
for d in "$OLD" "$NEW"; do
  [ -x "$d/bench_probe" ] || { echo "ab_small.sh: no $d/bench_probe" >&2; exit 1; }
done
if [ -z "$ITERS" ]; then
  if [ -x "$NEW/bench_serial" ]; then
    ITERS=$("$NEW/bench_serial" --calibrate) || { echo "ab_small.sh: calibration failed" >&2; exit 1; }
  else
    echo "ab_small.sh: no $NEW/bench_serial to calibrate with: give --iters" >&2
    exit 1
  fi
fi

TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
# Both binaries run from paths of one length, and each pair of processes
# under one environment of a random size: where the stack starts (the
# environment sits above it) moves a process's figures by as much as a
# change does: two copies of one binary, run from build-bench/bench and
# from a shorter path, read 1.0008-1.0056 new/old in three runs of 15.
mkdir -p "$TMP/bin-old" "$TMP/bin-new"
cp "$OLD/bench_probe" "$TMP/bin-old/" && cp "$NEW/bench_probe" "$TMP/bin-new/" || exit 1

# One process of build $1 (old or new) under a padding of $2 bytes:
# prints "ratio poolmap yardstick yardstick-name".
one() {
  local out
  out=$(POOLMAP_AB_PAD=$(printf "%$2s" '') "$TMP/bin-$1/bench_probe" small \
        --threads "$THREADS" --reps 7 --iters "$ITERS" "${SPIKE[@]}") || return 1
  printf '%s\n' "$out" | awk '
    /^serial loop/ { serial = $3 } /^poolmap/ { pm = $2 } /^pthreadpool/ { tp = $2 }
    END { y = tp != "" ? tp : serial; if (pm == "" || y == "") exit 1
          printf "%.5f %s %s %s\n", pm / y, pm, y, tp != "" ? "pthreadpool" : "serial" }'
}

for i in $(seq "$RUNS"); do
  if [ $((i % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
  pad=$((RANDOM % 4096))
  for which in $order; do
    one "$which" "$pad" >>"$TMP/$which" ||
      { echo "ab_small.sh: the $which build's bench_probe small failed" >&2; exit 1; }
  done
done

yard=pthreadpool
if grep -q ' serial$' "$TMP/old" "$TMP/new"; then
  if grep -q ' pthreadpool$' "$TMP/old" "$TMP/new"; then
    echo "ab_small.sh: one build's bench_probe has pthreadpool and the other's not" >&2
    exit 1
  fi
  yard="the serial loop"
fi
echo "W5 at $THREADS threads${SPIKE[*]:+ (${SPIKE[*]})}, poolmap's time over $yard's in the same process, $RUNS processes a build"
paste -d' ' "$TMP/old" "$TMP/new" | awk '
  function sorted(a, n, s,   i, j, t) { # s = a sorted, 1..n
    for (i = 1; i <= n; i++) s[i] = a[i]
    for (i = 2; i <= n; i++) { t = s[i]; for (j = i - 1; j >= 1 && s[j] > t; j--) s[j + 1] = s[j]; s[j + 1] = t }
  }
  function line(name, a, n,   s) {
    sorted(a, n, s)
    med[name] = n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2
    printf "%s  median %.4f  quartiles %.4f-%.4f\n", name, med[name],
      s[int(0.25 * (n - 1)) + 1], s[int(0.75 * (n - 1)) + 1]
  }
  { o[NR] = $1; n[NR] = $5; if ($5 < $1) ahead++ }
  END {
    line("old", o, NR)
    line("new", n, NR)
    printf "new/old %.4f; new lower in %d of %d pairs\n", med["new"] / med["old"], ahead + 0, NR
  }'
