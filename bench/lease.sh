#!/usr/bin/env bash
# bench/lease.sh - the measurements of a short lease on a bigger machine, in
# one command: the drivers built here (bench/run.sh --smoke) with the peers'
# libraries beside them (bench/libs.sh build-bench/libs), run there without a
# compiler or network, results packed into one file.
#
#   here:  bench/run.sh --smoke && bench/libs.sh build-bench/libs
#          # optional, for before-and-after rounds: an older build's drivers
#          git worktree add /tmp/old <commit> && (cd /tmp/old && bench/run.sh --smoke)
#          mkdir -p build-bench/old && cp /tmp/old/build-bench/bench/bench_poolmap \
#            /tmp/old/build-bench/bench/bench_probe build-bench/old/
#          # and a third build (--mid) in build-bench/mid the same way, to
#          # split two changes: ab then also runs it against the new one
#   there: bench/lease.sh --out "$OUT" [--old build-bench/old] [--mid build-bench/mid]
#                         [--parts "probes ab table"]
#
# Parts, in this order (each prints when it starts and ends):
#   probes  bench_probe costs (clock reads, pause, a cache line's round
#           trip between CPUs), small (W5 in one process: a serial loop,
#           poolmap and pthreadpool in turns, at 1, 2, 4 and the top count),
#           idle (the top count), tails (top and half; with --old, the old
#           build's too), arrivals (top; 2 and 4 beside pthreadpool),
#           timeline (both), claims, nested (top and half, the old build's
#           too; 3 outer items at the top; --sample 1 at the top), callers (8 on a pool of the top
#           count; the old build's too where it has the mode), unzip (one
#           thread): seconds each
#   account bench_probe_account (the library's accounting build): where
#           the threads' time goes, by category, in W5 (small) at 2, 4 and
#           the top count and in W6 (nested) at the top count and half
#   ab      bench/ab.sh OLD NEW at the top two thread counts: W1,W5 with every
#           peer, W4,W6 with OpenMP and TBB, idle alone; W5 at 2 and 4 threads
#           beside pthreadpool; with --mid, MID NEW at the top two counts, W5,W6
#           beside pthreadpool and TBB (--rounds, default 3)
#   table   bench/run.sh --no-build: W1-W6 (--workloads), --table-rounds
#           rounds (default 1) at 1, 2, 4, ... up to the CPUs,
#           --timeout 40, then the idle row at the top count (16 CPUs: 9.5 min
#           on 2026-11-27 for all six, 4.4 min for "W5 W6" with 2 rounds;
#           7.1 min for "W1 W2 W4 W5 W6" and 40 s for the idle row after
#           them, W3 alone 1.6;
#           a 15-minute lease fits one "probes ab" call and one full
#           "table" call, and little else; one call may run 10 minutes)
#   idle    the idle row alone at the top count (when the table part ran out of time)
#   ceiling bench_probe ceiling at 2, 4, ... up to the CPUs: W3's items on
#           raw threads that share nothing, a static share each, beside a
#           serial loop and poolmap in one process: the speedup the
#           machine allows any scheduler (in the sixth lease nobody reached
#           W3's 0.97 x threads at 2-16); about 10 s on 16 CPUs (estimated
#           from 4.5 s at 2 threads on the 2-core VM, not timed there)
#   two     the 2-thread rows that trailed on 16 CPUs in the third and sixth
#           leases (W4 Mandelbrot 0.91 and 0.90 of the best dynamic
#           schedule, W6 1.23 and 1.09 of TBB) while 4-16 threads did not:
#           W4 and W6 at 2 threads, 3 rounds, each system in its own
#           processes, three times: the threads where the kernel puts them,
#           then the whole run pinned (taskset) to CPUs 0 and 1, then to 0
#           and the half count, to tell placement from scheduling
#           (2 minutes a placement on the 2-core VM, so about 6 on 16
#           CPUs, not yet timed there)
# Everything goes to build-bench/lease/ and is packed into OUT/lease.tgz
# (default build-bench) after each part, so that a call killed by its time
# limit still returns what was done, in one file. On 16 CPUs "probes ab"
# took 3.75 minutes on 2026-11-27 (18 s of probes before fc1dcd4's, which
# add a few seconds; a machine's start and hand-over cost about 30 s more
# per call); the W5 rows at 2 and 4 threads and --mid's rounds, added
# since, take perhaps 1.5 minutes more (estimated, not timed there).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

OUT=${OUT:-build-bench}
OLD=""
MID=""
PARTS="probes ab table"
ROUNDS=3
TABLE_WORKLOADS="W1 W2 W3 W4 W5 W6"
TABLE_ROUNDS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=${2:?}; shift 2 ;;
    --old) OLD=${2:?}; shift 2 ;;
    --mid) MID=${2:?}; shift 2 ;;
    --parts) PARTS=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --workloads) TABLE_WORKLOADS=${2:?}; shift 2 ;;
    --table-rounds) TABLE_ROUNDS=${2:?}; shift 2 ;;
    *) echo "usage: bench/lease.sh [--out DIR] [--old DIR] [--mid DIR] [--parts \"probes account ab table idle ceiling two\"]" >&2
       echo "                      [--rounds K]" >&2
       echo "                      [--workloads \"W5 W6\"] [--table-rounds K]" >&2
       exit 2 ;;
  esac
done

NEW=build-bench/bench
[ -x "$NEW/bench_poolmap" ] || { echo "lease.sh: no drivers in $NEW (bench/run.sh --smoke)" >&2; exit 1; }
if [ -d build-bench/libs ]; then
  export LD_LIBRARY_PATH=$PWD/build-bench/libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  ldconfig -p 2>/dev/null | grep -q 'libstdc++.so.6 ' ||
    export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$PWD/build-bench/libs/fallback
fi

R=build-bench/lease
rm -rf "$R"
mkdir -p "$R" "$OUT"
CPUS=$(nproc 2>/dev/null || echo 1)
HALF=$((CPUS / 2 > 0 ? CPUS / 2 : 1))
THREADS="1"
t=2
while [ $t -le "$CPUS" ]; do THREADS="$THREADS $t"; t=$((t * 2)); done
case " $THREADS " in *" $CPUS "*) ;; *) THREADS="$THREADS $CPUS" ;; esac
K=$("$NEW/bench_serial" --calibrate) || exit 1
{
  echo "# bench/lease.sh $(date -u '+%Y-%m-%d %H:%M UTC'), K=$K, threads: $THREADS"
  grep -m1 'model name' /proc/cpuinfo
  uname -sr
} | tee "$R/info.txt"

pack() { tar czf "$OUT/lease.tgz" -C build-bench lease; }
part() { echo "== $1 $(date -u +%H:%M:%S)" | tee -a "$R/info.txt" >&2; }

for p in $PARTS; do
  part "$p"
  case "$p" in
    probes)
      {
        "$NEW/bench_probe" costs
        # W5 in one process, the systems in turns: at 1 thread the in-place call
        for t in 1 2 4 "$CPUS"; do
          "$NEW/bench_probe" small --threads "$t" --reps 7 --iters "$K"
        done
        "$NEW/bench_probe" idle --threads "$CPUS" --reps 3 --iters "$K"
        for t in "$CPUS" "$HALF"; do
          "$NEW/bench_probe" tails --threads "$t" --reps 5 --iters "$K"
          if [ -n "$OLD" ] && [ -x "$OLD/bench_probe" ]; then
            echo "# the same, the --old build's bench_probe"
            "$OLD/bench_probe" tails --threads "$t" --reps 5 --iters "$K"
          fi
        done
        "$NEW/bench_probe" arrivals --threads "$CPUS" --reps 3 --iters "$K"
        # W5's misses at 2 and 4 threads: start, end and sleeps, beside pthreadpool's
        for t in 2 4; do
          for s in poolmap pthreadpool; do
            "$NEW/bench_probe" arrivals --threads "$t" --system "$s" --reps 3 --iters "$K"
          done
        done
        for s in poolmap pthreadpool; do
          "$NEW/bench_probe" timeline --system "$s" --reps 3 --iters "$K"
        done
        "$NEW/bench_probe" claims --reps 3 --iters "$K"
        # W6 against TBB: time in chunks, and workers woken within and between calls
        for t in "$CPUS" "$HALF"; do
          "$NEW/bench_probe" nested --threads "$t" --reps 5 --iters "$K"
          if [ -n "$OLD" ] && "$OLD/bench_probe" nested --threads 2 --outer 2 --reps 1 \
               --iters 70 >/dev/null 2>&1; then
            echo "# the same, the --old build's bench_probe"
            "$OLD/bench_probe" nested --threads "$t" --reps 5 --iters "$K"
          fi
        done
        "$NEW/bench_probe" nested --threads "$CPUS" --outer 3 --reps 5 --iters "$K"
        # where W6's threads block (the sampler takes about half a CPU)
        "$NEW/bench_probe" nested --threads "$CPUS" --reps 3 --iters "$K" --sample 1
        # many callers on one pool (a waiting caller looks for nested calls)
        "$NEW/bench_probe" callers --threads "$CPUS" --callers 8 --reps 3 --iters "$K"
        if [ -n "$OLD" ] && "$OLD/bench_probe" callers --threads 2 --callers 1 --reps 1 \
             --iters 70 >/dev/null 2>&1; then
          echo "# the same, the --old build's bench_probe"
          "$OLD/bench_probe" callers --threads "$CPUS" --callers 8 --reps 3 --iters "$K"
        fi
        "$NEW/bench_probe" unzip --reps 5
      } >"$R/probes.txt" 2>&1
      ;;
    account)
      {
        for t in 2 4 "$CPUS"; do
          "$NEW/bench_probe_account" small --threads "$t" --reps 7 --iters "$K"
        done
        for t in "$CPUS" "$HALF"; do
          "$NEW/bench_probe_account" nested --threads "$t" --reps 3 --iters "$K"
        done
      } >"$R/account.txt" 2>&1
      ;;
    ab)
      if [ -z "$OLD" ]; then echo "lease.sh: ab needs --old DIR" | tee -a "$R/info.txt" >&2; continue; fi
      bench/ab.sh "$OLD" "$NEW" --threads "$HALF $CPUS" --workloads W1,W5 --rounds "$ROUNDS" \
        --peers "openmp pthreadpool tbb" --out "$R/ab-w1w5.csv" >"$R/ab.txt" 2>&1
      bench/ab.sh "$OLD" "$NEW" --threads "$HALF $CPUS" --workloads W4,W6 --rounds "$ROUNDS" \
        --peers "openmp tbb" --out "$R/ab-w4w6.csv" >>"$R/ab.txt" 2>&1
      bench/ab.sh "$OLD" "$NEW" --threads "$CPUS" --workloads idle --rounds "$ROUNDS" \
        --out "$R/ab-idle.csv" >>"$R/ab.txt" 2>&1
      # W5's misses are at 2 and 4 threads
      bench/ab.sh "$OLD" "$NEW" --threads "2 4" --workloads W5 --rounds "$ROUNDS" \
        --peers pthreadpool --out "$R/ab-w5-low.csv" >>"$R/ab.txt" 2>&1
      pack
      if [ -n "$MID" ]; then
        echo "# --mid against new" >>"$R/ab.txt"
        bench/ab.sh "$MID" "$NEW" --threads "$HALF $CPUS" --workloads W5,W6 --rounds "$ROUNDS" \
          --peers "pthreadpool tbb" --out "$R/ab-mid.csv" >>"$R/ab.txt" 2>&1
      fi
      ;;
    table)
      bench/run.sh --no-build --no-install --threads "$THREADS" --rounds "$TABLE_ROUNDS" \
        --workloads "$TABLE_WORKLOADS" --timeout 40 --out "$R/table" >"$R/table.log" 2>&1
      pack
      part idle
      bench/run.sh --no-build --no-install --threads "$CPUS" --workloads idle --timeout 40 \
        --out "$R/idle" >"$R/idle.log" 2>&1
      ;;
    idle)
      bench/run.sh --no-build --no-install --threads "$CPUS" --workloads idle --timeout 40 \
        --out "$R/idle" >"$R/idle.log" 2>&1
      ;;
    ceiling)
      for t in $THREADS; do
        [ "$t" -gt 1 ] && "$NEW/bench_probe" ceiling --threads "$t" --reps 7 --iters "$K"
      done >"$R/ceiling.txt" 2>&1
      ;;
    two)
      pins="free 0,1"
      [ "$HALF" -gt 1 ] && pins="$pins 0,$HALF"
      for cpus in $pins; do
        pin=()
        if [ "$cpus" != free ]; then
          if ! command -v taskset >/dev/null || [ "$CPUS" -lt 2 ]; then
            echo "lease.sh: two: cannot pin to CPUs $cpus here, skipped" | tee -a "$R/info.txt" >&2
            continue
          fi
          pin=(taskset -c "$cpus")
        fi
        "${pin[@]}" bench/run.sh --no-build --no-install --threads 2 --workloads "W4 W6" \
          --rounds 3 --timeout 40 --out "$R/two-${cpus/,/-}" >"$R/two-${cpus/,/-}.log" 2>&1
        pack
      done
      ;;
    *) echo "lease.sh: unknown part $p" >&2; exit 2 ;;
  esac
  pack
done
part done
pack
cat "$R/info.txt"
[ -f "$R/account.txt" ] && cat "$R/account.txt"
[ -f "$R/ceiling.txt" ] && cat "$R/ceiling.txt"
[ -f "$R/ab.txt" ] && grep -v '^--' "$R/ab.txt"
[ -f "$R/table/table.txt" ] && cat "$R/table/table.txt"
[ -f "$R/idle/table.txt" ] && cat "$R/idle/table.txt"
for d in "$R"/two-*/; do
  [ -f "$d/table.txt" ] && { echo "# ${d%/}"; cat "$d/table.txt"; }
done
exit 0
