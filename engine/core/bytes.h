/* Little byte streams for the file formats (.pare, checkpoints): a growing
 * writer and a bounds-checked reader. Values are stored in host byte order
 * (all supported targets are little-endian). Both remember the first
 * failure (out of memory, reading past the end) and ignore what follows,
 * so a format reads or writes straight through and checks `failed` once. */
#ifndef PARE_ENGINE_CORE_BYTES_H
#define PARE_ENGINE_CORE_BYTES_H

#include <stddef.h>
#include <stdint.h>

typedef struct pare_writer {
  unsigned char *buf; /* malloc'ed; the caller frees it */
  size_t len, cap;
  int failed;
} pare_writer;

void pare_put(pare_writer *w, const void *p, size_t n);
void pare_put_u32(pare_writer *w, uint32_t v);
void pare_put_i32(pare_writer *w, int32_t v);
void pare_put_i64(pare_writer *w, int64_t v);
void pare_put_u64(pare_writer *w, uint64_t v);
void pare_put_f32(pare_writer *w, float v);
/* A u32 length, then the bytes (no NUL); NULL writes an empty string. */
void pare_put_str(pare_writer *w, const char *s);

typedef struct pare_reader {
  const unsigned char *p;
  size_t left;
  int failed;
} pare_reader;

/* Copies n bytes (zeros once failed); dst NULL skips them. */
void pare_get(pare_reader *r, void *dst, size_t n);
uint32_t pare_get_u32(pare_reader *r);
int32_t pare_get_i32(pare_reader *r);
int64_t pare_get_i64(pare_reader *r);
uint64_t pare_get_u64(pare_reader *r);
float pare_get_f32(pare_reader *r);
/* A string written by pare_put_str, malloc'ed and NUL-terminated (NULL on
 * failure). */
char *pare_get_str(pare_reader *r);

#endif
