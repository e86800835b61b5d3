/* Checkpoint file, all integers little-endian as written by this machine
 * (engine/core/bytes.h):
 *   "PARECKP1"                      magic, 8 bytes
 *   int64 progress[6]               pare_checkpoint_progress, in order
 *   uint64 model_bytes, model       the graph as a .pare image
 *   uint64 n_states, then per state: uint32 name_len, name, uint32 slot,
 *                                    uint64 count, float data[count]
 *   uint64 hash                     FNV-1a of everything before it */
#include <stdlib.h>
#include <string.h>

#include "engine/core/bytes.h"
#include "engine/io/pare_format.h"
#include "engine/train/checkpoint.h"
#include "engine/train/trainer_internal.h"

static const char magic[8] = {'P', 'A', 'R', 'E', 'C', 'K', 'P', '1'};

static int n_slots(const pare_trainer *t) { return t->cfg.optimizer == PARE_OPT_ADAM ? 2 : 1; }

pare_status pare_checkpoint_save(const char *path, const pare_graph *g, pare_trainer *t,
                                 const pare_checkpoint_progress *p, pare_error *err) {
  pare_writer b = {0};
  pare_put(&b, magic, sizeof magic);
  int64_t prog[6] = {p->epoch, p->batch, p->steps, p->batch_size, (int64_t)p->seed, p->optimizer};
  pare_put(&b, prog, sizeof prog);
  void *model = NULL;
  size_t model_size = 0;
  pare_status st = pare_format_write_buffer(g, &model, &model_size, err);
  if (st != PARE_OK) return st;
  pare_put_u64(&b, model_size);
  pare_put(&b, model, model_size);
  free(model);
  uint64_t n_states = 0;
  for (int v = 0; v < g->n_values; v++)
    if (g->values[v].is_param && t->grad[v]) n_states += (uint64_t)n_slots(t);
  pare_put_u64(&b, n_states);
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
      pare_put_str(&b, name);
      pare_put_u32(&b, (uint32_t)slot);
      pare_put_u64(&b, (uint64_t)count);
      pare_put(&b, tmp, sizeof(float) * (size_t)count);
    }
  }
  free(tmp);
  if (st == PARE_OK && !b.failed) pare_put_u64(&b, pare_hash64(b.buf, b.len, PARE_HASH_SEED));
  if (st == PARE_OK && b.failed) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK) st = pare_file_write_atomic(path, b.buf, b.len, err);
  free(b.buf);
  return st;
}

/* Reads the file and checks magic and hash; *r then reads what follows the
 * magic, up to the hash. */
static pare_status open_checkpoint(const char *path, void **data, pare_reader *r, pare_error *err) {
  size_t size;
  pare_status st = pare_file_read(path, data, &size, err);
  if (st != PARE_OK) return st;
  const unsigned char *bytes = *data;
  uint64_t hash;
  if (size < sizeof magic + 8 || memcmp(bytes, magic, sizeof magic))
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: not a pare training checkpoint", path);
  memcpy(&hash, bytes + size - 8, 8);
  if (hash != pare_hash64(bytes, size - 8, PARE_HASH_SEED))
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: the checkpoint is damaged (checksum)", path);
  *r = (pare_reader){bytes + sizeof magic, size - 8 - sizeof magic, 0};
  return PARE_OK;
}

pare_status pare_checkpoint_load(const char *path, pare_graph **g, pare_checkpoint_progress *p,
                                 pare_error *err) {
  *g = NULL;
  void *data = NULL;
  pare_reader r;
  pare_status st = open_checkpoint(path, &data, &r, err);
  int64_t prog[6];
  uint64_t model_size = 0;
  if (st == PARE_OK) {
    pare_get(&r, prog, sizeof prog);
    model_size = pare_get_u64(&r);
    if (r.failed || model_size > r.left)
      st = pare_error_set(err, PARE_ERR_FORMAT, "%s: the checkpoint is truncated", path);
  }
  if (st == PARE_OK) st = pare_format_read_buffer(r.p, (size_t)model_size, path, g, err);
  if (st == PARE_OK) {
    p->epoch = prog[0], p->batch = prog[1], p->steps = prog[2];
    p->batch_size = prog[3], p->seed = (uint64_t)prog[4], p->optimizer = prog[5];
  }
  free(data);
  return st;
}

pare_status pare_checkpoint_restore_state(const char *path, pare_trainer *t, pare_error *err) {
  void *data = NULL;
  pare_reader r;
  pare_status st = open_checkpoint(path, &data, &r, err);
  uint64_t n_states = 0;
  if (st == PARE_OK) {
    pare_get(&r, NULL, 6 * 8);
    pare_get(&r, NULL, pare_get_u64(&r)); /* the model */
    n_states = pare_get_u64(&r);
    if (r.failed)
      st = pare_error_set(err, PARE_ERR_FORMAT, "%s: the checkpoint is truncated", path);
  }
  float *vals = NULL;
  for (uint64_t i = 0; i < n_states && st == PARE_OK; i++) {
    char *name = pare_get_str(&r);
    uint32_t slot = pare_get_u32(&r);
    uint64_t count = pare_get_u64(&r);
    int v = name ? pare_graph_find_value(t->g, name) : -1;
    if (r.failed || count > r.left / sizeof(float))
      st = pare_error_set(err, PARE_ERR_FORMAT, "%s: optimizer state %llu is damaged", path,
                          (unsigned long long)i);
    else if (v < 0 || !t->g->values[v].is_param || slot >= (uint32_t)n_slots(t) ||
             (int64_t)count != pare_value_numel(&t->g->values[v]))
      st = pare_error_set(err, PARE_ERR_FORMAT,
                          "%s: optimizer state of '%s' does not fit the model", path, name);
    float *grown =
        st == PARE_OK ? realloc(vals, sizeof(float) * (size_t)(count ? count : 1)) : NULL;
    if (st == PARE_OK && !grown) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    if (st == PARE_OK) {
      vals = grown;
      pare_get(&r, vals, sizeof(float) * (size_t)count);
      st = pare_trainer_state(t, v, (int)slot, vals, 1, err);
    }
    free(name);
  }
  free(vals);
  free(data);
  return st;
}
