/* The .pare format: import → save → load → run gives bit-identical
 * outputs, and truncated or corrupted .pare and .onnx files give errors,
 * never crashes. Uses models from Debian's ONNX test data. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/exec/exec.h"
#include "engine/io/onnx.h"
#include "engine/io/pare_format.h"
#include "tests/fuzz/regress_inputs.h"
#include "tests/test_util.h"

#ifndef ONNX_TESTDATA
#define ONNX_TESTDATA "/usr/share/libonnx-testdata/data"
#endif

/* Runs g on the case's first data set; outputs into out (caller releases). */
static pare_status run_case(const pare_graph *g, const char *dir, pare_tensor *out, int *n_out) {
  pare_onnx_tensor raw[8];
  pare_tensor in[8];
  int ni = 0;
  pare_error err;
  memset(raw, 0, sizeof raw);
  for (; ni < 8; ni++) {
    char path[600];
    snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, ni);
    struct stat st;
    if (stat(path, &st) != 0) break;
    if (pare_onnx_tensor_read_file(path, &raw[ni], &err) != PARE_OK) return PARE_ERR_FORMAT;
    memset(&in[ni], 0, sizeof in[ni]);
    in[ni].dtype = raw[ni].dtype;
    in[ni].rank = raw[ni].rank;
    memcpy(in[ni].dims, raw[ni].dims, sizeof in[ni].dims);
    in[ni].data = raw[ni].data;
    in[ni].nbytes = raw[ni].nbytes;
  }
  pare_plan *p = NULL;
  pare_status s = pare_plan_create(g, in, ni, &p, &err);
  if (s == PARE_OK) s = pare_plan_run_ref(p, in, ni, out, &err);
  pare_plan_destroy(p);
  for (int i = 0; i < 8; i++) free(raw[i].data);
  *n_out = g->n_outputs;
  return s;
}

static void test_roundtrip_bit_identical(void **state) {
  (void)state;
  const char *root = ONNX_TESTDATA "/pytorch-converted";
  DIR *d = opendir(root);
  if (!d) skip();
  struct dirent *e;
  int checked = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char dir[512], model[600];
    snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    pare_graph *g = NULL;
    pare_error err;
    if (pare_onnx_import_file(model, &g, &err) != PARE_OK) continue;
    pare_tensor a[8], b[8];
    int na = 0, nb = 0;
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    if (run_case(g, dir, a, &na) != PARE_OK) {
      pare_graph_destroy(g);
      continue;
    }
    void *buf;
    size_t size;
    assert_int_equal(pare_format_write_buffer(g, &buf, &size, &err), PARE_OK);
    pare_graph *h = NULL;
    if (pare_format_read_buffer(buf, size, "roundtrip", &h, &err) != PARE_OK)
      fail_msg("%s: %s", e->d_name, err.text);
    assert_int_equal(run_case(h, dir, b, &nb), PARE_OK);
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
      assert_int_equal(a[i].nbytes, b[i].nbytes);
      if (memcmp(a[i].data, b[i].data, a[i].nbytes))
        fail_msg("%s: output %d differs", e->d_name, i);
      pare_tensor_release(&a[i]);
      pare_tensor_release(&b[i]);
    }
    /* Saving the loaded graph again gives the same bytes. */
    void *buf2;
    size_t size2;
    assert_int_equal(pare_format_write_buffer(h, &buf2, &size2, &err), PARE_OK);
    assert_int_equal(size, size2);
    assert_memory_equal(buf, buf2, size);
    free(buf);
    free(buf2);
    pare_graph_destroy(g);
    pare_graph_destroy(h);
    checked++;
  }
  closedir(d);
  assert_true(checked >= 5);
}

/* Loading from a file maps it: same outputs as the buffer reader. */
static void test_mapped_load(void **state) {
  (void)state;
  const char *dir = ONNX_TESTDATA "/pytorch-converted/test_Conv2d";
  pare_graph *g = NULL, *h = NULL;
  pare_error err;
  char model[600], path[] = "/tmp/pare-format-test-XXXXXX";
  snprintf(model, sizeof model, "%s/model.onnx", dir);
  if (pare_onnx_import_file(model, &g, &err) != PARE_OK) skip();
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(pare_format_save(g, path, &err), PARE_OK);
  assert_int_equal(pare_format_load(path, &h, &err), PARE_OK);
  assert_non_null(h->mapping);
  pare_tensor a[8], b[8];
  int na = 0, nb = 0;
  assert_int_equal(run_case(g, dir, a, &na), PARE_OK);
  assert_int_equal(run_case(h, dir, b, &nb), PARE_OK);
  assert_memory_equal(a[0].data, b[0].data, a[0].nbytes);
  pare_tensor_release(&a[0]);
  pare_tensor_release(&b[0]);
  pare_graph_destroy(g);
  pare_graph_destroy(h);
  unlink(path);
}

/* A .pare buffer of a real model. */
/* A small model as .pare, its tables deflated or not. */
static void model_buffer_tables(int deflate_tables, void **buf, size_t *size) {
  pare_graph *g = NULL;
  pare_error err;
  const char *path = ONNX_TESTDATA "/pytorch-converted/test_Linear/model.onnx";
  if (pare_onnx_import_file(path, &g, &err) != PARE_OK) fail_msg("%s", err.text);
  assert_int_equal(pare_format_write_buffer_tables(g, deflate_tables, buf, size, &err), PARE_OK);
  pare_graph_destroy(g);
}

static void model_buffer(void **buf, size_t *size) { model_buffer_tables(0, buf, size); }

/* Section table entry i of a .pare buffer: offset 64 + 32·i; fields kind,
 * crc (u32), offset, size, inflated (u64). */
static uint64_t section_field(const unsigned char *b, int i, int field) {
  uint64_t v;
  memcpy(&v, b + 64 + 32 * i + 8 + 8 * field, 8);
  return v;
}

static void set_section_field(unsigned char *b, int i, int field, uint64_t v) {
  memcpy(b + 64 + 32 * i + 8 + 8 * field, &v, 8);
}

/* Version 3: the tensor table and graph stored deflated load as the plain
 * ones do; a deflated section that lies about its size, a zip bomb claim,
 * a deflated DATA section and a version 2 file with the field set are
 * refused, each with its reason. */
static void test_deflated_tables(void **state) {
  (void)state;
  void *plain, *packed;
  size_t plain_size, packed_size;
  model_buffer_tables(0, &plain, &plain_size);
  model_buffer_tables(1, &packed, &packed_size);
  unsigned char *b = packed;
  assert_true(packed_size < plain_size);
  uint32_t version;
  memcpy(&version, b + 8, 4);
  assert_int_equal(version, 3);
  assert_true(section_field(b, 0, 2) > section_field(b, 0, 1)); /* VALUES inflates */
  assert_int_equal(section_field(b, 2, 2), 0);                  /* DATA never */
  pare_graph *g1 = NULL, *g2 = NULL;
  pare_error err;
  assert_int_equal(pare_format_read_buffer(plain, plain_size, "plain", &g1, &err), PARE_OK);
  assert_int_equal(pare_format_read_buffer(packed, packed_size, "packed", &g2, &err), PARE_OK);
  assert_int_equal(g1->n_values, g2->n_values);
  assert_int_equal(g1->n_nodes, g2->n_nodes);
  for (int i = 0; i < g1->n_values; i++) {
    assert_string_equal(g1->values[i].name, g2->values[i].name);
    assert_int_equal(g1->values[i].nbytes, g2->values[i].nbytes);
    if (g1->values[i].nbytes)
      assert_memory_equal(g1->values[i].data, g2->values[i].data, g1->values[i].nbytes);
  }
  pare_graph_destroy(g1);
  pare_graph_destroy(g2);
  unsigned char *copy = malloc(packed_size);
  const struct {
    int section, field;
    uint64_t value; /* 0: the field + 1 */
    const char *why;
  } lies[] = {{0, 2, 0, "does not inflate"},
              {1, 2, 1, "does not inflate"},
              {0, 2, 1ull << 40, "claims"},
              {2, 2, 5, "DATA section cannot be deflated"}};
  for (size_t k = 0; k < sizeof lies / sizeof lies[0]; k++) {
    memcpy(copy, packed, packed_size);
    uint64_t v = lies[k].value ? lies[k].value : section_field(copy, lies[k].section, 2) + 1;
    set_section_field(copy, lies[k].section, lies[k].field, v);
    pare_format_reseal(copy, packed_size);
    pare_graph *g = NULL;
    assert_int_equal(pare_format_read_buffer(copy, packed_size, "lie", &g, &err), PARE_ERR_FORMAT);
    assert_null(g);
    if (!strstr(err.text, lies[k].why)) fail_msg("case %zu: '%s'", k, err.text);
  }
  /* The same field set in a version 2 file. */
  memcpy(copy, packed, packed_size);
  uint32_t v2 = 2;
  memcpy(copy + 8, &v2, 4);
  pare_format_reseal(copy, packed_size);
  pare_graph *g = NULL;
  assert_int_equal(pare_format_read_buffer(copy, packed_size, "v2", &g, &err), PARE_ERR_FORMAT);
  assert_non_null(strstr(err.text, "reserved"));
  free(copy);
  free(plain);
  free(packed);
}

/* `rounds` copies of buf, each with 1-3 random bytes changed (three rounds
 * in four within the first `near` bytes, else anywhere) and its CRCs
 * recomputed, read back: an error or a valid graph, never a crash. */
static void damage_behind_crc(const void *buf, size_t size, int rounds, size_t near, test_rng *r) {
  unsigned char *copy = malloc(size);
  assert_non_null(copy);
  for (int i = 0; i < rounds; i++) {
    memcpy(copy, buf, size);
    size_t span = i % 4 ? (size < near ? size : near) : size;
    for (int k = 0; k < 1 + i % 3; k++)
      copy[test_rng_below(r, span)] = (unsigned char)test_rng_next(r);
    pare_format_reseal(copy, size);
    pare_graph *g = NULL;
    pare_error err;
    if (pare_format_read_buffer(copy, size, "damaged", &g, &err) == PARE_OK) pare_graph_destroy(g);
  }
  free(copy);
}

static void test_truncated_and_flipped_pare(void **state) {
  (void)state;
  void *buf;
  size_t size;
  model_buffer(&buf, &size);
  pare_error err;
  pare_graph *g = NULL;
  for (size_t cut = 0; cut < size; cut += 1 + cut / 64) {
    assert_int_not_equal(pare_format_read_buffer(buf, cut, "cut", &g, &err), PARE_OK);
    assert_null(g);
  }
  /* A flipped bit anywhere fails the checksum. */
  unsigned char *copy = malloc(size);
  test_rng r = {99};
  for (int i = 0; i < 200; i++) {
    memcpy(copy, buf, size);
    size_t at = test_rng_below(&r, size);
    copy[at] ^= (unsigned char)(1u << test_rng_below(&r, 8));
    assert_int_not_equal(pare_format_read_buffer(copy, size, "flip", &g, &err), PARE_OK);
  }
  free(copy);
  /* Damage behind a recomputed checksum must still be caught by the parser
   * (or parse into a valid graph), never crash: mostly in the first 2 KiB
   * (the tensor table and graph follow the header and section table). */
  damage_behind_crc(buf, size, 3000, 2048, &r);
  free(buf);
  /* The same with deflated tables: zlib and the inflated-size checks see
   * the damage first. */
  model_buffer_tables(1, &buf, &size);
  damage_behind_crc(buf, size, 1000, 512, &r);
  free(buf);
}

static void test_truncated_and_flipped_onnx(void **state) {
  (void)state;
  void *buf;
  size_t size;
  pare_error err;
  const char *path = ONNX_TESTDATA "/pytorch-converted/test_Conv2d/model.onnx";
  if (pare_file_read(path, &buf, &size, &err) != PARE_OK) skip();
  unsigned char *copy = malloc(size);
  test_rng r = {7};
  pare_graph *g = NULL;
  for (size_t cut = 0; cut < size; cut += 1 + cut / 32) {
    if (pare_onnx_import_buffer(buf, cut, NULL, "cut", &g, &err) == PARE_OK) pare_graph_destroy(g);
    g = NULL;
  }
  for (int i = 0; i < 2000; i++) {
    memcpy(copy, buf, size);
    for (int k = 0; k < 3; k++) copy[test_rng_below(&r, size)] ^= (unsigned char)test_rng_next(&r);
    if (pare_onnx_import_buffer(copy, size, NULL, "flip", &g, &err) == PARE_OK)
      pare_graph_destroy(g);
    g = NULL;
  }
  free(copy);
  free(buf);
}

/* Plans and runs g once with zero inputs of its declared shapes: the
 * status of the plan, or of the run when planned. */
static pare_status run_with_zeros(const pare_graph *g) {
  pare_tensor in[8];
  memset(in, 0, sizeof in);
  assert_true(g->n_inputs <= 8);
  for (int i = 0; i < g->n_inputs; i++) {
    const pare_value *v = &g->values[g->inputs[i]];
    assert_true(pare_value_numel(v) >= 0 && pare_value_numel(v) < 1000000);
    in[i].dtype = v->dtype;
    in[i].rank = v->rank;
    memcpy(in[i].dims, v->dims, sizeof in[i].dims);
    in[i].nbytes = pare_dtype_bytes(v->dtype, (size_t)pare_value_numel(v));
    in[i].data = calloc(1, in[i].nbytes ? in[i].nbytes : 1);
    in[i].owns = 1;
  }
  pare_error err;
  pare_plan *p = NULL;
  pare_tensor out[8];
  memset(out, 0, sizeof out);
  assert_true(g->n_outputs <= 8);
  pare_status st = pare_plan_create(g, in, g->n_inputs, &p, &err);
  if (st == PARE_OK) st = pare_plan_run_ref(p, in, g->n_inputs, out, &err);
  if (st == PARE_OK)
    for (int i = 0; i < g->n_outputs; i++) pare_tensor_release(&out[i]);
  pare_plan_destroy(p);
  for (int i = 0; i < g->n_inputs; i++) pare_tensor_release(&in[i]);
  return st;
}

/* Crashes the fuzz targets found (tests/fuzz/regress_inputs.h). */
static void test_fuzz_regressions(void **state) {
  (void)state;
  pare_graph *g = NULL;
  pare_error err;
  /* ONNX models: each imports, then planning and running it gives the
   * expected status (under ASan/UBSan: and nothing worse). */
  const struct {
    const unsigned char *bytes;
    size_t size;
    int runs; /* 1: plans and runs; 0: refused with an error */
  } onnx[] = {
      /* Slice with non-constant starts and given axes: an error, no overflow. */
      {fuzz_onnx_slice_axes, sizeof fuzz_onnx_slice_axes, 0},
      /* QLinearMatMul with all scales zero: outputs saturate, no NaN cast. */
      {fuzz_onnx_qlinear_zero_scale, sizeof fuzz_onnx_qlinear_zero_scale, 1},
      /* A weight zero point of the wrong count: refused when planned. */
      {fuzz_onnx_zero_point_count, sizeof fuzz_onnx_zero_point_count, 0},
      /* A node without an output: refused when planned. */
      {fuzz_onnx_no_output, sizeof fuzz_onnx_no_output, 0},
  };
  for (size_t k = 0; k < sizeof onnx / sizeof onnx[0]; k++) {
    g = NULL;
    assert_int_equal(pare_onnx_import_buffer(onnx[k].bytes, onnx[k].size, NULL, "fuzz", &g, &err),
                     PARE_OK);
    pare_status st = run_with_zeros(g);
    if (onnx[k].runs)
      assert_int_equal(st, PARE_OK);
    else
      assert_int_not_equal(st, PARE_OK);
    pare_graph_destroy(g);
  }
  /* A sparse constant claiming petabytes: refused before any allocation. */
  unsigned char copy[sizeof fuzz_pare_sparse_huge];
  memcpy(copy, fuzz_pare_sparse_huge, sizeof copy);
  pare_format_reseal(copy, sizeof copy);
  g = NULL;
  assert_int_equal(pare_format_read_buffer(copy, sizeof copy, "fuzz", &g, &err), PARE_ERR_FORMAT);
  assert_non_null(strstr(err.text, "PARE_MAX_TENSOR_BYTES"));
  /* An external-data TensorProto claiming 300 GB: refused by its shape. */
  char path[] = "/tmp/pare-test-pb-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, fuzz_pb_external_huge, sizeof fuzz_pb_external_huge),
                   (ssize_t)sizeof fuzz_pb_external_huge);
  close(fd);
  pare_onnx_tensor t;
  assert_int_not_equal(pare_onnx_tensor_read_file(path, &t, &err), PARE_OK);
  assert_non_null(strstr(err.text, "PARE_MAX_TENSOR_BYTES"));
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fuzz_regressions),
      cmocka_unit_test(test_roundtrip_bit_identical),
      cmocka_unit_test(test_truncated_and_flipped_pare),
      cmocka_unit_test(test_deflated_tables),
      cmocka_unit_test(test_mapped_load),
      cmocka_unit_test(test_truncated_and_flipped_onnx),
  };
  return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
