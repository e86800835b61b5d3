/* Context-modelled arithmetic coding of sparse byte tensors (coded_storage.h). */
#include "engine/io/coded_storage.h"

#include <stdlib.h>
#include <string.h>

/* An adaptive probability that the next bit is 1, in 2^-32 (fine enough
 * to follow long runs down to the coder's floor), after n bits. */
typedef struct {
  uint32_t p;
  uint16_t n;
} bit_model;

enum {
  RATE_LIMIT = 254,                          /* the slowest rate: 1/256 */
  PROB_BITS = 12,                            /* the coder's precision */
  LEVELS = 12,                               /* density levels of a row or column */
  CONTEXTS = (LEVELS + 1) * (LEVELS + 1) * 2 /* + "nothing seen yet"; × previous bit */
};

static void model_init(bit_model *m, size_t n) {
  for (size_t i = 0; i < n; i++) m[i] = (bit_model){1u << 31, 0};
}

/* The probability of a 0, in 1/4096, never 0 or 1. */
static uint32_t model_p0(const bit_model *m) {
  uint32_t p1 = m->p >> (32 - PROB_BITS);
  if (p1 < 1) p1 = 1;
  if (p1 > (1u << PROB_BITS) - 1) p1 = (1u << PROB_BITS) - 1;
  return (1u << PROB_BITS) - p1;
}

/* Moves p a fraction 1/(n + 2) of the way to the bit (in 1/65536ths, both
 * ways without a signed shift). */
static void model_update(bit_model *m, int bit) {
  uint64_t rate = 65536u / ((uint32_t)m->n + 2), p = m->p;
  m->p = (uint32_t)(bit ? p + (((0xFFFFFFFFu - p) * rate) >> 16) : p - ((p * rate) >> 16));
  if (m->n < RATE_LIMIT) m->n++;
}

/* The level of a density cnt/n on a square-root scale (fine where weights
 * are sparse), or LEVELS when nothing has been seen. */
static int density_level(uint32_t cnt, uint32_t n) {
  if (!n) return LEVELS;
  uint64_t d = (((uint64_t)cnt * 2 + 1) << 16) / ((uint64_t)n * 2 + 2); /* (cnt + ½)/(n + 1) */
  int level = 0;
  while (level < LEVELS - 1 &&
         d * LEVELS * LEVELS >= ((uint64_t)(level + 1) * (uint64_t)(level + 1)) << 16)
    level++;
  return level;
}

/* What both sides know before element (r, c) of a tensor: the mask's
 * context, and the counts behind it. */
typedef struct {
  size_t cols;
  uint32_t *col_nonzero; /* per column, in the rows before */
  uint32_t row_nonzero, rows_seen;
  int prev;
  bit_model mask[CONTEXTS], value[256];
} coder_state;

static int state_init(coder_state *s, size_t cols) {
  s->cols = cols;
  s->col_nonzero = calloc(cols, sizeof *s->col_nonzero);
  s->row_nonzero = s->rows_seen = 0;
  s->prev = 0;
  model_init(s->mask, CONTEXTS);
  model_init(s->value, 256);
  return s->col_nonzero ? 0 : -1;
}

static bit_model *mask_model(coder_state *s, size_t c) {
  int row = density_level(s->row_nonzero, (uint32_t)c);
  int col = density_level(s->col_nonzero[c], s->rows_seen);
  return &s->mask[(row * (LEVELS + 1) + col) * 2 + s->prev];
}

static void state_advance(coder_state *s, size_t c, int nonzero) {
  s->col_nonzero[c] += (uint32_t)nonzero;
  s->row_nonzero += (uint32_t)nonzero;
  s->prev = nonzero;
  if (c + 1 == s->cols) {
    s->row_nonzero = 0;
    s->rows_seen++;
    s->prev = 0;
  }
}

/* The range coder's encoder: low carries into bytes already written, held
 * back as `cache` and a run of `pending` 0xFF bytes until the carry is
 * known. */
typedef struct {
  uint8_t *buf;
  size_t len, cap;
  uint64_t low, pending;
  uint32_t range;
  uint8_t cache;
  int oom;
} encoder;

static void put_byte(encoder *e, uint8_t b) {
  if (e->len == e->cap) {
    size_t cap = e->cap * 2;
    uint8_t *buf = e->oom ? NULL : realloc(e->buf, cap);
    if (!buf) {
      e->oom = 1;
      return;
    }
    e->buf = buf;
    e->cap = cap;
  }
  e->buf[e->len++] = b;
}

static void shift_low(encoder *e) {
  if ((uint32_t)e->low < 0xFF000000u || (e->low >> 32)) {
    uint8_t carry = (uint8_t)(e->low >> 32);
    put_byte(e, (uint8_t)(e->cache + carry));
    for (; e->pending; e->pending--) put_byte(e, (uint8_t)(0xFF + carry));
    e->cache = (uint8_t)(e->low >> 24);
  } else {
    e->pending++;
  }
  e->low = (e->low & 0x00FFFFFFu) << 8;
}

static void encode_bit(encoder *e, bit_model *m, int bit) {
  uint32_t bound = (e->range >> PROB_BITS) * model_p0(m);
  if (bit) {
    e->low += bound;
    e->range -= bound;
  } else {
    e->range = bound;
  }
  while (e->range < (1u << 24)) {
    e->range <<= 8;
    shift_low(e);
  }
  model_update(m, bit);
}

typedef struct {
  const uint8_t *in;
  size_t size, pos;
  uint32_t range, code;
} decoder;

static uint8_t next_byte(decoder *d) { return d->pos < d->size ? d->in[d->pos++] : 0; }

static int decode_bit(decoder *d, bit_model *m) {
  uint32_t bound = (d->range >> PROB_BITS) * model_p0(m);
  int bit = d->code >= bound;
  if (bit) {
    d->code -= bound;
    d->range -= bound;
  } else {
    d->range = bound;
  }
  while (d->range < (1u << 24)) {
    d->range <<= 8;
    d->code = d->code << 8 | next_byte(d);
  }
  model_update(m, bit);
  return bit;
}

int pare_coded_encode(const uint8_t *bytes, size_t count, size_t cols, uint8_t **out,
                      size_t *size) {
  *out = NULL;
  if (!cols || count % cols) return -1;
  coder_state *s = calloc(1, sizeof *s);
  encoder e = {.cap = 64 + count / 4, .range = 0xFFFFFFFFu};
  e.buf = malloc(e.cap);
  if (!s || !e.buf || state_init(s, cols)) {
    if (s) free(s->col_nonzero);
    free(s);
    free(e.buf);
    return -1;
  }
  for (int b = 0; b < 8; b++) put_byte(&e, (uint8_t)((uint64_t)cols >> (8 * b)));
  for (size_t i = 0, c = 0; i < count; i++, c = c + 1 == cols ? 0 : c + 1) {
    int nonzero = bytes[i] != 0;
    encode_bit(&e, mask_model(s, c), nonzero);
    for (int b = 7, node = 1; nonzero && b >= 0; b--) {
      int bit = bytes[i] >> b & 1;
      encode_bit(&e, &s->value[node], bit);
      node = node * 2 + bit;
    }
    state_advance(s, c, nonzero);
  }
  for (int k = 0; k < 5; k++) shift_low(&e);
  free(s->col_nonzero);
  free(s);
  if (e.oom) {
    free(e.buf);
    return -1;
  }
  /* The first byte after the header is the carry into the top of an
   * interval that starts below 1: always 0. */
  memmove(e.buf + 8, e.buf + 9, e.len - 9);
  e.len--;
  *out = e.buf;
  *size = e.len;
  return 0;
}

int pare_coded_decode(const uint8_t *in, size_t size, size_t count, uint8_t *out) {
  if (size < 8) return -1;
  uint64_t cols = 0;
  for (int b = 0; b < 8; b++) cols |= (uint64_t)in[b] << (8 * b);
  /* A bit costs at least −log2(4095/4096) of a bit, so a byte of stream
   * codes at most 22 713 elements: more is a damaged or hostile stream, and
   * would cost time out of proportion to the file. */
  if (!cols || cols > count || count % cols || count / 32768 > size - 8) return -1;
  coder_state *s = calloc(1, sizeof *s);
  if (!s || state_init(s, (size_t)cols)) {
    if (s) free(s->col_nonzero);
    free(s);
    return -1;
  }
  decoder d = {.in = in + 8, .size = size - 8, .range = 0xFFFFFFFFu};
  for (int k = 0; k < 4; k++) d.code = d.code << 8 | next_byte(&d);
  for (size_t i = 0, c = 0; i < count; i++, c = c + 1 == cols ? 0 : c + 1) {
    int nonzero = decode_bit(&d, mask_model(s, c));
    int node = 1;
    for (int b = 0; nonzero && b < 8; b++) node = node * 2 + decode_bit(&d, &s->value[node]);
    out[i] = nonzero ? (uint8_t)(node & 255) : 0;
    state_advance(s, c, nonzero);
  }
  free(s->col_nonzero);
  free(s);
  return 0;
}
