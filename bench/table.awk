# table.awk - bench/run.sh's table: reads results.csv (see bench.h for the
# columns) and prints one row per (workload, variant, threads).
#
#   awk -F, -v threads="1 2" -v meta=DIR/meta.txt [-v held=FILE] -f bench/table.awk DIR/results.csv
#   awk -F, -v threads="1 2" -v meta=/dev/null -v verdicts=1 -f bench/table.awk ROUND.csv
#
# Columns: each system's figure (W3, W4: speedup = serial driver's time /
# time, the median of the rounds' own (combine.awk's speedup rows), or
# else of the medians; else the median in the CSV's unit), "vs best" =
# poolmap's cost / the
# best peer's cost (OpenMP in any schedule, pthreadpool, TBB; below 1:
# poolmap is faster), the target, its ratio, and whether it holds. A run
# that timed out shows "hangs" (or "timeout" where figures it printed
# before the timeout are missing), one that crashed or mismatched "failed".
# With verdicts=1 it prints, instead of the table, "workload,variant,
# threads,held" (1 or 0) per target: run.sh does so for each round alone
# (round.awk) and passes those lines as `held`, which adds the column
# "rounds": in how many rounds the target held on that round's figures.
function fmt(v) {
  if (v == "") return "-"
  if (!isnum(v)) return v
  v += 0
  if (v >= 1000) return sprintf("%.0f", v)
  if (v >= 100) return sprintf("%.1f", v)
  if (v >= 1) return sprintf("%.2f", v)
  return sprintf("%.3g", v)
}
function isnum(v) { return v ~ /[0-9]/ && v ~ /^[-+]?[0-9.]+([eE][-+]?[0-9]+)?$/ }
# The raw cell of system s: a number, "hangs", "timeout", "failed" or "".
function cell(s, w, v, t,   k) {
  k = s SUBSEP w SUBSEP v SUBSEP t
  if (k in med) return med[k]
  if (k in status) return status[k]
  k = s SUBSEP w SUBSEP "*" SUBSEP t
  if (k in status) return status[k]
  return ""
}
# Speedup for W3/W4 (serial time / time), else the figure itself.
function fig(s, w, v, t, basev,   x, base) {
  x = cell(s, w, v, t)
  if (!isnum(x) || (w != "W3" && w != "W4")) return x
  if ((s SUBSEP w SUBSEP v SUBSEP t) in spd) return spd[s, w, v, t]
  base = cell("serial", w, basev, 1)
  if (!isnum(base) || x == 0) return ""
  return base / x
}
function addrow(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o) {
  nrows++
  R[nrows, 1] = a; R[nrows, 2] = b; R[nrows, 3] = c; R[nrows, 4] = d; R[nrows, 5] = e
  R[nrows, 6] = f; R[nrows, 7] = g; R[nrows, 8] = h; R[nrows, 9] = i; R[nrows, 10] = j
  R[nrows, 11] = k; R[nrows, 12] = l; R[nrows, 13] = m; R[nrows, 14] = n; R[nrows, 15] = o
}
function better(a, b, hib) { # is figure a better than b?
  return hib ? a > b : a < b
}
NR > 1 {
  k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4
  if ($5 == "speedup") spd[k] = $6 + 0
  else if ($5 == "hangs" || $5 == "failed" || $5 == "timeout") status[k] = $5
  else { med[k] = $6 + 0; unit[$2 SUBSEP $3] = $9 }
}
END {
  # The CPU count, from meta.txt: W3's target cannot exceed it.
  ncpu = 0
  while ((getline line < meta) > 0) {
    metalines[++nmeta] = line
    if (match(line, /online CPUs: [0-9]+/)) ncpu = substr(line, RSTART + 13, RLENGTH - 13) + 0
  }
  # Each round's verdicts (see verdicts above): held in H of N rounds.
  if (held != "")
    while ((getline line < held) > 0) {
      split(line, hv, ",")
      N[hv[1], hv[2], hv[3]]++
      H[hv[1], hv[2], hv[3]] += hv[4]
    }
  ncols = (held != "") ? 15 : 14
  nt = split(threads, T, " ")
  nv = split("W1 empty|W2 map_inline|W2 map_fnptr|W2 unzip|W2 memcpy|W2 map_unzip|W3 uniform|W4 tri|W4 mandel|W5 small|W5 one_cpu|W6 nested|idle sleep", V, "|")
  cols = "serial poolmap openmp omp-dyn omp-guid pthreadpool tbb"
  ncol = split(cols, C, " ")
  addrow("workload", "variant", "thr", "unit", "serial", "poolmap", "openmp", "omp-dyn",
         "omp-guid", "pthreadpool", "tbb", "vs best", "target", "ratio ok?", "rounds")
  for (i = 1; i <= nv; i++) {
    split(V[i], wv, " "); w = wv[1]; v = wv[2]
    u = (w == "W3" || w == "W4") ? "speedup" : unit[w SUBSEP v]
    if (u == "") u = unit[w SUBSEP v "-static"]
    if (u == "") u = "-"
    hib = (w == "W3" || w == "W4")
    for (j = 1; j <= nt; j++) {
      t = T[j]
      if (w == "idle" && t == 1 && nt > 1) continue
      if (v == "one_cpu" && t == 1) continue
      # Figures per column; OpenMP W4 has three schedules.
      for (c = 1; c <= ncol; c++) {
        s = C[c]; vv = v
        if (s == "omp-dyn" || s == "omp-guid") {
          if (w != "W4") { F[c] = ""; continue }
          s = "openmp"; vv = v (C[c] == "omp-dyn" ? "-dynamic" : "-guided")
        } else if (s == "openmp" && w == "W4") vv = v "-static"
        F[c] = (s == "serial") ? fig(s, w, vv, 1, v) : fig(s, w, vv, t, v)
      }
      pm = F[2]
      # Skip rows where nothing ran.
      any = 0
      for (c = 2; c <= ncol; c++) if (F[c] != "") any = 1
      if (!any) continue
      # Best peer (OpenMP in any schedule, pthreadpool, TBB).
      best = ""
      for (c = 3; c <= ncol; c++)
        if (isnum(F[c]) && (best == "" || better(F[c], best, hib))) best = F[c]
      vsbest = "-"
      if (isnum(pm) && best != "") {
        if (hib) vsbest = (pm > 0) ? best / pm : ""
        else vsbest = (best > 0) ? pm / best : ""
      }
      # Targets.
      tgt = "-"; ratio = ""; ok = ""
      omp = F[3]; dyn = F[4]; ptp = F[6]; tbb = F[7]
      if (w == "W1" || w == "W5") {
        tgt = "<= best peer"
        if (isnum(pm) && best != "") { ratio = pm / best; ok = (pm <= best) }
      } else if (w == "W2" && (v == "map_inline" || v == "map_fnptr")) {
        tgt = "<= 1.05 x openmp"
        if (isnum(pm) && isnum(omp)) { ratio = pm / omp; ok = (ratio <= 1.05) }
      } else if (w == "W2" && v == "unzip") {
        tgt = "<= 1.2 x memcpy"
        mc = ""
        for (c = 1; c <= ncol; c++) {
          s = C[c]; if (s == "omp-dyn" || s == "omp-guid") continue
          x = (s == "serial") ? (t == 1 ? cell(s, w, "memcpy", 1) : "") : cell(s, w, "memcpy", t)
          if (isnum(x) && (mc == "" || x + 0 < mc + 0)) mc = x
        }
        if (isnum(pm) && mc != "") { ratio = pm / mc; ok = (ratio <= 1.2) }
      } else if (w == "W3") {
        # Oversubscribed (more threads than CPUs): at most the CPU count.
        lim = (ncpu > 0 && t > ncpu) ? ncpu : t
        tgt = (lim < t) ? ">= 0.97 x cpus" : ">= 0.97 x threads"
        if (isnum(pm)) { ratio = pm / lim; ok = (ratio >= 0.97) }
      } else if (w == "W4") {
        m = ""
        if (isnum(dyn)) m = dyn
        if (isnum(tbb) && (m == "" || tbb + 0 > m + 0)) m = tbb
        tgt = (v == "tri" && t > 1) ? ">= dyn,tbb; >= 1.2 x static" : ">= dyn,tbb"
        if (isnum(pm) && m != "") {
          ratio = pm / m; ok = (pm >= m)
          if (v == "tri" && t > 1 && isnum(omp)) {
            r2 = pm / omp
            ratio = fmt(ratio) "; " fmt(r2)
            ok = ok && (r2 >= 1.2)
          }
        }
      } else if (w == "W6") {
        tgt = "completes, <= tbb"
        if (isnum(pm)) {
          if (isnum(tbb)) { ratio = pm / tbb; ok = (pm <= tbb) } else ok = 1
        } else if (pm != "") ok = 0
      } else if (w == "idle") {
        tgt = "<= 1 ms/s"
        if (isnum(pm)) { ratio = pm; ok = (pm <= 1) }
      }
      if (pm == "hangs" || pm == "failed" || pm == "timeout") ok = 0
      okstr = (ok == "") ? (tgt == "-" ? "" : "n/a") : (ok ? "yes" : "NO")
      rs = (ratio == "") ? "" : (ratio ~ /;/ ? ratio : fmt(ratio))
      rd = ((w, v, t) in N) ? H[w, v, t] " of " N[w, v, t] : ""
      addrow(w, v, t, u, fmt(F[1]), fmt(pm), fmt(F[3]), fmt(F[4]), fmt(F[5]), fmt(F[6]),
             fmt(F[7]), fmt(vsbest), tgt, (rs == "" ? okstr : rs " " okstr), rd)
      if (ok != "") {
        ntarget++
        if (ok) nheld++
        if (verdicts) printf "%s,%s,%s,%d\n", w, v, t, ok ? 1 : 0
      }
    }
  }
  if (verdicts) exit
  for (c = 1; c <= ncols; c++) {
    wd[c] = 0
    for (r = 1; r <= nrows; r++) if (length(R[r, c]) > wd[c]) wd[c] = length(R[r, c])
  }
  for (i = 1; i <= nmeta; i++) print metalines[i]
  for (r = 1; r <= nrows; r++) {
    s = ""
    for (c = 1; c <= ncols; c++) {
      f = (c <= 4 || c >= 13) ? "%-" wd[c] "s" : "%" wd[c] "s"
      s = s sprintf(f, R[r, c]) (c < ncols ? "  " : "")
    }
    sub(/ +$/, "", s)
    print s
    if (r == 1) {
      s = ""
      for (c = 1; c <= ncols; c++) {
        d = sprintf("%" wd[c] "s", ""); gsub(/ /, "-", d)
        s = s d (c < ncols ? "  " : "")
      }
      print s
    }
  }
  printf "targets held: %d of %d\n", nheld, ntarget
  print "speedup = serial time / time, in each round (the median of the rounds'); vs best = poolmap cost / best peer cost (below 1: poolmap faster);"
  print "figures are medians; every run was checked against the serial answer."
  if (held != "")
    print "rounds = in how many rounds the target held on that round's figures alone."
}
