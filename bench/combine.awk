# combine.awk - bench/run.sh --rounds: folds the rows of every round
# (DIR/rounds.csv) into one row per figure (DIR/results.csv).
#
#   awk -F, -f bench/combine.awk DIR/rounds.csv > DIR/results.csv
#
# A figure (system, workload, variant, threads, metric) becomes the median
# of its rounds' medians (the mean of the middle two for an even count),
# with the smallest min and the largest max. A "hangs" or "failed" row is
# kept once, and then wins over the figures of the same process: a run
# that hung or failed once is reported so. A "timeout" row (a process too
# slow for --timeout, which printed some figures first) is kept once too,
# next to the figures it printed: table.awk shows it where one is missing.
function sort_num(a, n,   i, j, x) { # insertion sort, a[1..n]
  for (i = 2; i <= n; i++) {
    x = a[i]
    for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]
    a[j + 1] = x
  }
}
NR == 1 { print; next }
$5 == "hangs" || $5 == "failed" {
  k = $1 SUBSEP $2 SUBSEP $4
  if (!(k in bad)) { bad[k] = $0; order[++n] = "bad" SUBSEP k }
  next
}
$5 == "timeout" {
  k = $1 SUBSEP $2 SUBSEP $4
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
END {
  for (i = 1; i <= n; i++) {
    split(order[i], p, SUBSEP)
    if (p[1] == "bad") { print bad[p[2] SUBSEP p[3] SUBSEP p[4]]; continue }
    if (p[1] == "slow") {
      if (!((p[2] SUBSEP p[3] SUBSEP p[4]) in bad)) print slow[p[2] SUBSEP p[3] SUBSEP p[4]]
      continue
    }
    k = p[2] SUBSEP p[3] SUBSEP p[4] SUBSEP p[5] SUBSEP p[6]
    if ((p[2] SUBSEP p[3] SUBSEP p[5]) in bad) continue
    c = cnt[k]
    delete v
    for (j = 1; j <= c; j++) v[j] = vals[k, j]
    sort_num(v, c)
    med = c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
    printf "%s,%s,%s,%s,%s,%.6g,%.6g,%.6g,%s\n", p[2], p[3], p[4], p[5], p[6], med, lo[k], hi[k], unit[k]
  }
}
