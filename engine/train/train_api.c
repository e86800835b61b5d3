/* pare_train: the training loop over a dataset (shuffled batches from a
 * seed, optional validation split, optional distillation), on the
 * reference trainer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/compress/weights.h"
#include "engine/context_internal.h"
#include "engine/model_internal.h"
#include "engine/train/checkpoint.h"
#include "engine/train/trainer.h"
#include "engine/train/zoo.h"

/* Splitmix64: the shuffle's random numbers. */
static uint64_t next_random(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static void shuffle(size_t *v, size_t n, uint64_t seed) {
  uint64_t s = seed;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)(next_random(&s) % i);
    size_t tmp = v[i - 1];
    v[i - 1] = v[j];
    v[j] = tmp;
  }
}

static pare_status load_graph(const char *arch, uint64_t seed, pare_graph **g, pare_error *err) {
  if (pare_zoo_is_builtin(arch)) return pare_zoo_build(arch, seed, g, err);
  char msg[1024];
  pare_model *m = NULL;
  pare_status st = pare_model_load(arch, &m, msg, sizeof msg);
  if (st == PARE_ERR_IO)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "'%s' is neither a built-in architecture (%s) nor a model file (%s)",
                          arch, pare_zoo_names(), msg);
  if (st != PARE_OK) return pare_error_set(err, st, "%s", msg);
  *g = m->graph; /* take the graph over */
  m->graph = NULL;
  pare_model_destroy(m);
  /* Initializers of an imported model are its parameters already. */
  return PARE_OK;
}

/* 1 when the graph's input holds `sample` floats per sample (its first
 * dim being the batch). */
static int input_fits(const pare_graph *g, int64_t sample) {
  const pare_value *in = &g->values[g->inputs[0]];
  int64_t per = 1;
  for (int d = 1; d < in->rank; d++) per *= in->dims[d] > 0 ? in->dims[d] : 1;
  return in->rank >= 1 && per == sample;
}

/* A view of `count` samples of `sample` floats each, shaped as the graph's
 * input (which input_fits). */
static pare_tensor_view input_view(const pare_graph *g, float *x, int64_t count, int64_t sample) {
  pare_tensor_view v;
  memset(&v, 0, sizeof v);
  const pare_value *in = &g->values[g->inputs[0]];
  v.dtype = PARE_DT_F32;
  v.rank = in->rank;
  for (int d = 0; d < in->rank; d++) v.dims[d] = d == 0 ? count : in->dims[d] > 0 ? in->dims[d] : 1;
  v.data = x;
  v.nbytes = sizeof(float) * (size_t)(count * sample);
  return v;
}

void pare_train_options_init(pare_train_options *o) {
  memset(o, 0, sizeof *o);
  o->arch = "simplecnn";
  o->dataset = "fashion-mnist";
  o->epochs = 1;
  o->batch = 64;
  o->momentum = 0.9f;
  o->optimizer = "sgd";
  o->schedule = "constant";
  o->step_epochs = 1;
  o->seed = 1;
  o->alpha = 0.1f;
  o->temperature = 4.0f;
  o->warmup_epochs = -1;
}

/* Masks that keep the zero weights of every weight tensor at zero. */
static pare_status pin_zeros(pare_graph *g, pare_trainer *tr, pare_error *err) {
  for (int v = 0; v < g->n_values; v++) {
    const pare_value *p = &g->values[v];
    if (!p->is_param || p->rank < 2 || p->dtype != PARE_DT_F32 || !p->data) continue;
    size_t n = (size_t)pare_value_numel(p);
    const float *w = p->data;
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) zeros += w[i] == 0.0f;
    if (!zeros) continue;
    uint8_t *mask = malloc(n);
    if (!mask) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) mask[i] = w[i] != 0.0f;
    pare_status st = pare_trainer_set_mask(tr, v, mask, err);
    free(mask);
    if (st != PARE_OK) return st;
  }
  return PARE_OK;
}

/* Quantization-aware training of every weight tensor. */
static pare_status fake_quantize_weights(pare_graph *g, pare_trainer *tr, int bits,
                                         pare_error *err) {
  if (bits < 2 || bits > 16)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "quantization-aware training takes 2 to 16 bits, not %d", bits);
  for (int v = 0; v < g->n_values; v++) {
    const pare_value *p = &g->values[v];
    if (!p->is_param || p->rank < 2 || p->dtype != PARE_DT_F32 || !p->data) continue;
    pare_status st = pare_trainer_set_weight_quant(tr, v, bits, 1, err);
    if (st != PARE_OK) return st;
  }
  return PARE_OK;
}

/* Quantization-aware training of the layers listed in `spec`,
 * "NODE:BITS,..." (Conv, Gemm and MatMul nodes): each one's weight is
 * fake-quantized to its own width, per output channel. */
static pare_status fake_quantize_layers(pare_graph *g, pare_trainer *tr, const char *spec,
                                        pare_error *err) {
  for (const char *at = spec; *at;) {
    size_t len = strcspn(at, ",");
    char item[192];
    if (len >= sizeof item)
      return pare_error_set(err, PARE_ERR_INVALID_ARG, "qat_layers: '%.*s' is too long", (int)len,
                            at);
    memcpy(item, at, len);
    item[len] = 0;
    at += len + (at[len] == ',');
    char *colon = strrchr(item, ':'), *end = NULL;
    long bits = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || end == colon + 1 || *end || bits < 2 || bits > 16)
      return pare_error_set(err, PARE_ERR_INVALID_ARG,
                            "qat_layers: '%s' is not NODE:BITS with 2 to 16 bits", item);
    *colon = 0;
    int node = -1;
    for (int i = 0; i < g->n_nodes && node < 0; i++)
      if (g->nodes[i].name && !strcmp(g->nodes[i].name, item)) node = i;
    if (node < 0)
      return pare_error_set(err, PARE_ERR_INVALID_ARG, "qat_layers: the model has no node '%s'",
                            item);
    pare_layer_weight lw;
    const char *why = pare_layer_weight_of(g, node, &lw);
    if (why)
      return pare_error_set(err, PARE_ERR_INVALID_ARG, "qat_layers: node '%s': %s", item, why);
    pare_status st = pare_trainer_set_weight_quant(tr, lw.weight, (int)bits, 1, err);
    if (st != PARE_OK) return st;
  }
  return PARE_OK;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Centroid training of every weight tensor holding at most 255 distinct
 * nonzero values (and fewer than half as many as it has elements: a small
 * dense layer is not "shared"); the others train as usual. */
static pare_status keep_shared_weights(pare_graph *g, pare_trainer *tr, pare_error *err) {
  for (int v = 0; v < g->n_values; v++) {
    const pare_value *p = &g->values[v];
    if (!p->is_param || p->rank < 2 || p->dtype != PARE_DT_F32 || !p->data) continue;
    size_t n = (size_t)pare_value_numel(p);
    const float *w = p->data;
    float *sorted = malloc(sizeof(float) * (n ? n : 1));
    uint8_t *label = malloc(n ? n : 1);
    if (!sorted || !label) {
      free(sorted);
      free(label);
      return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    }
    size_t nz = 0;
    for (size_t i = 0; i < n; i++)
      if (w[i] != 0.0f) sorted[nz++] = w[i];
    qsort(sorted, nz, sizeof(float), cmp_float);
    size_t k = 0;
    for (size_t i = 0; i < nz && k <= 255; i++)
      if (i == 0 || sorted[i] != sorted[k - 1]) sorted[k++] = sorted[i];
    pare_status st = PARE_OK;
    int shared = k >= 1 && k <= 255 && 2 * k < n;
    for (size_t i = 0; shared && i < n; i++) {
      const float *hit = w[i] == 0.0f ? NULL : bsearch(&w[i], sorted, k, sizeof(float), cmp_float);
      shared = w[i] == 0.0f || hit; /* a NaN is found nowhere: the layer is not shared */
      label[i] = hit ? (uint8_t)(hit - sorted) : 255;
    }
    if (shared) st = pare_trainer_set_shared(tr, v, label, (int)k, err);
    free(sorted);
    free(label);
    if (st != PARE_OK) return st;
  }
  return PARE_OK;
}

pare_status pare_train(pare_context *ctx, const pare_train_options *o, pare_model **out,
                       char *error, size_t error_size) {
  pare_error err = {{0}};
  pare_status st = PARE_OK;
  if (!o || !out) return PARE_ERR_INVALID_ARG;
  *out = NULL;
  int epochs = o->epochs > 0 ? o->epochs : 1, batch = o->batch > 0 ? o->batch : 64;
  int adam = o->optimizer && !strcmp(o->optimizer, "adam");
  if (o->optimizer && !adam && strcmp(o->optimizer, "sgd")) {
    if (error && error_size)
      snprintf(error, error_size, "unknown optimizer '%s' (sgd or adam)", o->optimizer);
    return PARE_ERR_INVALID_ARG;
  }
  pare_dataset *ds = NULL;
  pare_graph *g = NULL;
  pare_model *model = NULL, *teacher = NULL;
  pare_trainer *tr = NULL;
  size_t *order = NULL;
  float *x = NULL, *tlogits = NULL;
  int64_t *labels = NULL;
  char msg[1024];
  st = pare_dataset_open(o->dataset ? o->dataset : "fashion-mnist", "train", &ds, msg, sizeof msg);
  if (st != PARE_OK) {
    pare_error_set(&err, st, "%s", msg);
    goto done;
  }
  pare_checkpoint_progress resume = {0};
  uint64_t seed = o->seed ? o->seed : 1;
  if (o->resume) {
    st = pare_checkpoint_load(o->resume, &g, &resume, &err);
    if (st == PARE_OK && (resume.batch_size != batch || resume.seed != seed ||
                          resume.optimizer != (adam ? PARE_OPT_ADAM : PARE_OPT_SGD)))
      st = pare_error_set(&err, PARE_ERR_INVALID_ARG,
                          "%s: the checkpoint was made with batch %lld, seed %llu and %s; resume "
                          "with the same --batch, --seed and --optimizer",
                          o->resume, (long long)resume.batch_size, (unsigned long long)resume.seed,
                          resume.optimizer == PARE_OPT_ADAM ? "adam" : "sgd");
  } else {
    st = load_graph(o->arch ? o->arch : "simplecnn", seed, &g, &err);
  }
  if (st != PARE_OK) goto done;
  if (o->teacher) {
    st = pare_model_load(o->teacher, &teacher, msg, sizeof msg);
    if (st != PARE_OK) {
      pare_error_set(&err, st, "teacher: %s", msg);
      goto done;
    }
  }
  pare_train_config cfg;
  pare_train_config_init(&cfg);
  cfg.batch = batch;
  cfg.optimizer = adam ? PARE_OPT_ADAM : PARE_OPT_SGD;
  /* Soft targets at temperature T start with gradients about T times those
   * of the labels' cross-entropy (T²·KL, gradient T·(q - p)): a random
   * student diverges at the full SGD rate. Distillation therefore warms up
   * for an epoch by default, or, without a warm-up, divides the default
   * rate by T (stable, but slower). */
  int warm_epochs = o->warmup_epochs >= 0               ? o->warmup_epochs
                    : o->teacher && !adam && epochs > 1 ? 1
                                                        : 0;
  float lr = o->lr > 0                                          ? o->lr
             : adam                                             ? 1e-3f
             : o->teacher && !warm_epochs && o->temperature > 0 ? 0.05f / o->temperature
                                                                : 0.05f;
  cfg.sgd.momentum = o->momentum;
  cfg.sgd.weight_decay = o->weight_decay;
  cfg.adam.weight_decay = o->weight_decay;
  if (!(o->alpha >= 0.0f && o->alpha <= 1.0f) || !(o->temperature > 0.0f)) {
    st = pare_error_set(&err, PARE_ERR_INVALID_ARG,
                        "distillation needs 0 <= alpha <= 1 and a positive temperature (got %g "
                        "and %g)",
                        (double)o->alpha, (double)o->temperature);
    goto done;
  }
  cfg.distill_alpha = o->alpha;
  cfg.distill_temperature = o->temperature;
  size_t total = pare_dataset_count(ds);
  size_t n_val = o->val_split > 0 && o->val_split < 1 ? (size_t)(o->val_split * (double)total) : 0;
  size_t n_train = total - n_val;
  int64_t batches = (int64_t)(n_train / (size_t)batch);
  if (batches < 1) {
    st = pare_error_set(&err, PARE_ERR_INVALID_ARG,
                        "batch %d is larger than the %zu training images", batch, n_train);
    goto done;
  }
  cfg.schedule.lr = lr;
  int64_t warmup = (int64_t)warm_epochs * batches;
  if (warmup >= (int64_t)epochs * batches) {
    st = pare_error_set(&err, PARE_ERR_INVALID_ARG,
                        "the warm-up (%d epochs) must be shorter than "
                        "the run (%d epochs)",
                        warm_epochs, epochs);
    goto done;
  }
  cfg.schedule.warmup = warmup;
  cfg.schedule.warmup_start_factor = warmup ? 0.1 : 1.0;
  const char *sched = o->schedule ? o->schedule : "constant";
  if (!strcmp(sched, "step")) {
    cfg.schedule.kind = PARE_REF_LR_STEP;
    cfg.schedule.step_size = (int64_t)(o->step_epochs > 0 ? o->step_epochs : 1) * batches;
    cfg.schedule.gamma = 0.1;
  } else if (!strcmp(sched, "cosine")) {
    cfg.schedule.kind = PARE_REF_LR_COSINE;
    cfg.schedule.total = (int64_t)epochs * batches - warmup; /* after the warm-up */
    cfg.schedule.lr_min = 0.0;
  } else if (strcmp(sched, "constant")) {
    st = pare_error_set(&err, PARE_ERR_INVALID_ARG,
                        "unknown schedule '%s' (constant, step or cosine)", sched);
    goto done;
  }
  st = pare_trainer_create(g, &cfg, ctx ? ctx->rt : NULL, &tr, &err);
  if (st != PARE_OK && ctx && ctx->rt) {
    pare_error_set(&ctx->error, st, "%s", err.text);
    if (pare_context_fall_back(ctx, "training")) st = pare_trainer_create(g, &cfg, NULL, &tr, &err);
  }
  if (st != PARE_OK) goto done;
  if (o->resume) {
    st = pare_checkpoint_restore_state(o->resume, tr, &err);
    if (st != PARE_OK) goto done;
    pare_trainer_set_steps(tr, resume.steps);
  }
  if (o->keep_zeros) st = pin_zeros(g, tr, &err);
  if (st == PARE_OK && (o->qat_bits || (o->qat_layers && *o->qat_layers)) && o->keep_shared)
    st = pare_error_set(&err, PARE_ERR_INVALID_ARG,
                        "quantization-aware training and shared-weight training exclude each "
                        "other");
  if (st == PARE_OK && o->qat_bits) st = fake_quantize_weights(g, tr, o->qat_bits, &err);
  if (st == PARE_OK && o->qat_layers) st = fake_quantize_layers(g, tr, o->qat_layers, &err);
  if (st == PARE_OK && o->keep_shared) st = keep_shared_weights(g, tr, &err);
  if (st != PARE_OK) goto done;
  order = malloc(sizeof(size_t) * total);
  int64_t sdims[3];
  int classes = 0;
  pare_dataset_info(ds, sdims, &classes);
  const int64_t sample = sdims[0] * sdims[1] * sdims[2];
  if (!input_fits(g, sample) || (teacher && !input_fits(teacher->graph, sample))) {
    st = pare_error_set(&err, PARE_ERR_INVALID_ARG,
                        "the %s input does not hold one %lldx%lldx%lld image per sample",
                        !input_fits(g, sample) ? "model's" : "teacher's", (long long)sdims[0],
                        (long long)sdims[1], (long long)sdims[2]);
    goto done;
  }
  x = malloc(sizeof(float) * (size_t)sample * (size_t)batch);
  labels = malloc(sizeof(int64_t) * (size_t)batch);
  tlogits = teacher ? malloc(sizeof(float) * (size_t)classes * (size_t)batch) : NULL;
  model = calloc(1, sizeof *model);
  if (!order || !x || !labels || (teacher && !tlogits) || !model) {
    st = pare_error_set(&err, PARE_ERR_NO_MEMORY, "out of memory");
    goto done;
  }
  model->graph = g;
  pare_strlcpy(model->path,
               o->resume ? o->resume
               : o->arch ? o->arch
                         : "simplecnn",
               sizeof model->path);
  for (size_t i = 0; i < total; i++) order[i] = i;
  /* The validation split is fixed by the seed; training order reshuffles
   * every epoch, from the previous epoch's order (replayed on resume). */
  shuffle(order, total, seed ^ UINT64_C(0x5eed));
  for (int64_t e = 0; e < resume.epoch + (resume.batch > 0) && e < epochs; e++)
    shuffle(order, n_train, seed + (uint64_t)e * 7919);
  double t0 = pare_now();
  int64_t all_batches = (int64_t)epochs * batches;
  int64_t first_batch = resume.epoch * batches + resume.batch, done_batches = first_batch;
  pare_checkpoint_progress at = {resume.epoch, resume.batch, 0,
                                 batch,        seed,         adam ? PARE_OPT_ADAM : PARE_OPT_SGD};
  for (int e = (int)resume.epoch; e < epochs && st == PARE_OK; e++) {
    if (e > resume.epoch || resume.batch == 0) shuffle(order, n_train, seed + (uint64_t)e * 7919);
    double loss_sum = 0;
    int64_t correct_sum = 0, seen = 0;
    for (int64_t b = e == resume.epoch ? resume.batch : 0; b < batches && st == PARE_OK; b++) {
      at.epoch = e, at.batch = b;
      if (o->stop && *o->stop) goto stopped;
      pare_dataset_batch(ds, order + (size_t)b * (size_t)batch, (size_t)batch, x, labels);
      if (teacher) {
        pare_tensor_view in = input_view(teacher->graph, x, batch, sample);
        pare_tensor_view tout;
        st = pare_model_run(ctx, teacher, &in, 1, &tout, 1);
        if (st != PARE_OK) {
          pare_error_set(&err, st, "teacher: %s", pare_model_last_error(teacher));
          break;
        }
        if (tout.nbytes != sizeof(float) * (size_t)classes * (size_t)batch) {
          pare_free(tout.data);
          st = pare_error_set(&err, PARE_ERR_INVALID_ARG,
                              "teacher: its output is not [batch, %d] logits", classes);
          break;
        }
        memcpy(tlogits, tout.data, tout.nbytes);
        pare_free(tout.data);
      }
      float loss;
      int64_t correct;
      st = pare_trainer_step(tr, x, labels, tlogits, &loss, &correct, &err);
      loss_sum += loss;
      correct_sum += correct;
      seen++;
      done_batches++;
      int epoch_done = b + 1 == batches;
      pare_train_progress p = {e + 1,
                               epochs,
                               b + 1,
                               batches,
                               loss_sum / (double)seen,
                               (double)correct_sum / (double)(seen * batch),
                               0,
                               0,
                               epoch_done,
                               -1.0};
      double secs = pare_now() - t0;
      int64_t run = done_batches - first_batch;
      p.images_per_second = (double)run * batch / (secs > 0 ? secs : 1e-9);
      p.eta_seconds = secs / (double)run * (double)(all_batches - done_batches);
      if (epoch_done && st == PARE_OK) {
        st = pare_trainer_sync(tr, &err);
        if (n_val && st == PARE_OK) {
          pare_plan_destroy(model->plan);
          model->plan = NULL;
          size_t right = 0;
          st = pare_accuracy_on(ctx, model, ds, order + n_train, n_val, 256, NULL, &right, NULL,
                                NULL, &err);
          p.val_accuracy = (double)right / (double)n_val;
        }
        at.epoch = e + 1, at.batch = 0, at.steps = pare_trainer_steps(tr);
        if (o->checkpoint && st == PARE_OK)
          st = pare_checkpoint_save(o->checkpoint, g, tr, &at, &err);
      }
      if (o->progress && st == PARE_OK) o->progress(&p, o->user);
    }
  }
  goto finished;
stopped:
  if (st == PARE_OK) st = pare_trainer_sync(tr, &err);
  at.steps = pare_trainer_steps(tr);
  if (st == PARE_OK && o->checkpoint) st = pare_checkpoint_save(o->checkpoint, g, tr, &at, &err);
finished:
  pare_plan_destroy(model->plan);
  model->plan = NULL;
done:
  pare_trainer_destroy(tr);
  if (st == PARE_OK && model) {
    *out = model;
  } else {
    if (model) model->graph = NULL;
    pare_model_destroy(model);
    pare_graph_destroy(g);
  }
  pare_model_destroy(teacher);
  pare_dataset_destroy(ds);
  free(order);
  free(x);
  free(labels);
  free(tlogits);
  if (st != PARE_OK && error && error_size) pare_strlcpy(error, err.text, error_size);
  return st;
}
