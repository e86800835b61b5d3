/* Comparison tables of models and their self-contained HTML report (two
 * SVG scatter plots: accuracy against bytes on disk and against batch-64
 * latency), written atomically. Used by `pare compare`. */
#ifndef PARE_TOOLS_REPORT_H
#define PARE_TOOLS_REPORT_H

#include <stdint.h>
#include <stdio.h>

typedef struct report_row {
  char name[64];
  char path[512];
  double accuracy;         /* top-1, 0..1 */
  int64_t params, nonzero; /* weights, and those that are not zero */
  int64_t macs;            /* multiply-accumulates of one image (dense count) */
  uint64_t bytes;          /* the file on disk */
  double ms_b1, ms_b64;    /* median latency at batch 1 and 64 (0: not measured) */
} report_row;

/* A configuration measured by `pare auto`. */
typedef struct report_point {
  char label[256];
  double accuracy; /* validation top-1 */
  double bytes, ms;
} report_point;

/* Every point, with a column saying which lie on the Pareto front
 * (no other point is as accurate and smaller, or as accurate and faster). */
int report_write_front_csv(const char *path, const report_point *p, int n, char *err,
                           size_t err_size);
/* One plot of the points as an SVG file: accuracy against bytes (by_ms 0)
 * or against batch-64 latency; each point a circle labelled with its row
 * number in the CSV. */
int report_write_front_svg(const char *path, const report_point *p, int n, int by_ms, char *err,
                           size_t err_size);
/* The points as an HTML page: accuracy against bytes and against latency,
 * the front's points marked, and the table. */
int report_write_front_html(const char *path, const char *title, const report_point *p, int n,
                            char *err, size_t err_size);

/* The table as text; row 0 is the baseline for drop, ratio and speed-up. */
void report_print(FILE *f, const report_row *rows, int n);
/* The same as CSV. */
int report_write_csv(const char *path, const report_row *rows, int n, char *err, size_t err_size);
/* The HTML report (title, the table, the plots). */
int report_write_html(const char *path, const char *title, const report_row *rows, int n, char *err,
                      size_t err_size);

#endif
