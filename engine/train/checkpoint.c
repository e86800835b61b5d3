/* Checkpoint file, all integers little-endian as written by this machine:
 *   "PARECKP1"                      magic, 8 bytes
 *   int64 progress[6]               pare_checkpoint_progress, in order
 *   uint64 model_bytes, model       the graph as a .pare image
 *   uint64 n_states, then per state: uint32 name_len, name, uint32 slot,
 *                                    uint64 count, float data[count]
 *   uint64 hash                     FNV-1a of everything before it */
#include <stdlib.h>
#include <string.h>

#include "engine/io/pare_format.h"
#include "engine/train/checkpoint.h"
#include "engine/train/trainer_internal.h"

static const char magic[8] = {'P', 'A', 'R', 'E', 'C', 'K', 'P', '1'};

typedef struct buf {
  unsigned char *data;
  size_t size, cap;
  int failed;
} buf;

static void put(buf *b, const void *src, size_t n) {
  if (b->failed) return;
  if (b->size + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->size + n) cap *= 2;
    unsigned char *d = realloc(b->data, cap);
    if (!d) {
      b->failed = 1;
      return;
    }
    b->data = d, b->cap = cap;
  }
  memcpy(b->data + b->size, src, n);
  b->size += n;
}

static void put_u64(buf *b, uint64_t v) { put(b, &v, sizeof v); }
static void put_u32(buf *b, uint32_t v) { put(b, &v, sizeof v); }

static int n_slots(const pare_trainer *t) { return t->cfg.optimizer == PARE_OPT_ADAM ? 2 : 1; }

pare_status pare_checkpoint_save(const char *path, const pare_graph *g, pare_trainer *t,
                                 const pare_checkpoint_progress *p, pare_error *err) {
  buf b = {0};
  put(&b, magic, sizeof magic);
  int64_t prog[6] = {p->epoch, p->batch, p->steps, p->batch_size, (int64_t)p->seed, p->optimizer};
  put(&b, prog, sizeof prog);
  void *model = NULL;
  size_t model_size = 0;
  pare_status st = pare_format_write_buffer(g, &model, &model_size, err);
  if (st != PARE_OK) return st;
  put_u64(&b, model_size);
  put(&b, model, model_size);
  free(model);
  uint64_t n_states = 0;
  for (int v = 0; v < g->n_values; v++)
    if (g->values[v].is_param && t->grad[v]) n_states += (uint64_t)n_slots(t);
  put_u64(&b, n_states);
  float *tmp = NULL;
  for (int v = 0; v < g->n_values && st == PARE_OK && !b.failed; v++) {
    if (!g->values[v].is_param || !t->grad[v]) continue;
    int64_t count = pare_value_numel(&g->values[v]);
    float *grown = realloc(tmp, sizeof(float) * (size_t)(count > 0 ? count : 1));
    if (!grown) {
      b.failed = 1;
      break;
    }
    tmp = grown;
    for (int slot = 0; slot < n_slots(t) && st == PARE_OK; slot++) {
      st = pare_trainer_state(t, v, slot, tmp, 0, err);
      const char *name = g->values[v].name ? g->values[v].name : "";
      put_u32(&b, (uint32_t)strlen(name));
      put(&b, name, strlen(name));
      put_u32(&b, (uint32_t)slot);
      put_u64(&b, (uint64_t)count);
      put(&b, tmp, sizeof(float) * (size_t)count);
    }
  }
  free(tmp);
  if (st == PARE_OK && !b.failed) put_u64(&b, pare_hash64(b.data, b.size, PARE_HASH_SEED));
  if (st == PARE_OK && b.failed) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK) st = pare_file_write_atomic(path, b.data, b.size, err);
  free(b.data);
  return st;
}

typedef struct reader {
  const unsigned char *data;
  size_t size, pos;
} reader;

static int take(reader *r, void *dst, size_t n) {
  if (n > r->size - r->pos) return 0;
  if (dst) memcpy(dst, r->data + r->pos, n);
  r->pos += n;
  return 1;
}

/* Reads the file and checks magic and hash; the model image's place. */
static pare_status open_checkpoint(const char *path, void **data, reader *r, pare_error *err) {
  size_t size;
  pare_status st = pare_file_read(path, data, &size, err);
  if (st != PARE_OK) return st;
  *r = (reader){*data, size, 0};
  uint64_t hash;
  if (size < sizeof magic + 8 || memcmp(*data, magic, sizeof magic))
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: not a pare training checkpoint", path);
  memcpy(&hash, r->data + size - 8, 8);
  if (hash != pare_hash64(r->data, size - 8, PARE_HASH_SEED))
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: the checkpoint is damaged (checksum)", path);
  r->size = size - 8;
  r->pos = sizeof magic;
  return PARE_OK;
}

pare_status pare_checkpoint_load(const char *path, pare_graph **g, pare_checkpoint_progress *p,
                                 pare_error *err) {
  *g = NULL;
  void *data = NULL;
  reader r;
  pare_status st = open_checkpoint(path, &data, &r, err);
  int64_t prog[6];
  uint64_t model_size = 0;
  if (st == PARE_OK &&
      (!take(&r, prog, sizeof prog) || !take(&r, &model_size, 8) || model_size > r.size - r.pos))
    st = pare_error_set(err, PARE_ERR_FORMAT, "%s: the checkpoint is truncated", path);
  if (st == PARE_OK) st = pare_format_read_buffer(r.data + r.pos, (size_t)model_size, path, g, err);
  if (st == PARE_OK) {
    p->epoch = prog[0], p->batch = prog[1], p->steps = prog[2];
    p->batch_size = prog[3], p->seed = (uint64_t)prog[4], p->optimizer = prog[5];
  }
  free(data);
  return st;
}

pare_status pare_checkpoint_restore_state(const char *path, pare_trainer *t, pare_error *err) {
  void *data = NULL;
  reader r;
  pare_status st = open_checkpoint(path, &data, &r, err);
  uint64_t model_size = 0, n_states = 0;
  if (st == PARE_OK && (!take(&r, NULL, 6 * 8) || !take(&r, &model_size, 8) ||
                        !take(&r, NULL, model_size) || !take(&r, &n_states, 8)))
    st = pare_error_set(err, PARE_ERR_FORMAT, "%s: the checkpoint is truncated", path);
  char name[512];
  for (uint64_t i = 0; i < n_states && st == PARE_OK; i++) {
    uint32_t len, slot;
    uint64_t count;
    if (!take(&r, &len, 4) || len >= sizeof name || !take(&r, name, len) || !take(&r, &slot, 4) ||
        !take(&r, &count, 8) || count > (r.size - r.pos) / sizeof(float)) {
      st = pare_error_set(err, PARE_ERR_FORMAT, "%s: optimizer state %llu is damaged", path,
                          (unsigned long long)i);
      break;
    }
    name[len] = '\0';
    int v = pare_graph_find_value(t->g, name);
    if (v < 0 || !t->g->values[v].is_param || slot >= (uint32_t)n_slots(t) ||
        (int64_t)count != pare_value_numel(&t->g->values[v])) {
      st = pare_error_set(err, PARE_ERR_FORMAT,
                          "%s: optimizer state of '%s' does not fit the model", path, name);
      break;
    }
    float *vals = malloc(sizeof(float) * (size_t)(count ? count : 1));
    if (!vals) {
      st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      break;
    }
    take(&r, vals, sizeof(float) * (size_t)count);
    st = pare_trainer_state(t, v, (int)slot, vals, 1, err);
    free(vals);
  }
  free(data);
  return st;
}
