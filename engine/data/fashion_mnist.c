/* Fashion-MNIST (and MNIST) in IDX format, gzip-compressed, as Debian's
 * dataset-fashion-mnist installs it. Images become floats in [0, 1],
 * shaped N×1×28×28; labels int64. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "engine/core/core.h"

#define DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

struct pare_dataset {
  size_t count;
  int rows, cols, classes;
  unsigned char *images; /* count × rows × cols */
  unsigned char *labels; /* count */
};

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads a whole gzip file (or a plain one) into memory. */
static pare_status read_gz(const char *path, unsigned char **out, size_t *len, pare_error *err) {
  gzFile f = gzopen(path, "rb");
  if (!f) return pare_error_set(err, PARE_ERR_IO, "%s: cannot open", path);
  size_t cap = 1 << 20, n = 0;
  unsigned char *buf = malloc(cap);
  pare_status st = PARE_OK;
  while (buf) {
    if (n == cap) {
      unsigned char *bigger = cap < ((size_t)1 << 31) ? realloc(buf, cap * 2) : NULL;
      if (!bigger) {
        st = pare_error_set(err, PARE_ERR_FORMAT, "%s: too large or out of memory", path);
        break;
      }
      buf = bigger;
      cap *= 2;
    }
    int got = gzread(f, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
    if (got < 0) {
      st = pare_error_set(err, PARE_ERR_FORMAT, "%s: corrupt gzip data", path);
      break;
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  gzclose(f);
  if (!buf) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st != PARE_OK) {
    free(buf);
    return st;
  }
  *out = buf;
  *len = n;
  return PARE_OK;
}

pare_status pare_dataset_open(const char *name, const char *split, pare_dataset **out, char *error,
                              size_t error_size) {
  pare_error err = {{0}};
  pare_status st = PARE_OK;
  if (!out) return PARE_ERR_INVALID_ARG;
  *out = NULL;
  const char *dir = NULL;
  if (!name || !strcmp(name, "fashion-mnist"))
    dir = pare_env("PARE_FASHION_MNIST_DIR") ? pare_env("PARE_FASHION_MNIST_DIR") : DEFAULT_DIR;
  else
    dir = name; /* a folder with the four IDX files */
  const char *prefix = !split || !strcmp(split, "test") ? "t10k"
                       : !strcmp(split, "train")        ? "train"
                                                        : NULL;
  if (!prefix) {
    st = pare_error_set(&err, PARE_ERR_INVALID_ARG, "unknown split '%s' (train or test)", split);
    goto fail;
  }
  char ipath[1024], lpath[1024];
  snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
  snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
  unsigned char *img = NULL, *lab = NULL;
  size_t ilen = 0, llen = 0;
  st = read_gz(ipath, &img, &ilen, &err);
  if (st == PARE_OK) st = read_gz(lpath, &lab, &llen, &err);
  if (st == PARE_OK) {
    if (ilen < 16 || be32(img) != 2051)
      st = pare_error_set(&err, PARE_ERR_FORMAT, "%s: not an IDX image file", ipath);
    else if (llen < 8 || be32(lab) != 2049)
      st = pare_error_set(&err, PARE_ERR_FORMAT, "%s: not an IDX label file", lpath);
  }
  pare_dataset *ds = NULL;
  if (st == PARE_OK) {
    size_t n = be32(img + 4), rows = be32(img + 8), cols = be32(img + 12);
    if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096 || n > (ilen - 16) / (rows * cols))
      st = pare_error_set(&err, PARE_ERR_FORMAT, "%s: %zu images of %zux%zu do not fit the file",
                          ipath, n, rows, cols);
    else if (be32(lab + 4) != n || llen - 8 < n)
      st = pare_error_set(&err, PARE_ERR_FORMAT, "%s: %u labels for %zu images", lpath,
                          be32(lab + 4), n);
    if (st == PARE_OK) {
      ds = calloc(1, sizeof *ds);
      if (!ds) st = pare_error_set(&err, PARE_ERR_NO_MEMORY, "out of memory");
    }
    if (st == PARE_OK) {
      ds->count = n;
      ds->rows = (int)rows;
      ds->cols = (int)cols;
      ds->images = malloc(n * rows * cols + 1);
      ds->labels = malloc(n + 1);
      if (!ds->images || !ds->labels)
        st = pare_error_set(&err, PARE_ERR_NO_MEMORY, "out of memory");
    }
    if (st == PARE_OK) {
      memcpy(ds->images, img + 16, n * rows * cols);
      memcpy(ds->labels, lab + 8, n);
      ds->classes = 0;
      for (size_t i = 0; i < n; i++)
        if (ds->labels[i] + 1 > ds->classes) ds->classes = ds->labels[i] + 1;
    }
  }
  free(img);
  free(lab);
  if (st != PARE_OK) {
    pare_dataset_destroy(ds);
    goto fail;
  }
  *out = ds;
  return PARE_OK;
fail:
  if (error && error_size) pare_strlcpy(error, err.text, error_size);
  return st;
}

void pare_dataset_destroy(pare_dataset *ds) {
  if (!ds) return;
  free(ds->images);
  free(ds->labels);
  free(ds);
}

size_t pare_dataset_count(const pare_dataset *ds) { return ds ? ds->count : 0; }

pare_status pare_dataset_info(const pare_dataset *ds, int64_t sample_dims[3], int *classes) {
  if (!ds) return PARE_ERR_INVALID_ARG;
  if (sample_dims) {
    sample_dims[0] = 1;
    sample_dims[1] = ds->rows;
    sample_dims[2] = ds->cols;
  }
  if (classes) *classes = ds->classes;
  return PARE_OK;
}

pare_status pare_dataset_batch(const pare_dataset *ds, const size_t *indices, size_t count,
                               float *images, int64_t *labels) {
  if (!ds || (count && !indices)) return PARE_ERR_INVALID_ARG;
  size_t px = (size_t)ds->rows * (size_t)ds->cols;
  for (size_t i = 0; i < count; i++) {
    size_t k = indices[i];
    if (k >= ds->count) return PARE_ERR_INVALID_ARG;
    if (images)
      for (size_t p = 0; p < px; p++) images[i * px + p] = ds->images[k * px + p] / 255.0f;
    if (labels) labels[i] = ds->labels[k];
  }
  return PARE_OK;
}
