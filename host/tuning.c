/* The per-device tuning database (tuning.h). */
#include "host/tuning.h"
#include "kernels/kernel_sources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KEY_MAX = 192 };

typedef struct tuning_entry {
  char key[KEY_MAX];
  uint64_t hash; /* of key: lookups compare it first (launchers look up per launch) */
  double value;
} tuning_entry;

struct pare_tuning {
  tuning_entry *items;
  int n, cap;
  int loaded;
  int dirty; /* put since the file was last written */
  /* Shapes asked about while recording ("<stem>@<shape>"). */
  int recording;
  char **asked;
  int n_asked, cap_asked;
};

/* A digest of every embedded kernel source: what was measured against
 * one version of the kernels (tuned parameters, sparse and int8
 * crossovers) is not reused once any of them changes. */
static uint64_t kernels_digest(void) {
  uint64_t h = 0x6b65726eull;
  for (int i = 0; i <= PARE_KERNEL_COUNT; i++) /* the kernels and common.h */
    h = pare_hash64(pare_kernel_sources[i].text, pare_kernel_sources[i].length, h);
  return h;
}

static void file_path(const pare_cl_runtime *rt, char *buf, size_t size) {
  char id[3 * sizeof rt->info.name + 32];
  snprintf(id, sizeof id, "%s|%s|%s|%016llx", rt->info.name, rt->info.driver_version,
           rt->info.version, (unsigned long long)kernels_digest());
  snprintf(buf, size, "%s/tuning-%016llx.txt", rt->cache_dir,
           (unsigned long long)pare_hash64(id, strlen(id), 0x7475ull));
}

static uint64_t key_hash(const char *key) { return pare_hash64(key, strlen(key), PARE_HASH_SEED); }

static tuning_entry *find(struct pare_tuning *t, const char *key) {
  if (t->n == 0) return NULL;
  uint64_t h = key_hash(key);
  for (int i = 0; i < t->n; i++)
    if (t->items[i].hash == h && !strcmp(t->items[i].key, key)) return &t->items[i];
  return NULL;
}

static int set(struct pare_tuning *t, const char *key, double value) {
  tuning_entry *e = find(t, key);
  if (!e) {
    if (t->n == t->cap) {
      int cap = t->cap ? 2 * t->cap : 32;
      tuning_entry *items = realloc(t->items, sizeof *items * (size_t)cap);
      if (!items) return 0;
      t->items = items;
      t->cap = cap;
    }
    e = &t->items[t->n++];
    snprintf(e->key, sizeof e->key, "%s", key);
    e->hash = key_hash(e->key);
  }
  e->value = value;
  return 1;
}

/* The table of rt, read from its file on first use (lines that do not
 * parse are skipped: the file is a cache, not a source of truth). Called
 * with rt->lock held. */
static struct pare_tuning *table(pare_cl_runtime *rt) {
  if (!rt->tuning) rt->tuning = calloc(1, sizeof(struct pare_tuning));
  struct pare_tuning *t = rt->tuning;
  if (!t || t->loaded) return t;
  t->loaded = 1;
  rt->tuning_version++;
  if (!rt->cache_dir[0]) return t;
  char path[1200];
  file_path(rt, path, sizeof path);
  void *data = NULL;
  size_t size = 0;
  pare_error err;
  if (pare_file_read(path, &data, &size, &err) != PARE_OK) return t;
  char *text = realloc(data, size + 1);
  if (!text) {
    free(data);
    return t;
  }
  text[size] = 0;
  for (char *line = text, *next; line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    char key[KEY_MAX];
    double value;
    if (sscanf(line, "%191s %lf", key, &value) == 2) set(t, key, value);
  }
  free(text);
  return t;
}

int pare_tuning_get(pare_cl_runtime *rt, const char *key, double *value) {
  pthread_mutex_lock(&rt->lock);
  struct pare_tuning *t = table(rt);
  tuning_entry *e = t ? find(t, key) : NULL;
  if (e) *value = e->value;
  pthread_mutex_unlock(&rt->lock);
  return e != NULL;
}

/* Rewrites rt's file from the table; rt->lock held. */
static void save(pare_cl_runtime *rt, struct pare_tuning *t) {
  t->dirty = 0;
  if (!rt->cache_dir[0]) return;
  size_t cap = (size_t)t->n * (KEY_MAX + 32) + 1, len = 0;
  char *text = malloc(cap);
  for (int i = 0; text && i < t->n; i++)
    len += (size_t)snprintf(text + len, cap - len, "%s %.9g\n", t->items[i].key, t->items[i].value);
  char path[1200];
  file_path(rt, path, sizeof path);
  pare_error err;
  if (text) pare_file_write_atomic(path, text, len, &err);
  free(text);
}

void pare_tuning_put(pare_cl_runtime *rt, const char *key, double value) {
  if (strlen(key) >= KEY_MAX || strchr(key, ' ') || strchr(key, '\n')) return;
  pthread_mutex_lock(&rt->lock);
  struct pare_tuning *t = table(rt);
  if (t && set(t, key, value)) {
    t->dirty = 1;
    rt->tuning_version++;
  }
  pthread_mutex_unlock(&rt->lock);
}

void pare_tuning_flush(pare_cl_runtime *rt) {
  pthread_mutex_lock(&rt->lock);
  struct pare_tuning *t = rt->tuning;
  if (t && t->dirty) save(rt, t);
  pthread_mutex_unlock(&rt->lock);
}

void pare_tuning_save(pare_cl_runtime *rt) {
  pthread_mutex_lock(&rt->lock);
  struct pare_tuning *t = table(rt);
  if (t) save(rt, t);
  pthread_mutex_unlock(&rt->lock);
}

void pare_tuning_set(pare_cl_runtime *rt, const char *key, double value) {
  if (strlen(key) >= KEY_MAX || strchr(key, ' ') || strchr(key, '\n')) return;
  pthread_mutex_lock(&rt->lock);
  struct pare_tuning *t = table(rt);
  if (t && set(t, key, value)) rt->tuning_version++;
  pthread_mutex_unlock(&rt->lock);
}

void pare_tuning_forget(pare_cl_runtime *rt, const char *key) {
  pthread_mutex_lock(&rt->lock);
  struct pare_tuning *t = table(rt);
  tuning_entry *e = t ? find(t, key) : NULL;
  if (e) {
    *e = t->items[--t->n];
    rt->tuning_version++;
  }
  pthread_mutex_unlock(&rt->lock);
}

/* Adds "<stem>@<shape>" to the recorded list unless there; rt->lock held. */
static void note_asked(struct pare_tuning *t, const char *stem, const char *shape) {
  char key[KEY_MAX];
  int len = snprintf(key, sizeof key, "%s@%s", stem, shape);
  if (len < 0 || len >= KEY_MAX) return;
  for (int i = 0; i < t->n_asked; i++)
    if (!strcmp(t->asked[i], key)) return;
  if (t->n_asked == t->cap_asked) {
    int cap = t->cap_asked ? 2 * t->cap_asked : 16;
    char **asked = realloc(t->asked, sizeof *asked * (size_t)cap);
    if (!asked) return;
    t->asked = asked;
    t->cap_asked = cap;
  }
  char *copy = malloc((size_t)len + 1);
  if (!copy) return;
  memcpy(copy, key, (size_t)len + 1);
  t->asked[t->n_asked++] = copy;
}

int pare_tuned_int(pare_cl_runtime *rt, const char *stem, const char *param, const char *shape,
                   int fallback, int (*ok)(int value)) {
  char key[KEY_MAX];
  int len = snprintf(key, sizeof key, "%s.%s", stem, param);
  int value = len > 0 && len < KEY_MAX ? pare_profile_int(rt->profile, key, fallback) : fallback;
  if (!shape) return value;
  len = snprintf(key, sizeof key, "tune.%s.%s@%s", stem, param, shape);
  pthread_mutex_lock(&rt->lock);
  struct pare_tuning *t = table(rt);
  if (t && t->recording) note_asked(t, stem, shape);
  tuning_entry *e = t && !rt->no_tune && len > 0 && len < KEY_MAX ? find(t, key) : NULL;
  if (e && e->value >= -2147483647.0 && e->value <= 2147483647.0 &&
      e->value == (double)(int)e->value && (!ok || ok((int)e->value)))
    value = (int)e->value;
  pthread_mutex_unlock(&rt->lock);
  return value;
}

static void clear_asked(struct pare_tuning *t) {
  for (int i = 0; i < t->n_asked; i++) free(t->asked[i]);
  t->n_asked = 0;
}

void pare_tuning_record(pare_cl_runtime *rt, int on) {
  pthread_mutex_lock(&rt->lock);
  struct pare_tuning *t = table(rt);
  if (t) {
    if (on) clear_asked(t);
    t->recording = on != 0;
  }
  pthread_mutex_unlock(&rt->lock);
}

const char *const *pare_tuning_recorded(pare_cl_runtime *rt, int *count) {
  pthread_mutex_lock(&rt->lock);
  struct pare_tuning *t = table(rt);
  *count = t ? t->n_asked : 0;
  const char *const *list = t ? (const char *const *)t->asked : NULL;
  pthread_mutex_unlock(&rt->lock);
  return list;
}

void pare_tuning_free(pare_cl_runtime *rt) {
  struct pare_tuning *t = rt->tuning;
  if (!t) return;
  if (t->dirty) save(rt, t);
  clear_asked(t);
  free(t->asked);
  free(t->items);
  free(t);
  rt->tuning = NULL;
}
