# plot.awk - bench/run.sh's plot: speedups over serial as SVG, from
# results.csv. Panels: W4 triangular, W4 Mandelbrot, W3 uniform; one group
# of bars per thread count; with three or more thread counts (a --threads
# list) each system's bars are joined by a line: the scaling curve.
# Dashed: ideal (= threads).
#
#   awk -F, -v threads="1 2" -f bench/plot.awk DIR/results.csv > DIR/w4.svg
function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); return s }
NR > 1 && ($2 == "W3" || $2 == "W4") && $6 != "" {
  v = $3; s = $1
  # OpenMP: tri-dynamic -> series openmp-dynamic; unsuffixed (W3) = static.
  if (s == "openmp") {
    if (split(v, part, "-") == 2) { v = part[1]; s = "openmp-" part[2] } else s = "openmp-static"
  }
  if ($5 == "speedup") spd[s SUBSEP $2 SUBSEP v SUBSEP $4] = $6
  else val[s SUBSEP $2 SUBSEP v SUBSEP $4] = $6
}
END {
  nt = split(threads, T, " ")
  ns = split("poolmap openmp-static openmp-dynamic openmp-guided pthreadpool tbb", S, " ")
  split("#d62728 #1f77b4 #6baed6 #9ecae1 #2ca02c #ff7f0e", COL, " ")
  np = split("W4 tri|W4 mandel|W3 uniform", P, "|")
  split("W4 triangular (item i costs i)|W4 Mandelbrot rows|W3 uniform 10 us items", TITLE, "|")
  pw = 380; ph = 300; ml = 50; mt = 40; mb = 50; gap = 30
  W = np * (pw + gap) + ml; H = mt + ph + mb + 30
  ymax = T[nt]
  for (k in val) {
    split(k, q, SUBSEP)
    base = val["serial" SUBSEP q[2] SUBSEP q[3] SUBSEP 1]
    if (q[1] != "serial" && base != "" && val[k] > 0) {
      sp[k] = (k in spd) ? spd[k] : base / val[k] # the rounds' own (combine.awk)
      if (sp[k] > ymax) ymax = sp[k]
    }
  }
  ymax = int(ymax + 0.999)
  if (ymax < 1) ymax = 1
  printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
  printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
  for (p = 1; p <= np; p++) {
    split(P[p], wv, " "); w = wv[1]; v = wv[2]
    x0 = ml + (p - 1) * (pw + gap); y0 = mt + ph
    printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n", x0 + pw / 2, mt - 15, esc(TITLE[p])
    for (y = 0; y <= ymax; y++) {
      yy = y0 - y * ph / ymax
      printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x0, yy, x0 + pw, yy
      printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n", x0 - 5, yy + 4, y
    }
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", x0, mt, x0, y0
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", x0, y0, x0 + pw, y0
    printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">threads</text>\n", x0 + pw / 2, y0 + 35
    if (p == 1) printf "<text x=\"15\" y=\"%d\" transform=\"rotate(-90 15 %d)\" text-anchor=\"middle\">speedup over serial</text>\n", mt + ph / 2, mt + ph / 2
    gw = pw / nt; bw = (gw - 20) / ns
    for (j = 1; j <= nt; j++) {
      gx = x0 + (j - 1) * gw + 10
      printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", gx + (gw - 20) / 2, y0 + 16, T[j]
      yy = y0 - T[j] * ph / ymax
      printf "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\" stroke-dasharray=\"4 3\"/>\n", gx - 4, yy, gx + gw - 16, yy
      for (i = 1; i <= ns; i++) {
        s = S[i]
        k = s SUBSEP w SUBSEP v SUBSEP T[j]
        if (!(k in sp)) continue
        bx = gx + (i - 1) * bw; bh = sp[k] * ph / ymax
        cx[i, j] = bx + bw / 2; cy[i, j] = y0 - bh
        printf "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s %s: %.2fx</title></rect>\n", bx, y0 - bh, bw - 1, bh, COL[i], s, T[j], sp[k]
      }
    }
    if (nt >= 3)
      for (i = 1; i <= ns; i++) {
        pts = ""
        for (j = 1; j <= nt; j++) if ((i, j) in cx) pts = pts sprintf("%.1f,%.1f ", cx[i, j], cy[i, j])
        if (pts != "") printf "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", pts, COL[i]
      }
    for (i = 1; i <= ns; i++) for (j = 1; j <= nt; j++) delete cx[i, j]
  }
  lx = ml
  for (i = 1; i <= ns; i++) {
    printf "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", lx, H - 22, COL[i]
    printf "<text x=\"%d\" y=\"%d\">%s</text>\n", lx + 16, H - 12, S[i]
    lx += 20 + 8 * length(S[i]) + 10
  }
  printf "<text x=\"%d\" y=\"%d\">- - ideal</text>\n", lx, H - 12
  print "</svg>"
}
