/* Byte streams for the file formats (see bytes.h). */
#include <stdlib.h>
#include <string.h>

#include "engine/core/bytes.h"

void pare_put(pare_writer *w, const void *p, size_t n) {
  if (w->failed) return;
  if (w->len + n > w->cap) {
    size_t nc = w->cap ? w->cap * 2 : 4096;
    while (nc < w->len + n) nc *= 2;
    unsigned char *b = realloc(w->buf, nc);
    if (!b) {
      w->failed = 1;
      return;
    }
    w->buf = b;
    w->cap = nc;
  }
  if (n) memcpy(w->buf + w->len, p, n);
  w->len += n;
}

void pare_put_u32(pare_writer *w, uint32_t v) { pare_put(w, &v, 4); }
void pare_put_i32(pare_writer *w, int32_t v) { pare_put(w, &v, 4); }
void pare_put_i64(pare_writer *w, int64_t v) { pare_put(w, &v, 8); }
void pare_put_u64(pare_writer *w, uint64_t v) { pare_put(w, &v, 8); }
void pare_put_f32(pare_writer *w, float v) { pare_put(w, &v, 4); }

void pare_put_str(pare_writer *w, const char *s) {
  uint32_t n = (uint32_t)(s ? strlen(s) : 0);
  pare_put_u32(w, n);
  pare_put(w, s, n);
}

void pare_get(pare_reader *r, void *dst, size_t n) {
  if (r->failed || n > r->left) {
    r->failed = 1;
    if (dst) memset(dst, 0, n);
    return;
  }
  if (dst) memcpy(dst, r->p, n);
  r->p += n;
  r->left -= n;
}

uint32_t pare_get_u32(pare_reader *r) {
  uint32_t v;
  pare_get(r, &v, 4);
  return v;
}

int32_t pare_get_i32(pare_reader *r) {
  int32_t v;
  pare_get(r, &v, 4);
  return v;
}

int64_t pare_get_i64(pare_reader *r) {
  int64_t v;
  pare_get(r, &v, 8);
  return v;
}

uint64_t pare_get_u64(pare_reader *r) {
  uint64_t v;
  pare_get(r, &v, 8);
  return v;
}

float pare_get_f32(pare_reader *r) {
  float v;
  pare_get(r, &v, 4);
  return v;
}

char *pare_get_str(pare_reader *r) {
  uint32_t n = pare_get_u32(r);
  if (r->failed || n > r->left) {
    r->failed = 1;
    return NULL;
  }
  char *s = malloc((size_t)n + 1);
  if (!s) {
    r->failed = 1;
    return NULL;
  }
  pare_get(r, s, n);
  s[n] = '\0';
  return s;
}
