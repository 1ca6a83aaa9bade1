# round.awk - one round's rows of DIR/rounds.csv, as if that round had been
# the whole run: bench/run.sh tabulates each round alone to count in how
# many rounds each target held.
#
#   awk -F, -v r=2 -f bench/round.awk DIR/rounds.csv > round2.csv
#
# run.sh appends the rounds in order, and within a round each process's
# figures once, so a figure's r-th row is round r's. A "hangs", "failed"
# or "timeout" row (a process that is not run again) stands in every round.
NR == 1 { print; next }
$5 == "hangs" || $5 == "failed" || $5 == "timeout" { print; next }
{
  k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4 SUBSEP $5
  if (++seen[k] == r) print
}
