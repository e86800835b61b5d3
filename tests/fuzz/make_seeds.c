/* Writes the seed corpora of the fuzz targets into OUT/{pare,npy,idx,cli}:
 * .pare files imported from some of the ONNX test models (as `pare import`
 * does: import, optimize, save), .npy files of every dtype, IDX datasets
 * (plain and gzip) and command lines.
 *   fuzz_make_seeds OUT ONNX_NODE_DIR */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "engine/io/onnx.h"
#include "engine/io/pare_format.h"
#include "engine/passes/passes.h"
#include "pare/pare.h"

static int write_file(const char *dir, const char *name, const void *data, size_t size) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return 1;
  int bad = size && fwrite(data, 1, size, f) != size;
  return fclose(f) != 0 || bad;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every 25th model of the node folder that imports, as .pare. */
static int pare_seeds(const char *out, const char *node_dir) {
  DIR *d = opendir(node_dir);
  if (!d) return 0; /* no test data: no .pare seeds */
  char *names[4096];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < 4096)
    if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp_str);
  int written = 0, rc = 0;
  for (int i = 0; i < n; i++) {
    if (i % 25 == 0 || strstr(names[i], "conv") || strstr(names[i], "gemm")) {
      char path[1024];
      snprintf(path, sizeof path, "%s/%s/model.onnx", node_dir, names[i]);
      pare_graph *g = NULL;
      pare_error err;
      void *buf = NULL;
      size_t size = 0;
      /* Every model with its tables as they are (mutations reach the
       * parser), every other one also deflated (mutations reach zlib and
       * the inflated-size checks). */
      if (written < 40 && pare_onnx_import_file(path, &g, &err) == PARE_OK &&
          pare_graph_optimize(g, &err) == PARE_OK &&
          pare_format_write_buffer_tables(g, 0, &buf, &size, &err) == PARE_OK) {
        char name[600];
        snprintf(name, sizeof name, "%s.pare", names[i]);
        rc |= write_file(out, name, buf, size);
        free(buf);
        buf = NULL;
        if (written % 2 == 0 && pare_format_write_buffer(g, &buf, &size, &err) == PARE_OK) {
          snprintf(name, sizeof name, "%s.z.pare", names[i]);
          rc |= write_file(out, name, buf, size);
        }
        written++;
      }
      free(buf);
      pare_graph_destroy(g);
    }
    free(names[i]);
  }
  return rc;
}

/* A .pare file whose constants take the coded form (docs/format.md):
 * mostly-zero int8, packed int4 and shared fp32 weights, so that mutations
 * reach the range decoder. */
static int coded_seed(const char *out) {
  pare_graph *g = pare_graph_create();
  if (!g) return 1;
  uint32_t rng = 12345;
  static const pare_dtype types[3] = {PARE_DT_I8, PARE_DT_I4, PARE_DT_F32};
  static const char *names[3] = {"w8", "w4", "shared"};
  for (int k = 0; k < 3; k++) {
    int64_t dims[2] = {24, 40};
    size_t bytes = pare_dtype_bytes(types[k], 24 * 40);
    unsigned char *d = calloc(bytes, 1);
    for (int i = 0; d && i < 24 * 40; i++) {
      rng = rng * 1103515245u + 12345u;
      if ((rng >> 16) % 100 >= 15) continue; /* 85% zeros */
      int v = (int)((rng >> 8) % 7) + 1;
      if (types[k] == PARE_DT_I8)
        d[i] = (unsigned char)(v * 9);
      else if (types[k] == PARE_DT_I4)
        d[i / 2] |= (unsigned char)((v & 15) << (4 * (i % 2)));
      else
        ((float *)d)[i] = 0.125f * (float)v;
    }
    int v = pare_graph_add_value(g, names[k], types[k], 2, dims);
    if (!d || v < 0) {
      free(d);
      pare_graph_destroy(g);
      return 1;
    }
    pare_value_set_data(&g->values[v], d, bytes, 1);
  }
  void *buf = NULL;
  size_t size = 0;
  pare_error err;
  int rc = pare_format_write_buffer(g, &buf, &size, &err) != PARE_OK ||
           write_file(out, "coded.pare", buf, size);
  free(buf);
  pare_graph_destroy(g);
  return rc;
}

static int npy_seeds(const char *out) {
  static const pare_dtype types[] = {PARE_DT_F32, PARE_DT_F16, PARE_DT_I64, PARE_DT_I32,
                                     PARE_DT_I8,  PARE_DT_U8,  PARE_DT_BOOL};
  unsigned char data[256];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 7u);
  int rc = 0;
  for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
    for (int rank = 0; rank <= 3; rank++) {
      pare_tensor_view v;
      memset(&v, 0, sizeof v);
      v.dtype = types[t];
      v.rank = rank;
      size_t numel = 1;
      for (int k = 0; k < rank; k++) numel *= (size_t)(v.dims[k] = 2 + k);
      v.data = data;
      v.nbytes = numel * (types[t] == PARE_DT_F32 || types[t] == PARE_DT_I32 ? 4
                          : types[t] == PARE_DT_I64                          ? 8
                          : types[t] == PARE_DT_F16                          ? 2
                                                                             : 1);
      char path[1024], err[256];
      snprintf(path, sizeof path, "%s/t%zu_r%d.npy", out, t, rank);
      rc |= pare_npy_write(path, &v, err, sizeof err) != PARE_OK;
    }
  return rc;
}

/* gzip of src into dst (capacity cap); returns the size, 0 on failure. */
static size_t gzip(const unsigned char *src, size_t n, unsigned char *dst, size_t cap) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
  z.next_in = (unsigned char *)src;
  z.avail_in = (uInt)n;
  z.next_out = dst;
  z.avail_out = (uInt)cap;
  int st = deflate(&z, Z_FINISH);
  size_t size = z.total_out;
  deflateEnd(&z);
  return st == Z_STREAM_END ? size : 0;
}

static void be32(unsigned char *p, unsigned v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* The fuzz_idx layout: u16 LE labels size, labels file, images file. */
static int idx_seeds(const char *out) {
  unsigned char labels[8 + 3], images[16 + 3 * 4 * 4];
  be32(labels, 2049);
  be32(labels + 4, 3);
  labels[8] = 0, labels[9] = 9, labels[10] = 4;
  be32(images, 2051);
  be32(images + 4, 3);
  be32(images + 8, 4);
  be32(images + 12, 4);
  for (int i = 0; i < 48; i++) images[16 + i] = (unsigned char)(i * 5);
  unsigned char buf[1024], zl[256], zi[512];
  int rc = 0;
  for (int packed = 0; packed < 2; packed++) {
    const unsigned char *l = labels, *im = images;
    size_t nl = sizeof labels, ni = sizeof images;
    if (packed) {
      nl = gzip(labels, sizeof labels, zl, sizeof zl);
      ni = gzip(images, sizeof images, zi, sizeof zi);
      l = zl;
      im = zi;
      if (!nl || !ni) return 1;
    }
    buf[0] = (unsigned char)nl;
    buf[1] = (unsigned char)(nl >> 8);
    memcpy(buf + 2, l, nl);
    memcpy(buf + 2 + nl, im, ni);
    rc |= write_file(out, packed ? "gz.idx" : "raw.idx", buf, 2 + nl + ni);
  }
  return rc;
}

static int cli_seeds(const char *out) {
  static const char *lines[] = {
      "import|m.onnx|-o|m.pare",
      "info|m.pare|--batch|4|--json|--backend|ref",
      "run|m.pare|--input|x.npy|--input|NAME=y.npy|--output|o.npy|--backend=ref",
      "eval|m.pare|--dataset|fashion-mnist|--split|test|--batch|64|--limit|100|--json",
      "train|--arch|simplecnn:8,16|--epochs|2|--batch|32|--lr|0.1|--optimizer|adam|--momentum|0.9|"
      "--weight-decay|1e-4|--schedule|cosine|--step-epochs|1|--warmup-epochs|1|--val-split|0.1|"
      "--seed|7|--checkpoint|c.ckpt|-o|m.pare",
      "distill|--teacher|t.pare|--student|mlp:300,100|--alpha|0.5|--temperature|4|-o|s.pare",
      "compress|m.pare|--prune|0.5|--prune-mode|2:4|--dense|first,last|--prune-schedule|gradual|"
      "--finetune-epochs|2|-o|c.pare",
      "compress|m.pare|--prune|0.9|--share-bits|4|--share-dense|last|--finetune-epochs|2|--quant|"
      "fp16|-o|c.pare",
      "compress|m.pare|--lowrank|energy=0.9|--lowrank-conv|spatial|--skip|a,b|--measure-batch|8|"
      "--lowrank-data|100|-o|c.pare",
      "compress|m.pare|--quant|int8|--calib-method|entropy|--calib-images|100|--quant-dense|first|"
      "--per-tensor|--prune-activations|0.3|--distill|--finetune-epochs|1|-o|c.pare",
      "compare|a.pare|b.pare|--names|a,b|--html|r.html|--csv|t.csv|--title|T|--limit|10|--reps|3|"
      "--no-latency",
      "devices|--json",
      "help|train",
      "version",
  };
  int rc = 0;
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
    char buf[1024], name[32];
    size_t n = strlen(lines[i]);
    memcpy(buf, lines[i], n);
    for (size_t k = 0; k < n; k++)
      if (buf[k] == '|') buf[k] = '\0';
    snprintf(name, sizeof name, "argv%02zu", i);
    rc |= write_file(out, name, buf, n);
  }
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: fuzz_make_seeds OUT ONNX_NODE_DIR\n");
    return 2;
  }
  const char *sub[] = {"pare", "npy", "idx", "cli"};
  char dirs[4][1024];
  mkdir(argv[1], 0755);
  for (int i = 0; i < 4; i++) {
    snprintf(dirs[i], sizeof dirs[i], "%s/%s", argv[1], sub[i]);
    mkdir(dirs[i], 0755);
  }
  int rc = pare_seeds(dirs[0], argv[2]) | coded_seed(dirs[0]) | npy_seeds(dirs[1]) |
           idx_seeds(dirs[2]) | cli_seeds(dirs[3]);
  if (rc) fprintf(stderr, "fuzz_make_seeds: could not write every seed\n");
  return rc;
}
