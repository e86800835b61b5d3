/* pare-bench --plot RUN.jsonl OUT.svg: a picture of a run — GFLOP/s
 * against problem size (m·n·k of the shape, log scale), one line per kernel
 * and variant, for the rows that carry "gflops"; and median latency bars
 * for the `models` rows. Written atomically. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

enum { MAX_POINTS = 4096, MAX_SERIES = 24 };

typedef struct point {
  char series[96], label[96];
  double x, y; /* size and GFLOP/s, or (index, ms) for bars */
} point;

static const char *colors[] = {"#2e86c1", "#c0392b", "#27ae60", "#8e44ad", "#d68910", "#17a589",
                               "#5d6d7e", "#cb4335", "#1f618d", "#7d3c98", "#b7950b", "#148f77"};

int pare_bench_plot(const char *in_path, const char *out_path) {
  FILE *f = fopen(in_path, "r");
  if (!f) {
    fprintf(stderr, "pare-bench: --plot: cannot open %s\n", in_path);
    return 1;
  }
  point *pts = calloc(MAX_POINTS, sizeof *pts), *bars = calloc(MAX_POINTS, sizeof *bars);
  int np = 0, nb = 0;
  char line[4096];
  while (pts && bars && fgets(line, sizeof line, f)) {
    char gf[64], shape[96], kernel[64], variant[64], ms[64], model[256], batch[32], fmt[32];
    pare_bench_json_field(line, "gflops", gf, sizeof gf);
    pare_bench_json_field(line, "shape", shape, sizeof shape);
    pare_bench_json_field(line, "kernel", kernel, sizeof kernel);
    pare_bench_json_field(line, "variant", variant, sizeof variant);
    pare_bench_json_field(line, "format", fmt, sizeof fmt);
    unsigned long m, n, k;
    if (gf[0] && sscanf(shape, "%lux%lux%lu", &m, &n, &k) == 3 && np < MAX_POINTS) {
      point *p = &pts[np++];
      snprintf(p->series, sizeof p->series, "%.40s %.30s%s%.20s", kernel, variant,
               fmt[0] ? " " : "", fmt);
      p->x = (double)m * (double)n * (double)k;
      p->y = atof(gf);
      continue;
    }
    pare_bench_json_field(line, "ms_median", ms, sizeof ms);
    pare_bench_json_field(line, "model", model, sizeof model);
    pare_bench_json_field(line, "batch", batch, sizeof batch);
    if (ms[0] && model[0] && nb < MAX_POINTS) {
      point *b = &bars[nb++];
      const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
      char peer[64];
      pare_bench_json_field(line, "peer", peer, sizeof peer);
      snprintf(b->label, sizeof b->label, "%.40s b%.8s %.20s", base, batch,
               peer[0] ? peer : "pare");
      b->y = atof(ms);
    }
  }
  fclose(f);
  if (!pts || !bars) {
    free(pts);
    free(bars);
    return 1;
  }
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
  FILE *o = fopen(tmp, "w");
  if (!o) {
    fprintf(stderr, "pare-bench: --plot: cannot write %s\n", out_path);
    free(pts);
    free(bars);
    return 1;
  }
  const double W = 760, H = 420, L = 70, R = 220, T = 30, B = 50;
  double bar_h = nb ? 22.0 * nb + 60 : 0;
  fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\">\n", W,
          (np ? H : 0) + bar_h + 10);
  if (np) {
    double x0 = INFINITY, x1 = -INFINITY, y1 = 0;
    for (int i = 0; i < np; i++) {
      x0 = fmin(x0, log10(pts[i].x)), x1 = fmax(x1, log10(pts[i].x)), y1 = fmax(y1, pts[i].y);
    }
    if (x1 <= x0) x1 = x0 + 1;
    y1 = y1 > 0 ? y1 * 1.1 : 1;
    fprintf(o, "<text x=\"%g\" y=\"18\" font-size=\"14\">GFLOP/s against m·n·k</text>\n", L);
    fprintf(o,
            "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"#fafafa\" "
            "stroke=\"#999\"/>\n",
            L, T, W - L - R, H - T - B);
    for (int t = 0; t <= 4; t++) {
      double yv = y1 * t / 4, sy = H - B - (H - T - B) * t / 4;
      double xv = x0 + (x1 - x0) * t / 4, sx = L + (W - L - R) * t / 4;
      fprintf(o, "<text x=\"%g\" y=\"%g\" font-size=\"10\" text-anchor=\"end\">%.0f</text>\n",
              L - 4, sy + 3, yv);
      fprintf(o, "<text x=\"%g\" y=\"%g\" font-size=\"10\" text-anchor=\"middle\">%.2g</text>\n",
              sx, H - B + 14, pow(10, xv));
    }
    char names[MAX_SERIES][96];
    int ns = 0;
    for (int i = 0; i < np; i++) {
      int s = 0;
      while (s < ns && strcmp(names[s], pts[i].series)) s++;
      if (s == ns && ns < MAX_SERIES) snprintf(names[ns++], sizeof names[0], "%s", pts[i].series);
    }
    for (int s = 0; s < ns; s++) {
      const char *c = colors[s % 12];
      fprintf(o, "<g class=\"series\" data-series=\"%s\">", names[s]);
      for (int i = 0; i < np; i++) {
        if (strcmp(pts[i].series, names[s])) continue;
        double sx = L + (W - L - R) * (log10(pts[i].x) - x0) / (x1 - x0);
        double sy = H - B - (H - T - B) * pts[i].y / y1;
        fprintf(o,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%s: %.1f GFLOP/s"
                "</title></circle>",
                sx, sy, c, names[s], pts[i].y);
      }
      fprintf(o, "</g>\n<text x=\"%g\" y=\"%g\" font-size=\"11\" fill=\"%s\">%s</text>\n",
              W - R + 10, T + 14.0 * s + 10, c, names[s]);
    }
  }
  if (nb) {
    double top = (np ? H : 0) + 20, ymax = 0;
    for (int i = 0; i < nb; i++) ymax = fmax(ymax, bars[i].y);
    fprintf(o, "<text x=\"10\" y=\"%g\" font-size=\"14\">median latency (ms)</text>\n", top);
    for (int i = 0; i < nb; i++) {
      double y = top + 14 + 22.0 * i, w = ymax > 0 ? (W - 330) * bars[i].y / ymax : 0;
      fprintf(o,
              "<text x=\"250\" y=\"%g\" font-size=\"11\" text-anchor=\"end\">%s</text>"
              "<rect class=\"bar\" x=\"256\" y=\"%g\" width=\"%.1f\" height=\"16\" "
              "fill=\"#2e86c1\"/><text x=\"%.1f\" y=\"%g\" font-size=\"11\">%.3f</text>\n",
              y + 12, bars[i].label, y, w, 262 + w, y + 12, bars[i].y);
    }
  }
  fprintf(o, "</svg>\n");
  int bad = fclose(o) != 0 || rename(tmp, out_path) != 0;
  if (bad) {
    remove(tmp);
    fprintf(stderr, "pare-bench: --plot: cannot write %s\n", out_path);
  } else {
    fprintf(stderr, "%d points, %d bars: %s\n", np, nb, out_path);
  }
  free(pts);
  free(bars);
  return bad;
}
