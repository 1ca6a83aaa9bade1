#!/usr/bin/env bash
# bench/test_report.sh - what bench/run.sh's report does with the rows of
# a run, on a made-up rounds.csv: figures fold into the median of their
# rounds; a process that timed out after printing some figures keeps them
# and reads "timeout" where the rest would be; one that printed nothing
# reads "hangs"; a failed process wins over its figures; a poolmap cell
# without a figure never holds a target; a speedup is the median of the
# rounds' own, each over the same round's serial time; W5's one-CPU
# process reports its hang in its own row; with rounds, the "rounds"
# column counts those whose own figures hold (W3's target capped at the
# CPUs there too). Run by ctest (bench_report).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
fails=0
# The table of $dir/rounds.csv and $dir/meta.txt, through run.sh itself
# (--table-only), which tabulates each round alone for the rounds column.
table_only() {
  awk -F, -f "$HERE/combine.awk" "$dir/rounds.csv" >"$dir/results.csv" &&
    bash "$HERE/run.sh" --table-only --out "$dir" >/dev/null 2>"$dir/err" ||
    { echo "FAILED: run.sh --table-only"; cat "$dir/err"; exit 1; }
  cat "$dir/table.txt"
}
expect() { # LABEL PATTERN: the table has a line matching PATTERN
  if grep -Eq -- "$2" "$dir/table.txt"; then echo "ok: $1"
  else echo "FAILED: $1 (no line matching: $2)"; fails=1; fi
}
cat >"$dir/meta.txt" <<'META'
# threads: 1 2   reps: 7  iters per 10 us item: 100  smoke: 0  rounds: 3
META
cat >"$dir/rounds.csv" <<'CSV'
system,workload,variant,threads,metric,median,min,max,unit
serial,W4,tri,1,time,100,99,101,ms
serial,W4,tri,1,time,102,99,103,ms
serial,W4,tri,1,time,104,99,105,ms
serial,W4,mandel,1,time,100,99,101,ms
poolmap,W4,tri,1,time,50,49,51,ms
poolmap,W4,tri,1,time,70,49,71,ms
poolmap,W4,tri,1,time,51,49,52,ms
poolmap,W4,mandel,2,time,50,49,51,ms
openmp,W4,tri-static,1,time,100,99,101,ms
openmp,W4,tri-dynamic,1,time,100,99,101,ms
openmp,W4,*,1,timeout,,,,
openmp,W4,*,2,failed,,,,
openmp,W4,tri-static,2,time,80,79,81,ms
tbb,W4,tri,1,time,100,99,101,ms
serial,W4,mandel,1,time,100,99,101,ms
serial,W4,mandel,1,time,130,99,131,ms
poolmap,W4,mandel,2,time,60,59,61,ms
poolmap,W4,mandel,2,time,60,59,61,ms
poolmap,W6,*,2,timeout,,,,
pthreadpool,W6,*,2,hangs,,,,
tbb,W6,nested,2,time,1.0,0.9,1.1,ms/call
serial,W5,small,1,time_per_call,60,59,61,us/call
poolmap,W5,small,2,time_per_call,30,29,31,us/call
tbb,W5,small,2,time_per_call,31,30,32,us/call
poolmap,W5,one_cpu,2,hangs,,,,
tbb,W5,one_cpu,2,time_per_call,61,60,62,us/call
CSV
awk -F, -f "$HERE/combine.awk" "$dir/rounds.csv" >"$dir/results.csv" &&
  awk -F, -v threads="1 2" -v meta="$dir/meta.txt" -f "$HERE/table.awk" \
    "$dir/results.csv" >"$dir/table.txt" || { echo "FAILED: the awk scripts"; exit 1; }
cat "$dir/table.txt"
# serial 100, 102, 104; poolmap 50, 70, 51: round by round 2.00, 1.46,
# 2.04, whose median is 2.00.
expect "a figure is the median of its rounds" '^W4 +tri +1 +speedup +1\.00 +2\.00 '
# OpenMP printed its W4 figures in round 1 only, then timed out (not run
# again): over round 1's serial time, 100 / 100.
expect "a timed-out process keeps the figures it printed" \
  '^W4 +tri +1 +speedup( +[0-9.]+){2} +1\.00 +1\.00 +timeout '
# Mandelbrot at 2 threads: serial 100, 100, 130 against poolmap's 50, 60,
# 60: the rounds' speedups 2.00, 1.67, 2.17, median 2.00 (the medians'
# ratio, 100 / 60, would read 1.67: the third round's slow serial loop
# would count against a poolmap figure of another round).
expect "a speedup is the median of the rounds' own" '^W4 +mandel +2 +speedup +1\.00 +2\.00 '
expect "W5's one-CPU process that hangs says so in its row" '^W5 +one_cpu +2 +us/call .* hangs .* NO$'
expect "... and leaves W5's own row alone" '^W5 +small +2 +us/call +60\.00 +30\.00 .* yes$'
expect "a failed process wins over its figures" '^W4 +tri +2 +speedup .* failed '
expect "a process that printed nothing hangs" '^W6 +nested +2 .* hangs '
expect "a poolmap cell without a figure holds no target" '^W6 +nested +2 +ms/call +- +timeout .* NO$'

# Rounds, through run.sh itself (--table-only): each round is tabulated
# alone, and the "rounds" column counts the rounds whose figures alone
# hold the target. W5 at 2 threads: poolmap 30, 33, 31 against
# pthreadpool's 31, 32, 32: medians 31 and 32 hold; rounds 1 and 3 hold,
# round 2 does not. W6: TBB is never beaten; pthreadpool hangs in every
# round, which takes no round from poolmap (its target is TBB).
cat >"$dir/meta.txt" <<'META'
# threads: 2   reps: 7  iters per 10 us item: 100  smoke: 0  rounds: 3
META
cat >"$dir/rounds.csv" <<'CSV'
system,workload,variant,threads,metric,median,min,max,unit
serial,W5,small,1,time_per_call,60,59,61,us/call
poolmap,W5,small,2,time_per_call,30,29,31,us/call
pthreadpool,W5,small,2,time_per_call,31,30,32,us/call
poolmap,W6,nested,2,time_per_call,2.2,2.1,2.3,ms/call
pthreadpool,W6,*,2,hangs,,,,
tbb,W6,nested,2,time_per_call,2.1,2.0,2.2,ms/call
serial,W5,small,1,time_per_call,60,59,61,us/call
poolmap,W5,small,2,time_per_call,33,32,34,us/call
pthreadpool,W5,small,2,time_per_call,32,31,33,us/call
poolmap,W6,nested,2,time_per_call,2.3,2.2,2.4,ms/call
tbb,W6,nested,2,time_per_call,2.2,2.1,2.3,ms/call
serial,W5,small,1,time_per_call,60,59,61,us/call
poolmap,W5,small,2,time_per_call,31,30,32,us/call
pthreadpool,W5,small,2,time_per_call,32,31,33,us/call
poolmap,W6,nested,2,time_per_call,2.4,2.3,2.5,ms/call
tbb,W6,nested,2,time_per_call,2.3,2.2,2.4,ms/call
CSV
table_only
expect "the rounds column counts the rounds that hold" '^W5 +small +2 .* yes +2 of 3$'
expect "a target no round holds reads 0 (a peer's hang takes no round)" '^W6 +nested +2 .*hangs .* NO +0 of 3$'

# More threads than CPUs: W3's target is 0.97 x the CPUs (2 here, not 4),
# in the table and in each round alike. Speedup 1.98 in both rounds.
cat >"$dir/meta.txt" <<'META'
# cpu: Test CPU, online CPUs: 2
# threads: 4   reps: 7  iters per 10 us item: 100  smoke: 0  rounds: 2
META
cat >"$dir/rounds.csv" <<'CSV'
system,workload,variant,threads,metric,median,min,max,unit
serial,W3,uniform,1,time,198,197,199,ms
poolmap,W3,uniform,4,time,100,99,101,ms
serial,W3,uniform,1,time,198,197,199,ms
poolmap,W3,uniform,4,time,100,99,101,ms
CSV
table_only
expect "an oversubscribed W3 row's rounds use the CPU count too" '^W3 +uniform +4 .* yes +2 of 2$'
exit $fails
