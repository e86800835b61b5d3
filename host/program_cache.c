/* Program binary cache files:
 *   magic "PARECLB1" | u32 format | u32 key length | u64 binary length |
 *   u64 FNV-1a of the binary | key text | binary
 * all little-endian as written by the host (the cache never leaves it). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/program_cache.h"

#define CACHE_MAGIC  "PARECLB1"
#define CACHE_FORMAT 1u

typedef struct cache_header {
  char magic[8];
  uint32_t format;
  uint32_t key_length;
  uint64_t binary_length;
  uint64_t binary_hash;
} cache_header;

_Static_assert(sizeof(cache_header) == 32, "cache header layout");

pare_status pare_program_cache_dir(const char *override, char *buf, size_t size) {
  const char *dir = override ? override : pare_env("PARE_CACHE_DIR");
  if (dir) {
    snprintf(buf, size, "%s", dir);
    return PARE_OK;
  }
  const char *xdg = pare_env("XDG_CACHE_HOME");
  if (xdg) {
    snprintf(buf, size, "%s/pare", xdg);
    return PARE_OK;
  }
  const char *home = pare_env("HOME");
  if (home) {
    snprintf(buf, size, "%s/.cache/pare", home);
    return PARE_OK;
  }
  return PARE_ERR_IO;
}

void pare_program_cache_path(const char *dir, const char *key, char *buf, size_t size) {
  uint64_t h = pare_hash64(key, strlen(key), PARE_HASH_SEED);
  snprintf(buf, size, "%s/%016llx.clbin", dir, (unsigned long long)h);
}

pare_status pare_program_cache_load(const char *dir, const char *key, unsigned char **binary,
                                    size_t *size, pare_error *err) {
  *binary = NULL;
  *size = 0;
  char path[4096];
  pare_program_cache_path(dir, key, path, sizeof path);
  void *data = NULL;
  size_t len = 0;
  pare_status st = pare_file_read(path, &data, &len, err);
  if (st != PARE_OK) return PARE_ERR_IO;
  const char *why = NULL;
  cache_header h;
  size_t key_len = strlen(key);
  if (len < sizeof h) {
    why = "truncated header";
  } else {
    memcpy(&h, data, sizeof h);
    if (memcmp(h.magic, CACHE_MAGIC, 8) != 0)
      why = "bad magic";
    else if (h.format != CACHE_FORMAT)
      why = "other format version";
    else if (h.key_length != key_len || h.binary_length > len ||
             len - sizeof h - h.key_length != h.binary_length)
      why = "truncated or wrong length";
    else if (memcmp((char *)data + sizeof h, key, key_len) != 0)
      why = "key mismatch (stale entry)";
    else if (pare_hash64((char *)data + sizeof h + key_len, h.binary_length, PARE_HASH_SEED) !=
             h.binary_hash)
      why = "checksum mismatch";
  }
  if (why) {
    free(data);
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: corrupt program cache entry: %s", path, why);
  }
  unsigned char *bin = malloc(h.binary_length ? h.binary_length : 1);
  if (!bin) {
    free(data);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "%s: out of memory", path);
  }
  memcpy(bin, (char *)data + sizeof h + key_len, h.binary_length);
  free(data);
  *binary = bin;
  *size = h.binary_length;
  utimensat(AT_FDCWD, path, NULL, 0); /* used now: the last to go when the cache is trimmed */
  return PARE_OK;
}

pare_status pare_program_cache_store(const char *dir, const char *key, const unsigned char *binary,
                                     size_t size, pare_error *err) {
  pare_status st = pare_mkdirs(dir, err);
  if (st != PARE_OK) return st;
  size_t key_len = strlen(key);
  cache_header h;
  memcpy(h.magic, CACHE_MAGIC, 8);
  h.format = CACHE_FORMAT;
  h.key_length = (uint32_t)key_len;
  h.binary_length = size;
  h.binary_hash = pare_hash64(binary, size, PARE_HASH_SEED);
  size_t total = sizeof h + key_len + size;
  char *buf = malloc(total);
  if (!buf) return pare_error_set(err, PARE_ERR_NO_MEMORY, "program cache: out of memory");
  memcpy(buf, &h, sizeof h);
  memcpy(buf + sizeof h, key, key_len);
  memcpy(buf + sizeof h + key_len, binary, size);
  char path[4096];
  pare_program_cache_path(dir, key, path, sizeof path);
  st = pare_file_write_atomic(path, buf, total, err);
  free(buf);
  uint64_t limit = pare_program_cache_limit();
  if (st == PARE_OK && limit) pare_program_cache_trim(dir, limit);
  return st;
}

uint64_t pare_program_cache_limit(void) {
  const char *v = pare_env("PARE_CACHE_MAX_MB");
  if (!v) return UINT64_C(256) << 20;
  char *end;
  unsigned long long mb = strtoull(v, &end, 10);
  if (*end || v[0] == '-') {
    pare_log_once("cache-max", PARE_LOG_WARN,
                  "PARE_CACHE_MAX_MB=%s is not a number of megabytes; using 256", v);
    return UINT64_C(256) << 20;
  }
  return (uint64_t)mb << 20;
}

typedef struct cache_entry {
  char name[64];
  uint64_t bytes;
  struct timespec used;
} cache_entry;

static int older(const void *a, const void *b) {
  const struct timespec *x = &((const cache_entry *)a)->used, *y = &((const cache_entry *)b)->used;
  if (x->tv_sec != y->tv_sec) return x->tv_sec < y->tv_sec ? -1 : 1;
  return (x->tv_nsec > y->tv_nsec) - (x->tv_nsec < y->tv_nsec);
}

int pare_program_cache_trim(const char *dir, uint64_t max_bytes) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  cache_entry *e = NULL;
  size_t n = 0, cap = 0;
  uint64_t total = 0;
  char path[4096];
  for (struct dirent *de; (de = readdir(d));) {
    size_t len = strlen(de->d_name);
    if (len < 7 || len >= sizeof e->name || strcmp(de->d_name + len - 6, ".clbin")) continue;
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
    if (n == cap) {
      cache_entry *grown = realloc(e, sizeof *e * (cap = cap ? 2 * cap : 64));
      if (!grown) break;
      e = grown;
    }
    memcpy(e[n].name, de->d_name, len + 1);
    e[n].bytes = (uint64_t)sb.st_size;
    e[n].used = sb.st_mtim;
    total += e[n++].bytes;
  }
  closedir(d);
  int removed = 0;
  if (total > max_bytes) {
    qsort(e, n, sizeof *e, older);
    for (size_t i = 0; i < n && total > max_bytes; i++) {
      snprintf(path, sizeof path, "%s/%s", dir, e[i].name);
      if (unlink(path) == 0) removed++; /* gone already: another process trimmed it */
      total -= e[i].bytes;
    }
    pare_log(PARE_LOG_DEBUG, "program cache %s: %d least recently used entries removed", dir,
             removed);
  }
  free(e);
  return removed;
}
