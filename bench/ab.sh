#!/usr/bin/env bash
# bench/ab.sh - before and after a scheduler change: two builds of the
# poolmap driver run in turns, process after process, round after round
# (which goes first alternates), so that a drift of the machine's speed
# hits both alike. The peers' drivers
# (from the new build) run in the same rounds, for reference.
#
#   git worktree add /tmp/old <commit> && (cd /tmp/old && bench/run.sh --smoke)
#   bench/run.sh --smoke    # builds this tree's drivers in build-bench/
#   bench/ab.sh /tmp/old/build-bench/bench build-bench/bench --threads "2" --rounds 5
#
# Prints, per workload, variant and thread count, each build's median of
# the rounds' medians, new / old, and in how many rounds new was faster.
# Every run checks its result against the serial answer (the drivers fail
# loudly otherwise). Rounds' rows go to $OUT (default build-bench/ab.csv).
# --calls C gives W1's and W5's call count to every driver (fewer calls for
# thread counts above the CPUs, where each call waits on preempted threads).
# --outer K gives W6's outer item count (8 by default) to every driver.
# --n N gives every driver's --n (W2: 10^5 tuples stay in the caches, 10^6
# do not but are written without streaming stores; the default 10^7 is).
set -uo pipefail

usage() {
  echo "usage: bench/ab.sh OLD_DIR NEW_DIR [--threads \"1 2\"] [--workloads W1,W5] [--rounds K]" >&2
  echo "                   [--peers \"openmp pthreadpool tbb\"] [--reps R] [--calls C] [--outer K] [--n N]" >&2
  echo "                   [--out FILE]" >&2
  exit 2
}
[ $# -ge 2 ] || usage
OLD=$1 NEW=$2
shift 2
THREADS=$(nproc 2>/dev/null || echo 1)
WORKLOADS=W1,W5
ROUNDS=5
PEERS=""
REPS=7
CALLS=""   # the drivers' own call counts (W1, W5) unless given
OUTER=""   # W6's outer items: the drivers' 8 unless given
NITEMS=""  # the drivers' --n unless given
OUT=build-bench/ab.csv
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS=${2:?}; shift 2 ;;
    --workloads) WORKLOADS=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --peers) PEERS=${2?}; shift 2 ;;
    --reps) REPS=${2:?}; shift 2 ;;
    --calls) CALLS=${2:?}; shift 2 ;;
    --outer) OUTER=${2:?}; shift 2 ;;
    --n) NITEMS=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
for d in "$OLD" "$NEW"; do
  [ -x "$d/bench_poolmap" ] || { echo "ab.sh: no $d/bench_poolmap" >&2; exit 1; }
done
case "$ROUNDS$REPS$CALLS$OUTER$NITEMS" in ''|*[!0-9]*) usage ;; esac
[ "$REPS" -ge 7 ] || { echo "ab.sh: --reps must be at least 7" >&2; exit 2; }

ITERS=$("$NEW/bench_serial" --calibrate) || exit 1
# The two builds run from paths of one length, each (round, threads) under
# an environment of a random size, the same for both: where the stack
# starts (the environment sits above it) moved one binary's W5 figures by
# up to 0.6 % from one path to another (bench/ab_small.sh, 2-core VM), the
# size of the changes this script is for, and in every round alike.
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/bin-old" "$TMP/bin-new"
cp "$OLD/bench_poolmap" "$TMP/bin-old/" && cp "$NEW/bench_poolmap" "$TMP/bin-new/" || exit 1
PAD=0
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
failed=0
# run TAG ROUND EXE THREADS: the driver's CSV rows, tagged, appended to $OUT.
# pthreadpool's W6 (a nested call on one pool) never returns with more than
# one thread: it is left out of that peer's workloads.
run() {
  local w=$WORKLOADS
  case "$3" in
    */bench_pthreadpool)
      [ "$w" = all ] && w=W1,W2,W3,W4,W5,idle
      w=$(echo ",$w," | sed 's/,[wW]6,/,/g; s/^,//; s/,$//')
      [ -n "$w" ] || return 0 ;;
  esac
  POOLMAP_AB_PAD=$(printf "%${PAD}s" '') "$3" --workload "$w" --threads "$4" --reps "$REPS" --iters "$ITERS" \
    ${CALLS:+--calls "$CALLS"} ${OUTER:+--outer "$OUTER"} ${NITEMS:+--n "$NITEMS"} >"$OUT.tmp" ||
    { echo "ab.sh: $3 --threads $4 failed" >&2; failed=1; }
  grep -v '^#' "$OUT.tmp" | sed "s/^/$1,$2,/" >>"$OUT"
  rm -f "$OUT.tmp"
}
for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r of $ROUNDS" >&2
  for t in $THREADS; do
    # Odd rounds run old first, even rounds new first: neither always
    # inherits the other's warm (or disturbed) machine.
    PAD=$((RANDOM % 4096))
    if [ $((r % 2)) -eq 1 ]; then
      run old "$r" "$TMP/bin-old/bench_poolmap" "$t"
      run new "$r" "$TMP/bin-new/bench_poolmap" "$t"
    else
      run new "$r" "$TMP/bin-new/bench_poolmap" "$t"
      run old "$r" "$TMP/bin-old/bench_poolmap" "$t"
    fi
    for p in $PEERS; do
      [ -x "$NEW/bench_$p" ] && run "$p" "$r" "$NEW/bench_$p" "$t"
    done
  done
done

# tag,round,system,workload,variant,threads,metric,median,min,max,unit
awk -F, '
  function med(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
      t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { k = $4 "," $5 "," $6; keys[k] = 1; unit[k] = $11; v[$1, k] = v[$1, k] " " $8
    if ($1 != "old" && $1 != "new") peers[$1] = 1; val[$1, k, $2] = $8; rounds[$2] = 1 }
  END {
    printf "%-22s %-8s %10s %10s %8s %9s", "workload,variant,thr", "unit", "old", "new",
      "new/old", "new ahead"
    for (p in peers) printf " %11s", p
    printf "\n"
    for (k in keys) {
      o = med(v["old", k]); n = med(v["new", k]); ahead = 0; nr = 0
      for (r in rounds) {
        if (!((("old", k, r) in val) && (("new", k, r) in val))) continue
        nr++
        d = val["new", k, r] - val["old", k, r]
        if (unit[k] == "speedup") d = -d # lower is better, except for speedups
        if (d < 0) ahead++
      }
      printf "%-22s %-8s %10.4g %10.4g %8.3f %5d of %d", k, unit[k], o, n, (o > 0 ? n / o : 0), ahead, nr
      for (p in peers) if ((p, k) in v) printf " %11.4g", med(v[p, k]); else printf " %11s", "-"
      printf "\n"
    }
  }' "$OUT" | { IFS= read -r head; echo "$head"; sort; }
exit $failed
