/* Device families detected from what drivers report, and profiles that
 * layer over generic. */
#include <string.h>

#include "host/profile.h"
#include "tests/test_util.h"

static void expect_family(const char *platform, const char *name, const char *vendor, int cpu,
                          const char *family, const char *profile) {
  pare_family f = pare_family_detect(platform, name, vendor, cpu);
  if (strcmp(f.family, family) || strcmp(f.profile, profile))
    fail_msg("\"%s\": got %s/%s, want %s/%s", name, f.family, f.profile, family, profile);
  assert_non_null(pare_profile_find(f.profile));
}

static void test_family_detection(void **state) {
  (void)state;
  expect_family("ARM Platform", "Mali-G78", "ARM", 0, "mali-valhall", "mali_valhall");
  expect_family("ARM Platform", "Mali-G710 r0p0", "ARM", 0, "mali-valhall", "mali_valhall");
  expect_family("ARM Platform", "Mali-G57 MC2", "ARM", 0, "mali-valhall", "mali_valhall");
  expect_family("ARM Platform", "Mali-G76 MP10", "ARM", 0, "mali-bifrost", "mali_bifrost");
  expect_family("ARM Platform", "Mali-G52", "ARM", 0, "mali-bifrost", "mali_bifrost");
  expect_family("ARM Platform", "Mali-T860", "ARM", 0, "mali-midgard", "mali_midgard");
  expect_family("QUALCOMM Snapdragon(TM)", "QUALCOMM Adreno(TM) 640", "QUALCOMM", 0, "adreno-6xx",
                "adreno_6xx");
  expect_family("QUALCOMM Snapdragon(TM)", "QUALCOMM Adreno(TM) 740", "QUALCOMM", 0, "adreno-7xx",
                "adreno_7xx");
  expect_family("QUALCOMM Snapdragon(TM)", "QUALCOMM Adreno(TM) 530", "QUALCOMM", 0, "adreno-5xx",
                "adreno_5xx");
  expect_family("NVIDIA CUDA", "NVIDIA H200", "NVIDIA Corporation", 0, "nvidia", "nvidia");
  expect_family("AMD Accelerated Parallel Processing", "gfx1030", "Advanced Micro Devices, Inc.", 0,
                "amd", "amd");
  expect_family("Intel(R) OpenCL HD Graphics", "Intel(R) UHD Graphics 620", "Intel(R) Corporation",
                0, "intel-gpu", "intel_gpu");
  expect_family("Portable Computing Language", "pthread-haswell-Intel", "GenuineIntel", 1,
                "cpu-pocl", "pocl");
  expect_family("Some Vendor", "Mystery GPU", "Unknown", 0, "generic", "generic");
  expect_family("Some Vendor", "Mystery CPU", "Unknown", 1, "cpu", "cpu");
}

static void test_profiles_layer(void **state) {
  (void)state;
  const pare_profile *generic = pare_profile_find("generic");
  const pare_profile *pocl = pare_profile_find("pocl");
  assert_non_null(generic);
  assert_non_null(pocl);
  assert_null(pare_profile_find("no-such-profile"));
  /* Every profile resolves every parameter generic defines, and its chain
   * ends at generic. */
  for (const pare_profile *const *p = pare_profile_all(); *p; p++) {
    const pare_profile *q = *p;
    int depth = 0;
    while (q->parent && depth < 16) {
      q = pare_profile_find(q->parent);
      assert_non_null(q);
      depth++;
    }
    assert_string_equal(q->name, "generic");
    for (int i = 0; generic->params[i].key; i++)
      assert_int_not_equal(pare_profile_int(*p, generic->params[i].key, -12345), -12345);
  }
  /* An override wins over generic; an unset key falls back. */
  assert_int_equal(pare_profile_int(pocl, "gemm_f32.wg0", -1),
                   pare_profile_int(pare_profile_find("cpu"), "gemm_f32.wg0", -2));
  assert_int_equal(pare_profile_int(pocl, "no.such.key", 77), 77);
  /* Build options concatenate along the chain, generic's first. */
  static const pare_profile parent = {"t_parent", "generic", "-DA=1", "", {{NULL, 0}}};
  char opts[256];
  pare_profile_build_options(&parent, opts, sizeof opts);
  assert_string_equal(opts, "-DA=1");
  assert_int_equal(pare_profile_int(&parent, "gemm_f32.tm", -1),
                   pare_profile_int(generic, "gemm_f32.tm", -2));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_family_detection),
      cmocka_unit_test(test_profiles_layer),
  };
  return cmocka_run_group_tests_name("profile", tests, NULL, NULL);
}
