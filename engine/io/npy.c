/* NumPy .npy files (format 1.0/2.0/3.0): little-endian, C order, the dtypes
 * pare has. Writes are atomic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph/graph.h"

static const struct {
  const char *descr;
  pare_dtype dtype;
} npy_types[] = {{"<f4", PARE_DT_F32}, {"<f2", PARE_DT_F16}, {"<i8", PARE_DT_I64},
                 {"<i4", PARE_DT_I32}, {"|i1", PARE_DT_I8},  {"|u1", PARE_DT_U8},
                 {"|b1", PARE_DT_BOOL}};

static void set_err(char *error, size_t size, const char *fmt, const char *a, const char *b) {
  if (error && size) snprintf(error, size, fmt, a, b);
}

/* The value after 'key': in a header dict; NULL when absent. */
static const char *dict_value(const char *h, const char *key) {
  const char *p = strstr(h, key);
  if (!p) return NULL;
  p += strlen(key);
  while (*p == ' ' || *p == ':') p++;
  return p;
}

pare_status pare_npy_read(const char *path, pare_tensor_view *out, char *error, size_t error_size) {
  if (!path || !out) return PARE_ERR_INVALID_ARG;
  memset(out, 0, sizeof *out);
  pare_error e;
  void *data;
  size_t size;
  if (pare_file_read(path, &data, &size, &e) != PARE_OK) {
    set_err(error, error_size, "%s%s", e.text, "");
    return PARE_ERR_IO;
  }
  const unsigned char *b = data;
  pare_status st = PARE_ERR_FORMAT;
  if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0) {
    set_err(error, error_size, "%s: not a .npy file%s", path, "");
    goto done;
  }
  size_t hlen, hstart;
  if (b[6] == 1) {
    hlen = (size_t)b[8] | (size_t)b[9] << 8;
    hstart = 10;
  } else if (size >= 12 && (b[6] == 2 || b[6] == 3)) {
    hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    hstart = 12;
  } else {
    set_err(error, error_size, "%s: unsupported .npy version%s", path, "");
    goto done;
  }
  if (hlen > size - hstart || hlen > 65536) {
    set_err(error, error_size, "%s: truncated header%s", path, "");
    goto done;
  }
  char header[65537];
  memcpy(header, b + hstart, hlen);
  header[hlen] = '\0';
  const char *descr = dict_value(header, "'descr'");
  const char *fortran = dict_value(header, "'fortran_order'");
  const char *shape = dict_value(header, "'shape'");
  if (!descr || !fortran || !shape || *shape != '(') {
    set_err(error, error_size, "%s: malformed header%s", path, "");
    goto done;
  }
  if (!strncmp(fortran, "True", 4)) {
    set_err(error, error_size, "%s: Fortran-ordered arrays are not supported%s", path, "");
    st = PARE_ERR_UNSUPPORTED;
    goto done;
  }
  int found = 0;
  for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
    size_t n = strlen(npy_types[i].descr);
    if (descr[0] == '\'' && !strncmp(descr + 1, npy_types[i].descr, n) && descr[1 + n] == '\'') {
      out->dtype = npy_types[i].dtype;
      found = 1;
    }
  }
  if (!found) {
    set_err(error, error_size, "%s: unsupported dtype (pare reads <f4 <f2 <i8 <i4 |i1 |u1 |b1)%s",
            path, "");
    st = PARE_ERR_UNSUPPORTED;
    goto done;
  }
  const char *p = shape + 1;
  while (*p && *p != ')') {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    char *end;
    long long d = strtoll(p, &end, 10);
    if (end == p || d < 0 || out->rank >= PARE_MAX_RANK) {
      set_err(error, error_size, "%s: bad shape in header%s", path, "");
      goto done;
    }
    out->dims[out->rank++] = d;
    p = end;
  }
  int64_t numel = pare_shape_numel(out->rank, out->dims);
  size_t bytes = numel < 0 ? 0 : pare_dtype_bytes(out->dtype, (size_t)numel);
  if (numel < 0 || bytes != size - hstart - hlen) {
    set_err(error, error_size, "%s: data size does not match the header's shape%s", path, "");
    goto done;
  }
  out->data = malloc(bytes ? bytes : 1);
  if (!out->data) {
    st = PARE_ERR_NO_MEMORY;
    goto done;
  }
  memcpy(out->data, b + hstart + hlen, bytes);
  out->nbytes = bytes;
  st = PARE_OK;
done:
  free(data);
  return st;
}

pare_status pare_npy_write(const char *path, const pare_tensor_view *t, char *error,
                           size_t error_size) {
  if (!path || !t || t->rank < 0 || t->rank > PARE_MAX_RANK) return PARE_ERR_INVALID_ARG;
  const char *descr = NULL;
  for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
    if (npy_types[i].dtype == t->dtype) descr = npy_types[i].descr;
  if (!descr) {
    set_err(error, error_size, "%s: dtype %s cannot be written as .npy", path,
            pare_dtype_name(t->dtype));
    return PARE_ERR_UNSUPPORTED;
  }
  char shape[256] = "";
  size_t used = 0;
  for (int i = 0; i < t->rank; i++)
    used += (size_t)snprintf(shape + used, sizeof shape - used, "%lld,%s", (long long)t->dims[i],
                             i + 1 < t->rank ? " " : "");
  if (t->rank > 1 && used > 0) shape[used - 1] = '\0'; /* (a, b) not (a, b,) */
  char dict[400];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                   descr, shape);
  /* Pad with spaces so that data starts at a multiple of 64. */
  size_t total = 10 + (size_t)n + 1;
  size_t pad = (64 - total % 64) % 64;
  size_t hlen = (size_t)n + pad + 1;
  size_t bytes = t->nbytes;
  unsigned char *buf = malloc(10 + hlen + bytes);
  if (!buf) return PARE_ERR_NO_MEMORY;
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (unsigned char)(hlen & 0xff);
  buf[9] = (unsigned char)(hlen >> 8);
  memcpy(buf + 10, dict, (size_t)n);
  memset(buf + 10 + n, ' ', pad);
  buf[10 + hlen - 1] = '\n';
  if (bytes) memcpy(buf + 10 + hlen, t->data, bytes);
  pare_error e;
  pare_status st = pare_file_write_atomic(path, buf, 10 + hlen + bytes, &e);
  free(buf);
  if (st != PARE_OK) set_err(error, error_size, "%s%s", e.text, "");
  return st;
}
