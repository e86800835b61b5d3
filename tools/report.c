/* Comparison tables and the HTML report (report.h). */
#include "tools/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pare/pare.h"

/* A growing text buffer. */
typedef struct text {
  char *s;
  size_t len, cap;
  int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
  if (t->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->failed = 1;
      return;
    }
    if (t->s && t->len + (size_t)n < t->cap) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = (t->cap ? 2 * t->cap : 4096) + (size_t)n;
    char *s = realloc(t->s, cap);
    if (!s) {
      t->failed = 1;
      return;
    }
    t->s = s;
    t->cap = cap;
  }
}

static double ratio(double a, double b) { return b > 0 ? a / b : 0; }

static void human_bytes(uint64_t b, char *out, size_t size) {
  if (b >= 1u << 20)
    snprintf(out, size, "%.2f MB", (double)b / (1 << 20));
  else if (b >= 1024)
    snprintf(out, size, "%.1f kB", (double)b / 1024);
  else
    snprintf(out, size, "%llu B", (unsigned long long)b);
}

void report_print(FILE *f, const report_row *r, int n) {
  fprintf(f, "%-14s %9s %7s %10s %10s %9s %10s %10s %10s %8s\n", "model", "accuracy", "drop",
          "nonzero", "on disk", "smaller", "MACs", "b1 ms", "b64 ms", "speedup");
  for (int i = 0; i < n; i++) {
    char bytes[32];
    human_bytes(r[i].bytes, bytes, sizeof bytes);
    fprintf(f, "%-14.14s %8.2f%% %+7.2f %10lld %10s %8.1fx %10lld %10.3f %10.3f %7.2fx\n",
            r[i].name, 100 * r[i].accuracy, 100 * (r[i].accuracy - r[0].accuracy),
            (long long)r[i].nonzero, bytes, ratio((double)r[0].bytes, (double)r[i].bytes),
            (long long)r[i].macs, r[i].ms_b1, r[i].ms_b64, ratio(r[0].ms_b64, r[i].ms_b64));
  }
}

static int write_text(const char *path, text *t, char *err, size_t err_size) {
  if (t->failed) {
    snprintf(err, err_size, "out of memory");
    free(t->s);
    return 1;
  }
  /* Atomic: a temporary beside the target, renamed into place. */
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  int ok = f && fwrite(t->s, 1, t->len, f) == t->len;
  if (f && fclose(f) != 0) ok = 0;
  if (ok && rename(tmp, path) != 0) ok = 0;
  if (!ok) {
    remove(tmp);
    snprintf(err, err_size, "%s: cannot write", path);
  }
  free(t->s);
  return !ok;
}

int report_write_csv(const char *path, const report_row *r, int n, char *err, size_t err_size) {
  text t = {0};
  put(&t, "model,file,accuracy,drop_points,params,nonzero,bytes,compression,macs,ms_batch1,"
          "ms_batch64,speedup_batch64\n");
  for (int i = 0; i < n; i++)
    put(&t, "%s,%s,%.6f,%.4f,%lld,%lld,%llu,%.4f,%lld,%.5f,%.5f,%.4f\n", r[i].name, r[i].path,
        r[i].accuracy, 100 * (r[i].accuracy - r[0].accuracy), (long long)r[i].params,
        (long long)r[i].nonzero, (unsigned long long)r[i].bytes,
        ratio((double)r[0].bytes, (double)r[i].bytes), (long long)r[i].macs, r[i].ms_b1,
        r[i].ms_b64, ratio(r[0].ms_b64, r[i].ms_b64));
  return write_text(path, &t, err, err_size);
}

static void html_escape(text *t, const char *s) {
  for (; *s; s++) {
    if (*s == '<')
      put(t, "&lt;");
    else if (*s == '>')
      put(t, "&gt;");
    else if (*s == '&')
      put(t, "&amp;");
    else if (*s == '"')
      put(t, "&quot;");
    else
      put(t, "%c", *s);
  }
}

/* One scatter plot: x from each row (log scale when logx), accuracy up. */
static void svg_plot(text *t, const char *id, const char *xlabel, const report_row *r, int n,
                     double (*xof)(const report_row *), int logx) {
  const double W = 560, H = 360, L = 70, R = 20, T = 20, B = 50;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (int i = 0; i < n; i++) {
    double x = xof(&r[i]);
    if (!(x > 0)) continue;
    x = logx ? log10(x) : x;
    x0 = fmin(x0, x), x1 = fmax(x1, x);
    y0 = fmin(y0, 100 * r[i].accuracy), y1 = fmax(y1, 100 * r[i].accuracy);
  }
  if (!(x1 >= x0)) x0 = 0, x1 = 1;
  if (!(y1 >= y0)) y0 = 0, y1 = 100;
  double px = (x1 - x0) * 0.08 + 1e-9, py = (y1 - y0) * 0.1 + 0.1;
  x0 -= px, x1 += px, y0 -= py, y1 += py;
  put(t,
      "<svg id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
      "viewBox=\"0 0 %g %g\">\n",
      id, W, H, W, H);
  put(t, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"#fafafa\" stroke=\"#999\"/>\n",
      L, T, W - L - R, H - T - B);
  for (int k = 0; k <= 4; k++) { /* ticks */
    double fy = y0 + (y1 - y0) * k / 4, sy = H - B - (H - T - B) * k / 4;
    put(t, "<text x=\"%g\" y=\"%g\" font-size=\"11\" text-anchor=\"end\">%.2f</text>\n", L - 6,
        sy + 4, fy);
    double fx = x0 + (x1 - x0) * k / 4, sx = L + (W - L - R) * k / 4;
    put(t, "<text x=\"%g\" y=\"%g\" font-size=\"11\" text-anchor=\"%s\">%.3g</text>\n", sx,
        H - B + 16,
        k == 4   ? "end"
        : k == 0 ? "start"
                 : "middle",
        logx ? pow(10, fx) : fx);
  }
  put(t, "<text x=\"%g\" y=\"%g\" font-size=\"12\" text-anchor=\"middle\">", (L + W - R) / 2,
      H - 10);
  html_escape(t, xlabel);
  put(t,
      "</text>\n<text x=\"14\" y=\"%g\" font-size=\"12\" transform=\"rotate(-90 14 %g)\" "
      "text-anchor=\"middle\">top-1 accuracy (%%)</text>\n",
      (T + H - B) / 2, (T + H - B) / 2);
  for (int i = 0; i < n; i++) {
    double x = xof(&r[i]);
    if (!(x > 0)) continue;
    x = logx ? log10(x) : x;
    double sx = L + (W - L - R) * (x - x0) / (x1 - x0);
    double sy = H - B - (H - T - B) * (100 * r[i].accuracy - y0) / (y1 - y0);
    put(t, "<circle class=\"point\" data-model=\"");
    html_escape(t, r[i].name);
    put(t, "\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>", sx, sy,
        i == 0 ? "#c0392b" : "#2e86c1");
    html_escape(t, r[i].name);
    int right = sx > W - R - 90; /* near the right edge: the label goes left of the point */
    put(t, ": %.2f%%</title></circle>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\"%s>",
        100 * r[i].accuracy, right ? sx - 7 : sx + 7, sy - 6, right ? " text-anchor=\"end\"" : "");
    html_escape(t, r[i].name);
    put(t, "</text>\n");
  }
  put(t, "</svg>\n");
}

static double x_bytes(const report_row *r) { return (double)r->bytes; }
static double x_latency(const report_row *r) { return r->ms_b64; }

int report_write_html(const char *path, const char *title, const report_row *r, int n, char *err,
                      size_t err_size) {
  text t = {0};
  put(&t, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
  html_escape(&t, title);
  put(&t, "</title>\n<style>body{font-family:sans-serif;margin:2em;color:#222}"
          "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
          "text-align:right}th{background:#eee}td:first-child{text-align:left}"
          ".plots{display:flex;flex-wrap:wrap;gap:2em}</style></head><body>\n<h1>");
  html_escape(&t, title);
  put(&t,
      "</h1>\n<p>pare %s. Drop, compression and speed-up are against the first row; "
      "latencies are medians on the device that ran the comparison.</p>\n",
      pare_version());
  put(&t, "<table id=\"models\"><tr><th>model</th><th>accuracy</th><th>drop (points)</th>"
          "<th>nonzero weights</th><th>bytes on disk</th><th>smaller</th><th>MACs</th>"
          "<th>batch 1 ms</th><th>batch 64 ms</th><th>speed-up</th></tr>\n");
  for (int i = 0; i < n; i++) {
    put(&t, "<tr><td>");
    html_escape(&t, r[i].name);
    put(&t,
        "</td><td>%.2f%%</td><td>%+.2f</td><td>%lld</td><td>%llu</td><td>%.1f&times;</td>"
        "<td>%lld</td><td>%.3f</td><td>%.3f</td><td>%.2f&times;</td></tr>\n",
        100 * r[i].accuracy, 100 * (r[i].accuracy - r[0].accuracy), (long long)r[i].nonzero,
        (unsigned long long)r[i].bytes, ratio((double)r[0].bytes, (double)r[i].bytes),
        (long long)r[i].macs, r[i].ms_b1, r[i].ms_b64, ratio(r[0].ms_b64, r[i].ms_b64));
  }
  put(&t, "</table>\n<div class=\"plots\"><div><h2>Accuracy against size</h2>\n");
  svg_plot(&t, "accuracy-bytes", "bytes on disk (log scale)", r, n, x_bytes, 1);
  put(&t, "</div><div><h2>Accuracy against latency</h2>\n");
  svg_plot(&t, "accuracy-latency", "batch-64 latency (ms)", r, n, x_latency, 0);
  put(&t, "</div></div>\n</body></html>\n");
  return write_text(path, &t, err, err_size);
}

/* 1 when no other point is at least as accurate and strictly cheaper in
 * x (or cheaper and strictly more accurate). */
static int on_front(const report_point *p, int n, int i, int by_ms) {
  double xi = by_ms ? p[i].ms : p[i].bytes;
  if (!(xi > 0)) return 0;
  for (int j = 0; j < n; j++) {
    double xj = by_ms ? p[j].ms : p[j].bytes;
    if (j == i || !(xj > 0)) continue;
    if ((p[j].accuracy >= p[i].accuracy && xj < xi) || (p[j].accuracy > p[i].accuracy && xj <= xi))
      return 0;
  }
  return 1;
}

int report_write_front_csv(const char *path, const report_point *p, int n, char *err,
                           size_t err_size) {
  text t = {0};
  put(&t, "config,accuracy,bytes,ms_batch64,front_size,front_latency\n");
  for (int i = 0; i < n; i++)
    put(&t, "\"%s\",%.6f,%.0f,%.5f,%d,%d\n", p[i].label, p[i].accuracy, p[i].bytes, p[i].ms,
        on_front(p, n, i, 0), on_front(p, n, i, 1));
  return write_text(path, &t, err, err_size);
}

/* The points as report rows (names are indices; the labels go in the
 * table), or NULL with err set. */
static report_row *rows_of(const report_point *p, int n, char *err, size_t err_size) {
  report_row *r = calloc((size_t)(n ? n : 1), sizeof *r);
  if (!r) snprintf(err, err_size, "out of memory");
  for (int i = 0; r && i < n; i++) {
    snprintf(r[i].name, sizeof r[i].name, "%d", i);
    r[i].accuracy = p[i].accuracy;
    r[i].bytes = (uint64_t)p[i].bytes;
    r[i].ms_b64 = p[i].ms;
  }
  return r;
}

/* The front's plot: accuracy against bytes, or against latency (by_ms). */
static void front_plot(text *t, const report_row *rows, int n, int by_ms) {
  if (by_ms)
    svg_plot(t, "front-latency", "batch-64 latency (ms)", rows, n, x_latency, 0);
  else
    svg_plot(t, "front-bytes", "bytes on disk (log scale)", rows, n, x_bytes, 1);
}

int report_write_front_svg(const char *path, const report_point *p, int n, int by_ms, char *err,
                           size_t err_size) {
  report_row *rows = rows_of(p, n, err, err_size);
  if (!rows) return 1;
  text t = {0};
  put(&t, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  front_plot(&t, rows, n, by_ms);
  free(rows);
  return write_text(path, &t, err, err_size);
}

int report_write_front_html(const char *path, const char *title, const report_point *p, int n,
                            char *err, size_t err_size) {
  report_row *rows = rows_of(p, n, err, err_size);
  if (!rows) return 1;
  text t = {0};
  put(&t, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
  html_escape(&t, title);
  put(&t, "</title>\n<style>body{font-family:sans-serif;margin:2em;color:#222}"
          "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;"
          "text-align:right}th{background:#eee}td:nth-child(2){text-align:left}"
          "tr.front{background:#eaf4ea}.plots{display:flex;flex-wrap:wrap;gap:2em}</style>"
          "</head><body>\n<h1>");
  html_escape(&t, title);
  put(&t, "</h1>\n<p>Every configuration measured on the validation images; the rows in "
          "green lie on the Pareto front of accuracy against size.</p>\n<div class=\"plots\">"
          "<div><h2>Accuracy against size</h2>\n");
  front_plot(&t, rows, n, 0);
  int timed = 0;
  for (int i = 0; i < n; i++) timed |= p[i].ms > 0;
  if (timed) {
    put(&t, "</div><div><h2>Accuracy against latency</h2>\n");
    front_plot(&t, rows, n, 1);
  }
  put(&t, "</div></div>\n<table id=\"points\"><tr><th>#</th><th>configuration (layer:sparsity/"
          "bits)</th><th>accuracy</th><th>bytes</th><th>batch 64 ms</th><th>front</th></tr>\n");
  for (int i = 0; i < n; i++) {
    int front = on_front(p, n, i, 0);
    put(&t, "<tr%s><td>%d</td><td>", front ? " class=\"front\"" : "", i);
    html_escape(&t, p[i].label);
    put(&t, "</td><td>%.2f%%</td><td>%.0f</td><td>%.3f</td><td>%s</td></tr>\n", 100 * p[i].accuracy,
        p[i].bytes, p[i].ms, front ? "yes" : "");
  }
  put(&t, "</table>\n</body></html>\n");
  free(rows);
  return write_text(path, &t, err, err_size);
}
