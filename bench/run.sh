#!/usr/bin/env bash
# bench/run.sh - the side-by-side benchmark in one command: installs the
# peers when they are missing, builds every driver (Release, POOLMAP_BENCH=ON)
# in build-bench/, runs each (system, workload, threads) as its own process
# under `timeout`, and prints one table with poolmap's targets, also written
# as CSV (DIR/results.csv; every round's rows in DIR/rounds.csv), text
# (DIR/table.txt) and an SVG plot of the speedups (DIR/w4.svg).
#
# A run that exceeds the timeout and printed nothing is reported as "hangs"
# (pthreadpool's W6 nests a call on its own pool and deadlocks); one that
# printed some figures first keeps them and reads "timeout" where the rest
# would be (too slow for --timeout). Either is a result, not an error.
# A wrong result or a crash is: the table is still printed, and the script
# then exits 1.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

usage() {
  cat <<EOF
usage: bench/run.sh [--threads "1 2 4 ..."] [--reps R] [--rounds K] [--smoke] [--out DIR]
                    [--timeout S] [--workloads "W1 ... idle"] [--systems "..."]
                    [--wait-idle S] [--no-install] [--no-build] [--table-only]

  --threads LIST   thread counts to run (default: "1 \$(nproc)" = "$DEFAULT_THREADS");
                   more than two give a scaling curve in the plot
  --reps R         timed repetitions per figure, after one warm-up (default 7, min 7)
  --rounds K       run every (system, workload, threads) process K times, the
                   systems in turn within each round (default 1); a figure is
                   then the median of the K processes' medians, so a drift of
                   the machine's speed (other tenants, memory bandwidth) hits
                   every system alike instead of whichever ran at the time
  --smoke          tiny sizes: checks everything works, measures nothing
  --out DIR        where results.csv, table.txt, w4.svg and logs/ go
                   (default build-bench/results)
  --timeout S      seconds per (system, workload, threads) process (default 60)
  --workloads LIST subset of: W1 W2 W3 W4 W5 W5-1cpu W6 idle (default all);
                   W5-1cpu is W5 with every thread on one CPU (taskset -c 0,
                   200 calls a run), at thread counts above 1
  --systems LIST   subset of: serial poolmap openmp pthreadpool tbb (default all)
  --wait-idle S    before each process, wait up to S seconds for the CPUs to be
                   90% idle (on a shared machine, other jobs distort every figure)
  --no-install     do not apt-get install missing peers
  --no-build       run the drivers already in build-bench/bench (built here
                   earlier, or copied with their shared libraries to a machine
                   that has no compiler or peers; set LD_LIBRARY_PATH there)
  --table-only     only print the table and plot again from DIR/results.csv
EOF
}

NPROC=$(nproc 2>/dev/null || echo 1)
if [ "$NPROC" -gt 1 ]; then DEFAULT_THREADS="1 $NPROC"; else DEFAULT_THREADS="1"; fi
THREADS=$DEFAULT_THREADS
REPS=7
ROUNDS=1
SMOKE=0
OUT=build-bench/results
TIMEOUT=60
WORKLOADS="W1 W2 W3 W4 W5 W5-1cpu W6 idle"
SYSTEMS="serial poolmap openmp pthreadpool tbb"
WAIT_IDLE=0
INSTALL=1
TABLE_ONLY=0
BUILD_IT=1
BUILD=build-bench

while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS=${2:?}; shift 2 ;;
    --reps) REPS=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --out) OUT=${2:?}; shift 2 ;;
    --timeout) TIMEOUT=${2:?}; shift 2 ;;
    --workloads) WORKLOADS=${2:?}; shift 2 ;;
    --systems) SYSTEMS=${2:?}; shift 2 ;;
    --wait-idle) WAIT_IDLE=${2:?}; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --no-build) BUILD_IT=0; shift ;;
    --table-only) TABLE_ONLY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$REPS$ROUNDS$TIMEOUT$WAIT_IDLE" in ''|*[!0-9]*)
  echo "run.sh: --reps, --rounds, --timeout and --wait-idle take whole numbers" >&2; exit 2 ;;
esac
if [ "$ROUNDS" -lt 1 ]; then echo "run.sh: --rounds must be at least 1" >&2; exit 2; fi
if [ "$REPS" -lt 7 ] && [ "$SMOKE" -eq 0 ]; then
  echo "run.sh: --reps must be at least 7 (every figure is a median of 7 or more)" >&2
  exit 2
fi
for t in $THREADS; do
  case "$t" in ''|*[!0-9]*|0) echo "run.sh: bad thread count: $t" >&2; exit 2 ;; esac
done
# Sorted, without duplicates.
# shellcheck disable=SC2086 # split the list
THREADS=$(printf '%s\n' $THREADS | sort -n -u | tr '\n' ' ')

# ---- peers ------------------------------------------------------------------
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
have_pkg() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == *'install ok installed'* ]]; }

install_peers() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v gcc >/dev/null || missing+=(gcc)
  command -v make >/dev/null || missing+=(make)
  command -v g++ >/dev/null || missing+=(g++)
  command -v timeout >/dev/null || missing+=(coreutils)
  if command -v dpkg-query >/dev/null; then
    have_pkg libpthreadpool-dev || missing+=(libpthreadpool-dev)
    have_pkg libtbb-dev || missing+=(libtbb-dev)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}" >&2
    if command -v apt-get >/dev/null &&
       as_root apt-get update -qq &&
       as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    then :
    else
      echo "run.sh: could not install ${missing[*]}; the peers that are missing will be skipped" >&2
    fi
  fi
}

# ---- build ------------------------------------------------------------------
build() {
  local tool
  for tool in cmake gcc timeout; do
    command -v $tool >/dev/null || { echo "run.sh: $tool is required" >&2; exit 1; }
  done
  echo "== building in $BUILD" >&2
  mkdir -p "$BUILD"
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPOOLMAP_BENCH=ON \
        -DPOOLMAP_TESTS=OFF -DPOOLMAP_EXAMPLES=OFF >"$BUILD/bench-configure.log" 2>&1 ||
    { cat "$BUILD/bench-configure.log" >&2; echo "run.sh: configure failed" >&2; exit 1; }
  grep 'bench: ' "$BUILD/bench-configure.log" >&2 || true
  cmake --build "$BUILD" -j"$NPROC" >"$BUILD/bench-build.log" 2>&1 ||
    { cat "$BUILD/bench-build.log" >&2; echo "run.sh: build failed" >&2; exit 1; }
}

# ---- run --------------------------------------------------------------------
# Busy and total CPU ticks since boot, from /proc/stat.
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }

# --wait-idle: wait until the CPUs were at least 90% idle over one second.
wait_idle() {
  [ "$WAIT_IDLE" -gt 0 ] || return 0
  local end=$((SECONDS + WAIT_IDLE)) a b
  while [ $SECONDS -lt $end ]; do
    a=$(cpu_ticks); sleep 1; b=$(cpu_ticks)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ")
      exit !(y[2] > x[2] && (y[1] - x[1]) <= 0.1 * (y[2] - x[2])) }' && return 0
  done
  echo "-- the CPUs are still busy after $WAIT_IDLE s; running anyway" >&2
}

# CPU ticks used by this shell's finished children (cutime + cstime, fields
# 16 and 17 of /proc/$$/stat): the drivers' own share of the busy ticks.
child_ticks() { awk '{ print $16 + $17 }' "/proc/$$/stat"; }

# Percentage of all CPU time between two "busy total child" readings that
# other processes used; 0 below 5 ticks (50 ms), which is accounting jitter.
other_load() {
  awk -v b0="$1" -v t0="$2" -v c0="$3" -v b1="$4" -v t1="$5" -v c1="$6" 'BEGIN {
    f = (b1 - b0) - (c1 - c0); if (f < 5) f = 0
    printf "%d", (t1 > t0 ? 100 * f / (t1 - t0) : 0) }'
}

# run_one SYSTEM WORKLOAD THREADS: one driver process under `timeout`, its
# CSV lines appended to $CSV. With --wait-idle it first waits for idle CPUs,
# and runs again (3 tries at most, keeping the least disturbed) when other
# processes took more than 5% of the CPU time meanwhile. A timeout adds a
# "hangs" row, or "timeout" when the process printed figures first; any
# other failure a "failed" row, and sets $failed.
run_one() {
  local s=$1 w=$2 tt=$3 exe=$BIN/bench_$1 log try=1 rc secs start p0 p1 other best=101 printed
  local pin=() dw=$2 more=()
  log=$OUT/logs/${s}_${w}_t${tt}.log
  # W5-1cpu: W5 with the whole process on CPU 0, as in a container given one
  # CPU; fewer calls (a scheduler that waits for a thread that cannot run
  # takes milliseconds a call). Its rows are renamed to variant one_cpu.
  # A status row (timeout, hangs, failed) names the workload and variant
  # the table shows: W5-1cpu's are W5's one_cpu.
  local sw=$w sv='*'
  if [ "$w" = W5-1cpu ]; then
    pin=(taskset -c 0) dw=W5 more=(--calls "$([ "$SMOKE" -eq 1 ] && echo 20 || echo 200)")
    sw=W5 sv=one_cpu
  fi
  while :; do
    wait_idle
    p0="$(cpu_ticks) $(child_ticks)"
    start=$(date +%s.%N)
    timeout -k 5 "$TIMEOUT" "${pin[@]}" "$exe" --workload "$dw" --threads "$tt" --reps "$REPS" \
      "${EXTRA[@]}" "${more[@]}" >"$log.try" 2>"$log"
    rc=$?
    [ "$w" = W5-1cpu ] && sed -i 's/^\([^,]*\),W5,small,/\1,W5,one_cpu,/' "$log.try"
    p1="$(cpu_ticks) $(child_ticks)"
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    # shellcheck disable=SC2086 # six numbers
    other=$(other_load $p0 $p1)
    # Of several tries, keep the one that shared the CPUs least.
    if [ $rc -ne 0 ] || [ "$other" -lt "$best" ]; then
      mv "$log.try" "$log.csv"
      best=$other
    fi
    if [ "$WAIT_IDLE" -gt 0 ] && [ $rc -eq 0 ] && [ "$other" -gt 5 ] && [ $try -lt 3 ]; then
      printf -- '-- %-11s %-4s threads=%-3s other processes took %s%% of the CPUs: again\n' \
        "$s" "$w" "$tt" "$other" >&2
      try=$((try + 1))
      continue
    fi
    break
  done
  other=$best
  echo "$s $w $tt $other" >>"$OUT/logs/other-load.txt"
  cat "$log.csv" >>"$RAW"
  printed=$(grep -vc '^#' "$log.csv")
  rm -f "$log.csv" "$log.try"
  if [ $rc -eq 0 ]; then
    printf -- '-- %-11s %-4s threads=%-3s ok (%s s, other load %s%%)\n' "$s" "$w" "$tt" "$secs" "$other" >&2
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    if [ "$printed" -gt 0 ]; then
      echo "$s,$sw,$sv,$tt,timeout,,,," >>"$RAW"
      printf -- '-- %-11s %-4s threads=%-3s TIMEOUT (killed after %s s; %s figure(s) kept)\n' \
        "$s" "$w" "$tt" "$TIMEOUT" "$printed" >&2
    else
      echo "$s,$sw,$sv,$tt,hangs,,,," >>"$RAW"
      printf -- '-- %-11s %-4s threads=%-3s HANGS (killed after %s s)\n' "$s" "$w" "$tt" "$TIMEOUT" >&2
    fi
    HUNG+=("$s/$w/$tt")
  else
    echo "$s,$sw,$sv,$tt,failed,,,," >>"$RAW"
    printf -- '-- %-11s %-4s threads=%-3s FAILED (exit %s):\n' "$s" "$w" "$tt" "$rc" >&2
    sed 's/^/   /' "$log" >&2
    failed=1
  fi
}

# Every (system, workload, threads) as its own process, --rounds times: for
# each (workload, threads) the systems run in turn, round after round, the
# turn starting one system later each round (round 2 at 1 thread: poolmap,
# openmp, ..., serial; the serial baseline runs at the first count only, and
# the turn rotates over the systems that run at that count), so that no
# system always runs right after the same one or in the same place in the
# round. One that hung is not run again (a hang is a result; waiting for it
# again only costs the timeout).
run_all() {
  local BIN=$BUILD/bench EXTRA=() ITERS MAXT w t s r tt i HUNG=() SYS ACTIVE ORDER
  read -r -a SYS <<<"$SYSTEMS"
  mkdir -p "$OUT/logs"
  rm -f "$OUT/logs/other-load.txt"
  if [ "$SMOKE" -eq 1 ]; then
    EXTRA+=(--smoke)
    ITERS="the default"
  else
    ITERS=$("$BIN/bench_serial" --calibrate)
    EXTRA+=(--iters "$ITERS")
  fi
  # shellcheck disable=SC2086 # split the list
  MAXT=$(printf '%s\n' $THREADS | tail -n 1)

  {
    echo "# poolmap benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -srm)"
    echo "# cpu: $(sed -n '/^model name/{s/^model name[^:]*: //p;q;}' /proc/cpuinfo 2>/dev/null), online CPUs: $NPROC"
    echo "# threads: $THREADS  reps: $REPS  iters per 10 us item: $ITERS  smoke: $SMOKE  rounds: $ROUNDS"
  } >"$OUT/meta.txt"
  echo "system,workload,variant,threads,metric,median,min,max,unit" >"$RAW"

  for w in $WORKLOADS; do
    for t in $THREADS; do
      # The systems that run at this count, over which the turn rotates.
      # The serial baseline runs once (threads = 1). A pool of one thread
      # has no workers to idle, so idle runs at the larger counts only (and
      # once for serial: the floor of the measurement itself). One CPU for
      # one thread is plain W5.
      ACTIVE=()
      for s in "${SYS[@]}"; do
        if [ "$s" = serial ]; then
          [ "$t" = "${THREADS%% *}" ] && ACTIVE+=("$s")
        elif ! { [ "$w" = idle ] && [ "$t" -eq 1 ] && [ "$MAXT" -gt 1 ]; } &&
             ! { [ "$w" = W5-1cpu ] && [ "$t" -eq 1 ]; }; then
          ACTIVE+=("$s")
        fi
      done
      for r in $(seq 1 "$ROUNDS"); do
        [ "$ROUNDS" -gt 1 ] && echo "-- $w threads=$t: round $r of $ROUNDS" >&2
        ORDER=()
        for i in "${!ACTIVE[@]}"; do ORDER+=("${ACTIVE[(i + r - 1) % ${#ACTIVE[@]}]}"); done
        for s in "${ORDER[@]}"; do
          if [ "$w" = W5-1cpu ] && ! command -v taskset >/dev/null; then
            [ "$s" = serial ] && [ "$r" = 1 ] && echo "-- W5-1cpu: no taskset, skipped" >&2
            continue
          fi
          if [ ! -x "$BIN/bench_$s" ]; then
            [ "$w" = "${WORKLOADS%% *}" ] && [ "$t" = "${THREADS%% *}" ] && [ "$r" = 1 ] &&
              echo "-- $s: not built (not installed), skipped" >&2
            continue
          fi
          if [ "$s" = serial ]; then tt=1; else tt=$t; fi
          case " ${HUNG[*]} " in *" $s/$w/$tt "*) continue ;; esac
          run_one "$s" "$w" "$tt"
        done
      done
    done
  done
  # One row per figure: the median of the rounds' medians.
  awk -F, -f "$(dirname "$0")/combine.awk" "$RAW" >"$CSV"
  awk '{ n++; if ($4 > 5) busy++ } END {
    printf "# other processes took more than 5%% of the CPU time during %d of %d runs\n", busy, n
  }' "$OUT/logs/other-load.txt" >>"$OUT/meta.txt"
}

CSV=$OUT/results.csv
RAW=$OUT/rounds.csv
failed=0
if [ "$TABLE_ONLY" -eq 1 ]; then
  if [ ! -f "$CSV" ] || [ ! -f "$OUT/meta.txt" ]; then
    echo "run.sh: no $CSV (and meta.txt) to tabulate" >&2
    exit 1
  fi
  THREADS=$(sed -n 's/^# threads: \(.*\)  reps:.*/\1/p' "$OUT/meta.txt")
else
  if [ "$BUILD_IT" -eq 1 ]; then
    [ "$INSTALL" -eq 1 ] && install_peers
    build
  elif [ ! -x "$BUILD/bench/bench_serial" ]; then
    echo "run.sh: --no-build, but $BUILD/bench/bench_serial is not there" >&2
    exit 1
  fi
  run_all
fi

# ---- table and plot ---------------------------------------------------------
HERE=$(dirname "$0")
# With rounds, each round is tabulated alone too (round.awk, folded as the
# whole run is): the table's "rounds" column says in how many the target
# held, which tells a steady miss from a tie that the medians tip.
HELD=""
NROUNDS=$(sed -n 's/.*  rounds: \([0-9]*\).*/\1/p' "$OUT/meta.txt")
if [ "${NROUNDS:-1}" -gt 1 ] && [ -f "$RAW" ]; then
  HELD=$OUT/held.csv
  for r in $(seq 1 "$NROUNDS"); do
    awk -F, -v r="$r" -f "$HERE/round.awk" "$RAW" | awk -F, -f "$HERE/combine.awk" |
      awk -F, -v threads="$THREADS" -v meta="$OUT/meta.txt" -v verdicts=1 -f "$HERE/table.awk"
  done >"$HELD"
fi
awk -F, -v threads="$THREADS" -v meta="$OUT/meta.txt" -v held="$HELD" -f "$HERE/table.awk" "$CSV" |
  tee "$OUT/table.txt"
awk -F, -v threads="$THREADS" -f "$HERE/plot.awk" "$CSV" >"$OUT/w4.svg"

echo "== results: $CSV, $OUT/table.txt, $OUT/w4.svg, logs in $OUT/logs" >&2
if [ $failed -ne 0 ]; then
  echo "run.sh: FAILED: a run crashed or its result differed from the serial answer (see above)" >&2
  exit 1
fi
exit 0
