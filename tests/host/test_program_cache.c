/* The program binary cache: cold build, warm load, corrupt, truncated or
 * stale entries that are detected, rebuilt and replaced, and the bound on
 * its size. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/program_cache.h"
#include "host/runtime.h"
#include "tests/test_util.h"

static char dir[256];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/pare-cache-test-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_store_load_roundtrip(void **state) {
  (void)state;
  const unsigned char bin[] = "not really a binary, but bytes all the same";
  pare_error err;
  assert_int_equal(pare_program_cache_store(dir, "key-one", bin, sizeof bin, &err), PARE_OK);
  unsigned char *got = NULL;
  size_t size = 0;
  assert_int_equal(pare_program_cache_load(dir, "key-one", &got, &size, &err), PARE_OK);
  assert_int_equal(size, sizeof bin);
  assert_memory_equal(got, bin, sizeof bin);
  free(got);
  /* No entry at all. */
  assert_int_equal(pare_program_cache_load(dir, "key-two", &got, &size, &err), PARE_ERR_IO);
}

/* Rewrites the entry of `key` through `damage` and expects PARE_ERR_FORMAT
 * with `why` in the message. */
static void expect_rejected(const char *key, void (*damage)(unsigned char *, size_t *),
                            const char *why) {
  const unsigned char bin[64] = {1, 2, 3, 4, 5, 6, 7, 8};
  pare_error err;
  assert_int_equal(pare_program_cache_store(dir, key, bin, sizeof bin, &err), PARE_OK);
  char path[512];
  pare_program_cache_path(dir, key, path, sizeof path);
  void *data;
  size_t len;
  assert_int_equal(pare_file_read(path, &data, &len, &err), PARE_OK);
  damage(data, &len);
  assert_int_equal(pare_file_write_atomic(path, data, len, &err), PARE_OK);
  free(data);
  unsigned char *got = NULL;
  size_t size = 0;
  assert_int_equal(pare_program_cache_load(dir, key, &got, &size, &err), PARE_ERR_FORMAT);
  assert_null(got);
  if (!strstr(err.text, why)) fail_msg("expected \"%s\" in \"%s\"", why, err.text);
}

static void flip_payload(unsigned char *d, size_t *len) { d[*len - 3] ^= 0x40; }
static void truncate_payload(unsigned char *d, size_t *len) {
  (void)d;
  *len -= 10;
}
static void truncate_header(unsigned char *d, size_t *len) {
  (void)d;
  *len = 12;
}
static void bad_magic(unsigned char *d, size_t *len) {
  (void)len;
  d[0] = 'X';
}
static void other_key(unsigned char *d, size_t *len) {
  (void)len;
  d[32] ^= 1; /* first byte of the stored key text */
}

static void test_corrupt_entries_rejected(void **state) {
  (void)state;
  expect_rejected("k-flip", flip_payload, "checksum");
  expect_rejected("k-trunc", truncate_payload, "truncated");
  expect_rejected("k-header", truncate_header, "truncated");
  expect_rejected("k-magic", bad_magic, "magic");
  expect_rejected("k-stale", other_key, "stale");
}

static double build_once(int *cached) {
  pare_cl_runtime *rt;
  pare_error err;
  pare_cl_runtime_options opt = {0};
  opt.cache_dir = dir;
  if (pare_cl_runtime_create(&opt, &rt, &err) != PARE_OK) fail_msg("runtime: %s", err.text);
  cl_program prog;
  if (pare_cl_program(rt, PARE_KERNEL_gemm_f32, "-DTRANS_A=0 -DTRANS_B=1", &prog, &err) != PARE_OK)
    fail_msg("build: %s", err.text);
  cl_kernel k;
  assert_int_equal(
      pare_cl_kernel(rt, PARE_KERNEL_gemm_f32, "-DTRANS_A=0 -DTRANS_B=1", "gemm_f32", &k, &err),
      PARE_OK);
  rt->cl->clReleaseKernel(k);
  *cached = rt->last_build_cached;
  double s = rt->last_build_seconds;
  pare_cl_runtime_destroy(rt);
  return s;
}

/* Cold build writes an entry, the next runtime loads it, and a corrupted
 * entry is rebuilt from source and replaced by a good one. */
static void test_cold_warm_corrupt(void **state) {
  (void)state;
  int cached = -1;
  build_once(&cached);
  assert_int_equal(cached, 0);
  build_once(&cached);
  assert_int_equal(cached, 1);

  /* Corrupt every entry in the folder: overwrite bytes in its middle. */
  char cmd[600];
  snprintf(cmd, sizeof cmd,
           "for f in '%s'/*.clbin; do s=$(stat -c %%s \"$f\"); printf 'garbage' | "
           "dd of=\"$f\" bs=1 seek=$((s / 2)) conv=notrunc status=none; done",
           dir);
  assert_int_equal(system(cmd), 0);
  build_once(&cached);
  assert_int_equal(cached, 0); /* rejected, rebuilt */
  build_once(&cached);
  assert_int_equal(cached, 1); /* and the replacement is good */
}

/* Past its bound the cache drops its least recently used entries, a load
 * counting as a use; files that are not entries stay. */
static void test_trim(void **state) {
  (void)state;
  char sub[300];
  snprintf(sub, sizeof sub, "%s/trim", dir);
  setenv("PARE_CACHE_MAX_MB", "0", 1); /* no bound while the entries are written */
  const unsigned char bin[1000] = {7};
  const char *keys[4] = {"trim-0", "trim-1", "trim-2", "trim-3"};
  pare_error err;
  uint64_t entry = 0;
  for (int i = 0; i < 4; i++) {
    assert_int_equal(pare_program_cache_store(sub, keys[i], bin, sizeof bin, &err), PARE_OK);
    char path[512];
    pare_program_cache_path(sub, keys[i], path, sizeof path);
    struct timespec t[2] = {{1000 * (i + 1), 0}, {1000 * (i + 1), 0}}; /* trim-0 the oldest */
    assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    entry = (uint64_t)sb.st_size;
  }
  unsetenv("PARE_CACHE_MAX_MB");
  char other[400];
  snprintf(other, sizeof other, "%s/notes.txt", sub);
  assert_int_equal(pare_file_write_atomic(other, "kept", 4, &err), PARE_OK);
  unsigned char *got = NULL;
  size_t size = 0;
  assert_int_equal(pare_program_cache_load(sub, "trim-0", &got, &size, &err), PARE_OK); /* used */
  free(got);
  /* Room for two entries: trim-1 and trim-2 go. */
  assert_int_equal(pare_program_cache_trim(sub, 2 * entry + entry / 2), 2);
  const pare_status want[4] = {PARE_OK, PARE_ERR_IO, PARE_ERR_IO, PARE_OK};
  for (int i = 0; i < 4; i++) {
    got = NULL;
    assert_int_equal(pare_program_cache_load(sub, keys[i], &got, &size, &err), want[i]);
    free(got);
  }
  assert_int_equal(access(other, F_OK), 0);
  assert_int_equal(pare_program_cache_trim(sub, 1u << 30), 0); /* within the bound */
  assert_int_equal(pare_program_cache_trim(sub, 0), 2);
  assert_int_equal(access(other, F_OK), 0);
  assert_int_equal(pare_program_cache_trim("/nonexistent/pare-cache", 0), -1);
  /* The bound from the environment. */
  setenv("PARE_CACHE_MAX_MB", "3", 1);
  assert_true(pare_program_cache_limit() == (uint64_t)3 << 20);
  setenv("PARE_CACHE_MAX_MB", "lots", 1);
  assert_true(pare_program_cache_limit() == (uint64_t)256 << 20);
  unsetenv("PARE_CACHE_MAX_MB");
  assert_true(pare_program_cache_limit() == (uint64_t)256 << 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_store_load_roundtrip),
      cmocka_unit_test(test_corrupt_entries_rejected),
      cmocka_unit_test(test_cold_warm_corrupt),
      cmocka_unit_test(test_trim),
  };
  return cmocka_run_group_tests_name("program_cache", tests, setup, teardown);
}
