# combine.awk - bench/run.sh --rounds: folds the rows of every round
# (DIR/rounds.csv) into one row per figure (DIR/results.csv).
#
#   awk -F, -f bench/combine.awk DIR/rounds.csv > DIR/results.csv
#
# A figure (system, workload, variant, threads, metric) becomes the median
# of its rounds' medians (the mean of the middle two for an even count),
# with the smallest min and the largest max. A "hangs" or "failed" row is
# kept once, and then wins over the figures of the same process (its
# variant, or "*" for all of the workload's): a run that hung or failed
# once is reported so. A "timeout" row (a process too slow for --timeout,
# which printed some figures first) is kept once too, next to the figures
# it printed: table.awk shows it where one is missing.
# W3 and W4 figures get a "speedup" row besides: the median of the rounds'
# speedups, each the serial loop's time in that round over the figure's
# (a figure's r-th row is round r's, see round.awk), so that a drift of the
# machine between rounds cancels; table.awk and plot.awk use it.
function sort_num(a, n,   i, j, x) { # insertion sort, a[1..n]
  for (i = 2; i <= n; i++) {
    x = a[i]
    for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]
    a[j + 1] = x
  }
}
NR == 1 { print; next }
$5 == "hangs" || $5 == "failed" {
  k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4
  if (!(k in bad)) { bad[k] = $0; order[++n] = "bad" SUBSEP k }
  next
}
$5 == "timeout" {
  k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4
  if (!(k in slow)) { slow[k] = $0; order[++n] = "slow" SUBSEP k }
  next
}
{
  k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4 SUBSEP $5
  if (!(k in cnt)) { order[++n] = "fig" SUBSEP k; row[k] = $0 }
  c = ++cnt[k]
  vals[k, c] = $6 + 0
  if (!(k in lo) || $7 + 0 < lo[k]) lo[k] = $7 + 0
  if (!(k in hi) || $8 + 0 > hi[k]) hi[k] = $8 + 0
  unit[k] = $9
}
# Did the process of system s, workload w, variant v, threads t hang or fail?
function is_bad(s, w, v, t) {
  return ((s SUBSEP w SUBSEP "*" SUBSEP t) in bad) || ((s SUBSEP w SUBSEP v SUBSEP t) in bad)
}
function median(a, c) {
  sort_num(a, c)
  return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}
END {
  for (i = 1; i <= n; i++) {
    split(order[i], p, SUBSEP)
    if (p[1] == "bad") { print bad[p[2] SUBSEP p[3] SUBSEP p[4] SUBSEP p[5]]; continue }
    if (p[1] == "slow") {
      if (!is_bad(p[2], p[3], p[4], p[5])) print slow[p[2] SUBSEP p[3] SUBSEP p[4] SUBSEP p[5]]
      continue
    }
    k = p[2] SUBSEP p[3] SUBSEP p[4] SUBSEP p[5] SUBSEP p[6]
    if (is_bad(p[2], p[3], p[4], p[5])) continue
    c = cnt[k]
    delete v
    for (j = 1; j <= c; j++) v[j] = vals[k, j]
    printf "%s,%s,%s,%s,%s,%.6g,%.6g,%.6g,%s\n", p[2], p[3], p[4], p[5], p[6], median(v, c),
           lo[k], hi[k], unit[k]
    # The same-round speedup: OpenMP's W4 variants (tri-static, ...) run
    # the serial loop's variant (tri).
    if ((p[3] != "W3" && p[3] != "W4") || p[2] == "serial") continue
    bv = p[4]
    sub(/-(static|dynamic|guided)$/, "", bv)
    sk = "serial" SUBSEP p[3] SUBSEP bv SUBSEP 1 SUBSEP p[6]
    if (!(sk in cnt) || is_bad("serial", p[3], bv, 1)) continue
    m = c < cnt[sk] ? c : cnt[sk]
    delete v
    nn = 0
    for (j = 1; j <= m; j++)
      if (vals[k, j] > 0) v[++nn] = vals[sk, j] / vals[k, j]
    if (nn == 0) continue
    slo = shi = v[1]
    for (j = 2; j <= nn; j++) { if (v[j] < slo) slo = v[j]; if (v[j] > shi) shi = v[j] }
    printf "%s,%s,%s,%s,speedup,%.6g,%.6g,%.6g,speedup\n", p[2], p[3], p[4], p[5], median(v, nn),
           slo, shi
  }
}
