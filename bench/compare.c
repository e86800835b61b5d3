/* pare-bench --compare BASE.jsonl NEW.jsonl: the rows two runs have in
 * common (same bench/kernel, variant, case, shape, model, batch, sparsity,
 * format and peer) and the ratio of their median times, BASE / NEW (above 1:
 * NEW is faster). The rows are pare-bench's own flat JSON lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

enum { MAX_ROWS = 4096, KEY = 512 };

typedef struct row {
  char key[KEY];
  double ms;
} row;

static int load(const char *path, row *rows, int *count) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "pare-bench: --compare: cannot open %s\n", path);
    return 1;
  }
  static const char *keys[] = {"bench", "kernel", "variant",  "case",   "name", "shape",
                               "model", "batch",  "sparsity", "format", "peer", "threads"};
  char line[4096];
  *count = 0;
  while (fgets(line, sizeof line, f) && *count < MAX_ROWS) {
    char ms[64];
    pare_bench_json_field(line, "ms_median", ms, sizeof ms);
    if (!ms[0]) continue;
    row *r = &rows[*count];
    size_t len = 0;
    r->key[0] = '\0';
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
      char v[160];
      pare_bench_json_field(line, keys[k], v, sizeof v);
      if (v[0] && len < KEY)
        len += (size_t)snprintf(r->key + len, KEY - len, "%s%s=%s", len ? " " : "", keys[k], v);
    }
    r->ms = atof(ms);
    (*count)++;
  }
  fclose(f);
  return 0;
}

int pare_bench_compare(const char *base_path, const char *new_path) {
  row *base = calloc(MAX_ROWS, sizeof *base), *cur = calloc(MAX_ROWS, sizeof *cur);
  int nb = 0, nc = 0, status = 0;
  if (!base || !cur || load(base_path, base, &nb) || load(new_path, cur, &nc)) status = 1;
  int matched = 0;
  for (int i = 0; i < nc && !status; i++)
    for (int j = 0; j < nb; j++)
      if (!strcmp(cur[i].key, base[j].key)) {
        printf("%8.2fx  %10.4f -> %10.4f ms  %s\n", cur[i].ms > 0 ? base[j].ms / cur[i].ms : 0.0,
               base[j].ms, cur[i].ms, cur[i].key);
        matched++;
        break;
      }
  if (!status)
    fprintf(stderr, "%d of %d rows matched a row of %s (ratio: baseline ms / new ms)\n", matched,
            nc, base_path);
  free(base);
  free(cur);
  return status;
}
