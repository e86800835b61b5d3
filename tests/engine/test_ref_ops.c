#define _DEFAULT_SOURCE
/* The reference operators checked against values worked out by hand, the
 * expected outputs of ONNX's own node tests, and naive formulas written
 * here independently of engine/ref (im2col + GEMM, explicit scatter,
 * explicitly padded pooling windows). */
#include <string.h>

#include "engine/ref/ops.h"
#include "tests/test_util.h"

static float *iota_new(size_t n, float start) {
  float *v = malloc(n * sizeof *v);
  assert_non_null(v);
  for (size_t i = 0; i < n; i++) v[i] = start + (float)i;
  return v;
}

/* ---- Conv ---- */

/* A 2D conv case for the im2col oracle; 1D cases use h = kh = 1. */
typedef struct conv_case {
  int64_t n, c, h, w, m, kh, kw, group, sh, sw, dh, dw, pt, pl, pb, pr;
} conv_case;

/* Conv as im2col + GEMM: for each image and group, gather the padded input
 * patches into columns [C/group·kh·kw, oh·ow] and multiply by the weights. */
static void conv_oracle(const conv_case *q, const float *x, const float *w, const float *bias,
                        int64_t oh, int64_t ow, float *y) {
  int64_t cg = q->c / q->group, mg = q->m / q->group, rows = cg * q->kh * q->kw;
  float *col = malloc((size_t)(rows * oh * ow) * sizeof *col);
  assert_non_null(col);
  for (int64_t n = 0; n < q->n; n++) {
    for (int64_t g = 0; g < q->group; g++) {
      for (int64_t r = 0; r < rows; r++) {
        int64_t c = r / (q->kh * q->kw), ki = (r / q->kw) % q->kh, kj = r % q->kw;
        for (int64_t p = 0; p < oh * ow; p++) {
          int64_t ih = (p / ow) * q->sh + ki * q->dh - q->pt;
          int64_t iw = (p % ow) * q->sw + kj * q->dw - q->pl;
          int inside = ih >= 0 && ih < q->h && iw >= 0 && iw < q->w;
          col[r * oh * ow + p] =
              inside ? x[((n * q->c + g * cg + c) * q->h + ih) * q->w + iw] : 0.0f;
        }
      }
      for (int64_t m = 0; m < mg; m++) {
        for (int64_t p = 0; p < oh * ow; p++) {
          double acc = bias ? bias[g * mg + m] : 0.0;
          for (int64_t r = 0; r < rows; r++)
            acc += (double)w[(g * mg + m) * rows + r] * col[r * oh * ow + p];
          y[((n * q->m + g * mg + m) * oh) * ow + p] = (float)acc;
        }
      }
    }
  }
  free(col);
}

/* Runs one conv case through pare_ref_conv_f32 (as 1D when is_1d) and the
 * oracle and compares. */
static void check_conv_case(const conv_case *q, int is_1d, test_rng *rng) {
  int64_t cg = q->c / q->group;
  size_t nx = (size_t)(q->n * q->c * q->h * q->w), nw = (size_t)(q->m * cg * q->kh * q->kw);
  float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), bias[64];
  assert_non_null(x);
  assert_non_null(w);
  test_fill(rng, x, nx, -1.0f, 1.0f);
  test_fill(rng, w, nw, -1.0f, 1.0f);
  test_fill(rng, bias, (size_t)q->m, -1.0f, 1.0f);
  pare_ref_conv_params p;
  pare_ref_conv_params_init(&p, is_1d ? 1 : 2);
  int64_t xd[4], wd[4], yd[4];
  if (is_1d) {
    int64_t xd1[] = {q->n, q->c, q->w}, wd1[] = {q->m, cg, q->kw};
    memcpy(xd, xd1, sizeof xd1);
    memcpy(wd, wd1, sizeof wd1);
    p.win.strides[0] = q->sw;
    p.win.dilations[0] = q->dw;
    p.win.pads[0] = q->pl;
    p.win.pads[1] = q->pr;
  } else {
    int64_t xd2[] = {q->n, q->c, q->h, q->w}, wd2[] = {q->m, cg, q->kh, q->kw};
    memcpy(xd, xd2, sizeof xd2);
    memcpy(wd, wd2, sizeof wd2);
    int64_t s[] = {q->sh, q->sw}, d[] = {q->dh, q->dw}, pads[] = {q->pt, q->pl, q->pb, q->pr};
    memcpy(p.win.strides, s, sizeof s);
    memcpy(p.win.dilations, d, sizeof d);
    memcpy(p.win.pads, pads, sizeof pads);
  }
  p.group = q->group;
  int64_t oh = (q->h + q->pt + q->pb - (q->kh - 1) * q->dh - 1) / q->sh + 1;
  int64_t ow = (q->w + q->pl + q->pr - (q->kw - 1) * q->dw - 1) / q->sw + 1;
  size_t ny = (size_t)(q->n * q->m * oh * ow);
  float *y = malloc(ny * sizeof *y), *want = malloc(ny * sizeof *want);
  assert_non_null(y);
  assert_non_null(want);
  assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, bias, y, yd), PARE_REF_OK);
  assert_int_equal(yd[0], q->n);
  assert_int_equal(yd[1], q->m);
  assert_int_equal(yd[is_1d ? 2 : 3], ow);
  if (!is_1d) assert_int_equal(yd[2], oh);
  conv_oracle(q, x, w, bias, oh, ow, want);
  test_assert_close(y, want, ny, 1e-5, "conv");
  free(x);
  free(w);
  free(y);
  free(want);
}

static void test_conv_vs_im2col(void **state) {
  (void)state;
  test_rng rng = {0x9e3779b97f4a7c15u};
  const conv_case cases[] = {
      /* n  c  h  w  m kh kw g sh sw dh dw pt pl pb pr */
      {2, 3, 7, 5, 4, 3, 2, 1, 2, 3, 1, 2, 1, 0, 2, 1},   /* strides, dilation, asym pads */
      {1, 4, 5, 6, 8, 3, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1},   /* depthwise, multiplier 2 */
      {1, 6, 7, 7, 4, 3, 3, 2, 2, 2, 2, 2, 2, 1, 0, 3},   /* grouped, dilated */
      {1, 1, 1, 1, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* 1x1 input, pad 1 */
      {1, 2, 11, 13, 5, 2, 2, 1, 3, 5, 1, 1, 0, 0, 0, 0}, /* stride > kernel */
      {3, 5, 1, 1, 7, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},   /* 1x1 conv on 1x1 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_conv_case(&cases[i], 0, &rng);
  /* 1D: the oracle sees the same data as a 2D problem with height 1. */
  const conv_case cases1[] = {
      {2, 3, 1, 17, 4, 1, 3, 1, 1, 2, 1, 3, 0, 2, 0, 1},
      {1, 4, 1, 5, 4, 1, 2, 4, 1, 3, 1, 1, 0, 1, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases1 / sizeof cases1[0]; i++)
    check_conv_case(&cases1[i], 1, &rng);
}

static void test_conv_onnx_and_auto_pad(void **state) {
  (void)state;
  /* ONNX test_conv_with_strides_and_asymmetric_padding. */
  float *x = iota_new(35, 0.0f), w[9], y[8];
  for (int i = 0; i < 9; i++) w[i] = 1.0f;
  pare_ref_conv_params p;
  pare_ref_conv_params_init(&p, 2);
  int64_t xd[] = {1, 1, 7, 5}, wd[] = {1, 1, 3, 3}, yd[4];
  int64_t pads[] = {1, 0, 1, 0};
  memcpy(p.win.pads, pads, sizeof pads);
  p.win.strides[0] = p.win.strides[1] = 2;
  assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, NULL, y, yd), PARE_REF_OK);
  const float want[] = {21, 33, 99, 117, 189, 207, 171, 183};
  assert_memory_equal(y, want, sizeof want);
  assert_true(yd[2] == 4 && yd[3] == 2);
  free(x);

  /* The pads resolver: in 4, kernel 3, stride 2 gives out 2 and total pad 1. */
  pare_ref_window win;
  pare_ref_window_init(&win, 2);
  win.kernel[0] = win.kernel[1] = 3;
  win.strides[0] = win.strides[1] = 2;
  int64_t in[] = {4, 5}, out[2], rp[4];
  win.auto_pad = PARE_REF_AUTO_PAD_SAME_UPPER;
  assert_int_equal(pare_ref_window_out_dims(&win, in, 0, out, rp), PARE_REF_OK);
  assert_true(out[0] == 2 && out[1] == 3);
  assert_true(rp[0] == 0 && rp[2] == 1 && rp[1] == 1 && rp[3] == 1);
  win.auto_pad = PARE_REF_AUTO_PAD_SAME_LOWER;
  assert_int_equal(pare_ref_window_out_dims(&win, in, 0, out, rp), PARE_REF_OK);
  assert_true(rp[0] == 1 && rp[2] == 0 && rp[1] == 1 && rp[3] == 1);
  win.auto_pad = PARE_REF_AUTO_PAD_VALID;
  assert_int_equal(pare_ref_window_out_dims(&win, in, 1, out, rp), PARE_REF_OK);
  assert_true(out[0] == 1 && out[1] == 2 && rp[0] == 0 && rp[3] == 0);
  /* Large kernel with dilation: SAME pads (eff. kernel 5 on in 4: total 4). */
  win.auto_pad = PARE_REF_AUTO_PAD_SAME_UPPER;
  win.dilations[0] = 2;
  win.strides[0] = 1;
  assert_int_equal(pare_ref_window_out_dims(&win, in, 0, out, rp), PARE_REF_OK);
  assert_true(out[0] == 4 && rp[0] == 2 && rp[2] == 2);

  /* SAME_UPPER conv equals the explicit conv with the resolved pads. */
  test_rng rng = {12345};
  float xs[2 * 9 * 10], ws[3 * 2 * 4 * 3], y1[3 * 5 * 4], y2[3 * 5 * 4];
  test_fill(&rng, xs, sizeof xs / sizeof xs[0], -1, 1);
  test_fill(&rng, ws, sizeof ws / sizeof ws[0], -1, 1);
  int64_t xd2[] = {1, 2, 9, 10}, wd2[] = {3, 2, 4, 3}, yd1[4], yd2[4];
  pare_ref_conv_params_init(&p, 2);
  p.win.strides[0] = 2;
  p.win.strides[1] = 3;
  p.win.auto_pad = PARE_REF_AUTO_PAD_SAME_LOWER;
  assert_int_equal(pare_ref_conv_f32(&p, xs, xd2, ws, wd2, NULL, y1, yd1), PARE_REF_OK);
  assert_true(yd1[2] == 5 && yd1[3] == 4);
  /* h: total = 4·2 + 4 - 9 = 3 → begin 2, end 1; w: total = 3·3 + 3 - 10 = 2. */
  p.win.auto_pad = PARE_REF_AUTO_PAD_NOTSET;
  int64_t pads2[] = {2, 1, 1, 1};
  memcpy(p.win.pads, pads2, sizeof pads2);
  assert_int_equal(pare_ref_conv_f32(&p, xs, xd2, ws, wd2, NULL, y2, yd2), PARE_REF_OK);
  assert_memory_equal(y1, y2, sizeof y1);
}

static void test_conv_invalid(void **state) {
  (void)state;
  pare_ref_conv_params p;
  float x[16] = {0}, w[16] = {0}, y[64];
  int64_t xd[] = {1, 2, 2, 2}, wd[] = {2, 2, 2, 2}, yd[4];
  pare_ref_conv_params_init(&p, 2);
  assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, NULL, y, yd), PARE_REF_OK);
  p.win.strides[1] = 0;
  assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, NULL, y, yd), PARE_REF_EINVAL);
  p.win.strides[1] = -2;
  assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, NULL, y, yd), PARE_REF_EINVAL);
  pare_ref_conv_params_init(&p, 2);
  p.win.dilations[0] = 2; /* effective kernel 3 > input 2 */
  assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, NULL, y, yd), PARE_REF_EINVAL);
  pare_ref_conv_params_init(&p, 2);
  p.group = 2; /* weight has C/group = 2 but should have 1 */
  assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, NULL, y, yd), PARE_REF_EINVAL);
  p.group = 0;
  assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, NULL, y, yd), PARE_REF_EINVAL);
  pare_ref_conv_params_init(&p, 2);
  p.win.kernel[0] = 3; /* kernel_shape disagrees with the weight */
  assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, NULL, y, yd), PARE_REF_EINVAL);
  pare_ref_conv_params_init(&p, 2);
  p.win.pads[0] = -1;
  assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, NULL, y, yd), PARE_REF_EINVAL);
  pare_ref_conv_params_init(&p, 4);
  assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, NULL, y, yd), PARE_REF_EINVAL);
}

/* ---- ConvTranspose ---- */

/* ConvTranspose by explicit scatter into the full (unpadded) output, then
 * a crop of [pad_begin, pad_begin + out) per axis (zeros past the end). */
static void conv_transpose_oracle(const float *x, const int64_t *xd, const float *w,
                                  const int64_t *wd, int64_t group, const int64_t *s,
                                  const int64_t *d, const int64_t *pb, const int64_t *op,
                                  const int64_t *out, const float *bias, float *y) {
  int64_t c = xd[1], cg = c / group, mg = wd[1], m_all = mg * group;
  int64_t fh = s[0] * (xd[2] - 1) + (wd[2] - 1) * d[0] + 1 + op[0];
  int64_t fw = s[1] * (xd[3] - 1) + (wd[3] - 1) * d[1] + 1 + op[1];
  double *full = calloc((size_t)(xd[0] * m_all * fh * fw), sizeof *full);
  assert_non_null(full);
  for (int64_t n = 0; n < xd[0]; n++)
    for (int64_t ci = 0; ci < c; ci++)
      for (int64_t i = 0; i < xd[2]; i++)
        for (int64_t j = 0; j < xd[3]; j++)
          for (int64_t mm = 0; mm < mg; mm++)
            for (int64_t ki = 0; ki < wd[2]; ki++)
              for (int64_t kj = 0; kj < wd[3]; kj++) {
                int64_t m = (ci / cg) * mg + mm;
                int64_t oi = i * s[0] + ki * d[0], oj = j * s[1] + kj * d[1];
                full[((n * m_all + m) * fh + oi) * fw + oj] +=
                    (double)x[((n * c + ci) * xd[2] + i) * xd[3] + j] *
                    w[((ci * mg + mm) * wd[2] + ki) * wd[3] + kj];
              }
  for (int64_t n = 0; n < xd[0]; n++)
    for (int64_t m = 0; m < m_all; m++)
      for (int64_t i = 0; i < out[0]; i++)
        for (int64_t j = 0; j < out[1]; j++) {
          int64_t fi = i + pb[0], fj = j + pb[1];
          double v = bias ? bias[m] : 0.0;
          if (fi >= 0 && fi < fh && fj >= 0 && fj < fw)
            v += full[((n * m_all + m) * fh + fi) * fw + fj];
          y[((n * m_all + m) * out[0] + i) * out[1] + j] = (float)v;
        }
  free(full);
}

static void test_conv_transpose(void **state) {
  (void)state;
  /* ONNX test_convtranspose_dilations. */
  const float x1[] = {3, 8, 1, 9, 5, 7, 3, 2, 6}, w1[] = {7, 2, 1, 9};
  int64_t xd1[] = {1, 1, 3, 3}, wd1[] = {1, 1, 2, 2}, yd[4], pads[4];
  float y[2 * 10 * 8];
  pare_ref_conv_transpose_params p;
  pare_ref_conv_transpose_params_init(&p, 2);
  p.win.dilations[0] = p.win.dilations[1] = 2;
  assert_int_equal(pare_ref_conv_transpose_f32(&p, x1, xd1, w1, wd1, NULL, y, yd), PARE_REF_OK);
  const float want1[] = {21, 56, 13, 16, 2,  63, 35, 67, 10, 14, 24, 22, 76,
                         76, 21, 9,  5,  88, 45, 63, 3,  2,  33, 18, 54};
  assert_true(yd[2] == 5 && yd[3] == 5);
  assert_memory_equal(y, want1, sizeof want1);

  /* ONNX test_convtranspose_output_shape: strides [3, 2], output_shape
   * [10, 8] gives total padding -1 per axis, i.e. pads (0, 0, -1, -1). */
  float *x2 = iota_new(9, 0.0f), w2[18];
  for (int i = 0; i < 18; i++) w2[i] = 1.0f;
  int64_t wd2[] = {1, 2, 3, 3};
  pare_ref_conv_transpose_params_init(&p, 2);
  p.win.strides[0] = 3;
  p.win.strides[1] = 2;
  p.has_output_shape = 1;
  p.output_shape[0] = 10;
  p.output_shape[1] = 8;
  assert_int_equal(pare_ref_conv_transpose_shape(&p, xd1, wd2, yd, pads), PARE_REF_OK);
  assert_true(yd[1] == 2 && yd[2] == 10 && yd[3] == 8);
  assert_true(pads[0] == 0 && pads[1] == 0 && pads[2] == -1 && pads[3] == -1);
  assert_int_equal(pare_ref_conv_transpose_f32(&p, x2, xd1, w2, wd2, NULL, y, NULL), PARE_REF_OK);
  const float row0[] = {0, 0, 1, 1, 3, 2, 2, 0}, row3[] = {3, 3, 7, 4, 9, 5, 5, 0};
  const float row6[] = {6, 6, 13, 7, 15, 8, 8, 0}, row9[8] = {0};
  for (int ch = 0; ch < 2; ch++) {
    for (int r = 0; r < 3; r++) {
      assert_memory_equal(y + ch * 80 + r * 8, row0, sizeof row0);
      assert_memory_equal(y + ch * 80 + (3 + r) * 8, row3, sizeof row3);
      assert_memory_equal(y + ch * 80 + (6 + r) * 8, row6, sizeof row6);
    }
    assert_memory_equal(y + ch * 80 + 72, row9, sizeof row9);
  }
  /* ONNX test_convtranspose_autopad_same: SAME_UPPER, strides 2 → 6x6 and
   * the odd padding goes to the end. */
  pare_ref_conv_transpose_params_init(&p, 2);
  p.win.strides[0] = p.win.strides[1] = 2;
  p.win.auto_pad = PARE_REF_AUTO_PAD_SAME_UPPER;
  assert_int_equal(pare_ref_conv_transpose_f32(&p, x2, xd1, w2, wd2, NULL, y, yd), PARE_REF_OK);
  const float same_rows[] = {0, 0, 1, 1, 3, 2, 0, 0, 1,  1,  3,  2,  3, 3, 8,  5, 12, 7,
                             3, 3, 7, 4, 9, 5, 9, 9, 20, 11, 24, 13, 6, 6, 13, 7, 15, 8};
  assert_true(yd[2] == 6 && yd[3] == 6);
  assert_memory_equal(y, same_rows, sizeof same_rows);
  assert_memory_equal(y + 36, same_rows, sizeof same_rows);
  /* ONNX test_convtranspose_pads: pads [1, 2, 1, 2], strides [3, 2]. */
  pare_ref_conv_transpose_params_init(&p, 2);
  p.win.strides[0] = 3;
  p.win.strides[1] = 2;
  int64_t pp[] = {1, 2, 1, 2};
  memcpy(p.win.pads, pp, sizeof pp);
  assert_int_equal(pare_ref_conv_transpose_f32(&p, x2, xd1, w2, wd2, NULL, y, yd), PARE_REF_OK);
  const float pads_out[] = {1, 1, 3, 1, 1, 3, 7, 4, 9, 7, 4, 9, 7, 4, 9, 13, 7, 15, 13, 7, 15};
  assert_true(yd[2] == 7 && yd[3] == 3);
  assert_memory_equal(y, pads_out, sizeof pads_out);
  assert_memory_equal(y + 21, pads_out, sizeof pads_out);
  free(x2);

  /* Random grouped case with dilation, output_padding and asymmetric pads. */
  test_rng rng = {777};
  float x3[2 * 4 * 3 * 5], w3[4 * 3 * 3 * 2], b3[6], y3[2 * 6 * 12 * 12], want3[2 * 6 * 12 * 12];
  test_fill(&rng, x3, sizeof x3 / sizeof x3[0], -1, 1);
  test_fill(&rng, w3, sizeof w3 / sizeof w3[0], -1, 1);
  test_fill(&rng, b3, 6, -1, 1);
  int64_t xd3[] = {2, 4, 3, 5}, wd3[] = {4, 3, 3, 2}, s[] = {2, 3}, d[] = {2, 1};
  int64_t pb[] = {1, 0}, op[] = {1, 2};
  pare_ref_conv_transpose_params_init(&p, 2);
  p.group = 2;
  memcpy(p.win.strides, s, sizeof s);
  memcpy(p.win.dilations, d, sizeof d);
  int64_t pads3[] = {1, 0, 2, 1};
  memcpy(p.win.pads, pads3, sizeof pads3);
  memcpy(p.output_padding, op, sizeof op);
  assert_int_equal(pare_ref_conv_transpose_f32(&p, x3, xd3, w3, wd3, b3, y3, yd), PARE_REF_OK);
  /* h: 2·2 + 1 + 5 - (1 + 2) = 7; w: 3·4 + 2 + 2 - (0 + 1) = 15. */
  assert_true(yd[0] == 2 && yd[1] == 6 && yd[2] == 7 && yd[3] == 15);
  int64_t out3[] = {7, 15};
  conv_transpose_oracle(x3, xd3, w3, wd3, 2, s, d, pb, op, out3, b3, want3);
  test_assert_close(y3, want3, (size_t)(2 * 6 * 7 * 15), 1e-5, "conv_transpose");
  /* Errors: zero stride, weight channel mismatch. */
  p.win.strides[0] = 0;
  assert_int_equal(pare_ref_conv_transpose_f32(&p, x3, xd3, w3, wd3, b3, y3, yd), PARE_REF_EINVAL);
  p.win.strides[0] = 1;
  wd3[0] = 3;
  assert_int_equal(pare_ref_conv_transpose_f32(&p, x3, xd3, w3, wd3, b3, y3, yd), PARE_REF_EINVAL);
}

/* ---- Pooling ---- */

/* 2D pooling by explicit windows: cells of the padded row are input, pad
 * (inside the explicit pads) or overhang (past them, from ceil mode). The
 * output dims are given; avg divides by input cells, or input + pad cells. */
static void pool_oracle(const float *x, int64_t planes, int64_t h, int64_t w, const int64_t *k,
                        const int64_t *s, const int64_t *d, const int64_t *pads, int64_t oh,
                        int64_t ow, int is_max, int include_pad, float *y) {
  for (int64_t pl = 0; pl < planes; pl++)
    for (int64_t i = 0; i < oh; i++)
      for (int64_t j = 0; j < ow; j++) {
        double sum = 0.0, best = -INFINITY;
        int64_t real = 0, padded = 0;
        for (int64_t a = 0; a < k[0]; a++)
          for (int64_t b = 0; b < k[1]; b++) {
            int64_t r = i * s[0] + a * d[0] - pads[0], c = j * s[1] + b * d[1] - pads[1];
            int in_r = r >= 0 && r < h, in_c = c >= 0 && c < w;
            int pad_r = r >= -pads[0] && r < h + pads[2], pad_c = c >= -pads[1] && c < w + pads[3];
            if (pad_r && pad_c) padded++;
            if (!(in_r && in_c)) continue;
            real++;
            double v = x[(pl * h + r) * w + c];
            sum += v;
            if (v > best) best = v;
          }
        double div = (double)(include_pad ? padded : real);
        y[(pl * oh + i) * ow + j] = (float)(is_max ? best : sum / div);
      }
}

static void test_pool_onnx(void **state) {
  (void)state;
  float *x = iota_new(25, 1.0f), y[25];
  int64_t xd[] = {1, 1, 4, 4}, yd[4];
  pare_ref_pool_params p;
  /* test_averagepool_2d_ceil and test_maxpool_2d_ceil. */
  pare_ref_pool_params_init(&p, 2);
  p.win.kernel[0] = p.win.kernel[1] = 3;
  p.win.strides[0] = p.win.strides[1] = 2;
  p.ceil_mode = 1;
  assert_int_equal(pare_ref_avgpool_f32(&p, x, xd, y, yd), PARE_REF_OK);
  const float avg_ceil[] = {6, 7.5f, 12, 13.5f}, max_ceil[] = {11, 12, 15, 16};
  assert_true(yd[2] == 2 && yd[3] == 2);
  assert_memory_equal(y, avg_ceil, sizeof avg_ceil);
  assert_int_equal(pare_ref_maxpool_f32(&p, x, xd, y, yd), PARE_REF_OK);
  assert_memory_equal(y, max_ceil, sizeof max_ceil);
  /* test_maxpool_2d_dilations. */
  pare_ref_pool_params_init(&p, 2);
  p.win.kernel[0] = p.win.kernel[1] = 2;
  p.win.dilations[0] = p.win.dilations[1] = 2;
  assert_int_equal(pare_ref_maxpool_f32(&p, x, xd, y, yd), PARE_REF_OK);
  assert_memory_equal(y, max_ceil, sizeof max_ceil);
  /* test_averagepool_2d_precomputed_same_upper. */
  int64_t xd5[] = {1, 1, 5, 5};
  pare_ref_pool_params_init(&p, 2);
  p.win.kernel[0] = p.win.kernel[1] = 3;
  p.win.strides[0] = p.win.strides[1] = 2;
  p.win.auto_pad = PARE_REF_AUTO_PAD_SAME_UPPER;
  assert_int_equal(pare_ref_avgpool_f32(&p, x, xd5, y, yd), PARE_REF_OK);
  const float same[] = {4, 5.5f, 7, 11.5f, 13, 14.5f, 19, 20.5f, 22};
  assert_memory_equal(y, same, sizeof same);
  /* test_averagepool_2d_precomputed_pads_count_include_pad. */
  pare_ref_pool_params_init(&p, 2);
  p.win.kernel[0] = p.win.kernel[1] = 5;
  for (int i = 0; i < 4; i++) p.win.pads[i] = 2;
  p.count_include_pad = 1;
  assert_int_equal(pare_ref_avgpool_f32(&p, x, xd5, y, yd), PARE_REF_OK);
  const float incl[] = {2.52f,  3.6f,  4.8f,  4.08f, 3.24f, 4.56f, 6.4f,  8.4f, 7.04f,
                        5.52f,  7.2f,  10.0f, 13.0f, 10.8f, 8.4f,  6.96f, 9.6f, 12.4f,
                        10.24f, 7.92f, 6.12f, 8.4f,  10.8f, 8.88f, 6.84f};
  test_assert_close(y, incl, 25, 1e-5, "avgpool include pad");
  free(x);
}

static void test_pool_ceil_edges(void **state) {
  (void)state;
  /* 1D, in 4, kernel 3, stride 2, pads 1/1, ceil: windows start at -1, 1, 3;
   * the last covers [3, 4, 5]: one input cell, one end-pad cell, one cell of
   * ceil overhang that no divisor counts. */
  const float x[] = {1, 2, 3, 4};
  int64_t xd[] = {1, 1, 4}, yd[3];
  float y[8];
  pare_ref_pool_params p;
  pare_ref_pool_params_init(&p, 1);
  p.win.kernel[0] = 3;
  p.win.strides[0] = 2;
  p.win.pads[0] = p.win.pads[1] = 1;
  p.ceil_mode = 1;
  assert_int_equal(pare_ref_avgpool_f32(&p, x, xd, y, yd), PARE_REF_OK);
  assert_int_equal(yd[2], 3);
  const float excl[] = {1.5f, 3, 4};
  assert_memory_equal(y, excl, sizeof excl);
  p.count_include_pad = 1;
  assert_int_equal(pare_ref_avgpool_f32(&p, x, xd, y, yd), PARE_REF_OK);
  const float incl[] = {1, 3, 2};
  assert_memory_equal(y, incl, sizeof incl);
  p.ceil_mode = 0;
  assert_int_equal(pare_ref_avgpool_f32(&p, x, xd, y, yd), PARE_REF_OK);
  assert_int_equal(yd[2], 2);
  /* in 5, kernel 2, stride 2, pads 1/1: ceil gives 4 windows, but the 4th
   * would start at 6 = in + pad_begin, inside the end padding: dropped. */
  const float x5[] = {1, 2, 3, 4, 5};
  int64_t xd5[] = {1, 1, 5};
  pare_ref_pool_params_init(&p, 1);
  p.win.kernel[0] = 2;
  p.win.strides[0] = 2;
  p.win.pads[0] = p.win.pads[1] = 1;
  p.ceil_mode = 1;
  assert_int_equal(pare_ref_maxpool_f32(&p, x5, xd5, y, yd), PARE_REF_OK);
  assert_int_equal(yd[2], 3);
  const float mx[] = {1, 3, 5};
  assert_memory_equal(y, mx, sizeof mx);
  /* Kernel larger than the padded input, zero stride, missing kernel. */
  p.win.kernel[0] = 8;
  assert_int_equal(pare_ref_maxpool_f32(&p, x5, xd5, y, yd), PARE_REF_EINVAL);
  p.win.kernel[0] = 2;
  p.win.strides[0] = 0;
  assert_int_equal(pare_ref_maxpool_f32(&p, x5, xd5, y, yd), PARE_REF_EINVAL);
  pare_ref_pool_params_init(&p, 1);
  assert_int_equal(pare_ref_avgpool_f32(&p, x5, xd5, y, yd), PARE_REF_EINVAL);
}

static void test_pool_vs_oracle(void **state) {
  (void)state;
  typedef struct {
    int64_t h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
    int ceil;
  } pool_case;
  const pool_case cases[] = {
      {7, 9, 3, 2, 2, 3, 1, 1, 1, 0, 1, 1, 1},   /* ceil with asymmetric pads */
      {5, 5, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1},   /* stride > kernel, ceil */
      {6, 7, 3, 3, 2, 2, 2, 1, 2, 1, 0, 2, 0},   /* dilation */
      {1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},   /* 1x1 input */
      {11, 13, 3, 5, 2, 4, 1, 1, 1, 2, 1, 2, 1}, /* primes */
  };
  test_rng rng = {4242};
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const pool_case *q = &cases[ci];
    float x[3 * 11 * 13], y[3 * 16 * 16], want[3 * 16 * 16];
    test_fill(&rng, x, (size_t)(3 * q->h * q->w), -2, 2);
    pare_ref_pool_params p;
    pare_ref_pool_params_init(&p, 2);
    int64_t k[] = {q->kh, q->kw}, s[] = {q->sh, q->sw}, d[] = {q->dh, q->dw};
    int64_t pads[] = {q->pt, q->pl, q->pb, q->pr}, xd[] = {1, 3, q->h, q->w}, yd[4];
    memcpy(p.win.kernel, k, sizeof k);
    memcpy(p.win.strides, s, sizeof s);
    memcpy(p.win.dilations, d, sizeof d);
    memcpy(p.win.pads, pads, sizeof pads);
    p.ceil_mode = q->ceil;
    for (int mode = 0; mode < 3; mode++) {
      p.count_include_pad = mode == 2;
      int rc = mode == 0 ? pare_ref_maxpool_f32(&p, x, xd, y, yd)
                         : pare_ref_avgpool_f32(&p, x, xd, y, yd);
      assert_int_equal(rc, PARE_REF_OK);
      /* The output size by the PyTorch formula, written out here. */
      int64_t o[2];
      for (int a = 0; a < 2; a++) {
        int64_t in = a ? q->w : q->h, span = in + pads[a] + pads[a + 2] - (k[a] - 1) * d[a] - 1;
        o[a] = (q->ceil ? (span + s[a] - 1) / s[a] : span / s[a]) + 1;
        if (q->ceil && (o[a] - 1) * s[a] >= in + pads[a]) o[a]--;
      }
      assert_true(yd[2] == o[0] && yd[3] == o[1]);
      pool_oracle(x, 3, q->h, q->w, k, s, d, pads, o[0], o[1], mode == 0, mode == 2, want);
      test_assert_close(y, want, (size_t)(3 * o[0] * o[1]), 1e-6, "pool");
    }
  }
}

static void test_global_pool(void **state) {
  (void)state;
  float *x = iota_new(2 * 3 * 2 * 2 * 2, 0.0f), y[6];
  int64_t xd[] = {2, 3, 2, 2, 2};
  assert_int_equal(pare_ref_global_avgpool_f32(x, 5, xd, y), PARE_REF_OK);
  for (int i = 0; i < 6; i++) assert_float_equal(y[i], 8.0f * (float)i + 3.5f, 1e-6);
  assert_int_equal(pare_ref_global_maxpool_f32(x, 5, xd, y), PARE_REF_OK);
  for (int i = 0; i < 6; i++) assert_float_equal(y[i], 8.0f * (float)i + 7.0f, 0);
  int64_t xd2[] = {1, 1, 3, 3};
  assert_int_equal(pare_ref_global_avgpool_f32(x + 1, 4, xd2, y), PARE_REF_OK);
  assert_float_equal(y[0], 5.0f, 0); /* ONNX test_globalaveragepool_precomputed */
  assert_int_equal(pare_ref_global_maxpool_f32(x, 1, xd, y), PARE_REF_EINVAL);
  free(x);
}

/* ---- Normalization, softmax, reductions ---- */

static void test_batchnorm(void **state) {
  (void)state;
  const float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const float scale[] = {2, 0.5f}, bias[] = {1, -1}, mean[] = {2, 10}, var[] = {3, 15};
  int64_t dims[] = {2, 2, 3};
  float y[12];
  assert_int_equal(pare_ref_batchnorm_f32(x, 3, dims, scale, bias, mean, var, 1.0f, y), 0);
  /* Channel 0: 2·(x - 2)/2 + 1 = x - 1; channel 1: 0.5·(x - 10)/4 - 1. */
  const float want[] = {0, 1, 2, -1.75f, -1.625f, -1.5f, 6, 7, 8, -1, -0.875f, -0.75f};
  test_assert_close(y, want, 12, 1e-6, "batchnorm");
  int64_t d2[] = {3, 2};
  assert_int_equal(pare_ref_batchnorm_f32(x, 2, d2, scale, bias, mean, var, 1.0f, y), 0);
  assert_float_equal(y[4], 4.0f, 1e-6);
  assert_int_equal(pare_ref_batchnorm_f32(x, 1, d2, scale, bias, mean, var, 1.0f, y),
                   PARE_REF_EINVAL);
}

static void test_softmax(void **state) {
  (void)state;
  /* [2, 2, 3]: opset 13 softmax along axis 1 pairs x[i][0][k] with x[i][1][k];
   * the legacy one at axis 1 normalizes each block of 6. */
  const float x[] = {1, 2, 3, 4, 5, 6, 1000, 1001, 1002, 0, 0, 0};
  int64_t dims[] = {2, 2, 3};
  float y[12], want[12];
  assert_int_equal(pare_ref_softmax_f32(x, 3, dims, -2, 0, y), PARE_REF_OK);
  for (int i = 0; i < 2; i++)
    for (int k = 0; k < 3; k++) {
      double a = x[i * 6 + k], b = x[i * 6 + 3 + k], m = a > b ? a : b;
      double ea = exp(a - m), eb = exp(b - m);
      want[i * 6 + k] = (float)(ea / (ea + eb));
      want[i * 6 + 3 + k] = (float)(eb / (ea + eb));
    }
  test_assert_close(y, want, 12, 1e-6, "softmax axis");
  assert_int_equal(pare_ref_softmax_f32(x, 3, dims, 1, 1, y), PARE_REF_OK);
  for (int i = 0; i < 2; i++) {
    double m = -INFINITY, sum = 0.0;
    for (int j = 0; j < 6; j++) m = fmax(m, x[i * 6 + j]);
    for (int j = 0; j < 6; j++) sum += exp(x[i * 6 + j] - m);
    for (int j = 0; j < 6; j++) want[i * 6 + j] = (float)(exp(x[i * 6 + j] - m) / sum);
  }
  test_assert_close(y, want, 12, 1e-6, "softmax legacy");
  assert_float_equal(y[8], 0.66524096f, 1e-6);
  assert_int_equal(pare_ref_log_softmax_f32(x, 3, dims, 2, 0, y), PARE_REF_OK);
  /* log softmax of (1, 2, 3): x - 3 - log(1 + e^-1 + e^-2). */
  assert_float_equal(y[0], -2.40760596f, 1e-6);
  assert_float_equal(y[8], -0.40760596f, 1e-6);
  assert_float_equal(y[9], -1.09861229f, 1e-6);
  assert_int_equal(pare_ref_softmax_f32(x, 3, dims, 3, 0, y), PARE_REF_EINVAL);
  assert_int_equal(pare_ref_softmax_f32(x, 3, dims, -4, 1, y), PARE_REF_EINVAL);
}

static void test_reduce_mean(void **state) {
  (void)state;
  float *x = iota_new(24, 0.0f), y[24];
  int64_t dims[] = {2, 3, 4}, yd[8];
  int yr;
  const int64_t ax_a[] = {0, -1};
  assert_int_equal(pare_ref_reduce_mean_f32(x, 3, dims, ax_a, 2, 1, 0, y, &yr, yd), PARE_REF_OK);
  assert_true(yr == 3 && yd[0] == 1 && yd[1] == 3 && yd[2] == 1);
  /* mean over i, k of 12i + 4j + k = 6 + 4j + 1.5. */
  for (int j = 0; j < 3; j++) assert_float_equal(y[j], 7.5f + 4.0f * (float)j, 1e-6);
  const int64_t ax_b[] = {1};
  assert_int_equal(pare_ref_reduce_mean_f32(x, 3, dims, ax_b, 1, 0, 0, y, &yr, yd), PARE_REF_OK);
  assert_true(yr == 2 && yd[0] == 2 && yd[1] == 4);
  assert_float_equal(y[5], 17.0f, 1e-6); /* i = 1, k = 1: 12 + 4 + 1 */
  /* Empty axes: all, or nothing with noop_with_empty_axes. */
  assert_int_equal(pare_ref_reduce_mean_f32(x, 3, dims, NULL, 0, 0, 0, y, &yr, yd), PARE_REF_OK);
  assert_true(yr == 0);
  assert_float_equal(y[0], 11.5f, 1e-6);
  assert_int_equal(pare_ref_reduce_mean_f32(x, 3, dims, NULL, 0, 1, 1, y, &yr, yd), PARE_REF_OK);
  assert_true(yr == 3 && yd[2] == 4);
  assert_memory_equal(y, x, 24 * sizeof *x);
  /* Repeated and out-of-range axes. */
  const int64_t rep[] = {1, -2}, bad[] = {3};
  assert_int_equal(pare_ref_reduce_mean_f32(x, 3, dims, rep, 2, 1, 0, y, &yr, yd), PARE_REF_EINVAL);
  assert_int_equal(pare_ref_reduce_mean_f32(x, 3, dims, bad, 1, 1, 0, y, &yr, yd), PARE_REF_EINVAL);
  /* Reducing a zero-size axis: the mean of nothing is NaN. */
  int64_t zd[] = {2, 0};
  const int64_t ax1[] = {1};
  assert_int_equal(pare_ref_reduce_mean_f32(x, 2, zd, ax1, 1, 0, 0, y, &yr, yd), PARE_REF_OK);
  assert_true(yr == 1 && yd[0] == 2 && isnan(y[0]) && isnan(y[1]));
  free(x);
}

/* ---- Layout ops ---- */

static void test_transpose_concat(void **state) {
  (void)state;
  int64_t x[2 * 3 * 4 * 5], y[120];
  for (int i = 0; i < 120; i++) x[i] = i;
  int64_t dims[] = {2, 3, 4, 5}, yd[4];
  const int64_t perm[] = {2, 0, 3, 1};
  assert_int_equal(pare_ref_transpose(x, sizeof *x, 4, dims, perm, y, yd), PARE_REF_OK);
  assert_true(yd[0] == 4 && yd[1] == 2 && yd[2] == 5 && yd[3] == 3);
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 2; b++)
      for (int c = 0; c < 5; c++)
        for (int d = 0; d < 3; d++)
          assert_int_equal(y[((a * 2 + b) * 5 + c) * 3 + d], ((b * 3 + d) * 4 + a) * 5 + c);
  /* Default perm reverses; float data. */
  const float f[] = {1, 2, 3, 4, 5, 6};
  float g[6];
  int64_t fd[] = {2, 3};
  assert_int_equal(pare_ref_transpose(f, sizeof *f, 2, fd, NULL, g, yd), PARE_REF_OK);
  const float ft[] = {1, 4, 2, 5, 3, 6};
  assert_memory_equal(g, ft, sizeof ft);
  const int64_t bad[] = {0, 0, 1, 2}, oob[] = {0, 1, 2, 4};
  assert_int_equal(pare_ref_transpose(x, 8, 4, dims, bad, y, yd), PARE_REF_EINVAL);
  assert_int_equal(pare_ref_transpose(x, 8, 4, dims, oob, y, yd), PARE_REF_EINVAL);

  /* Concat of [2,1], [2,3], [2,0] along -1; then along 0 with a mismatch. */
  const float a[] = {1, 2}, b[] = {3, 4, 5, 6, 7, 8};
  const void *xs[] = {a, b, NULL};
  int64_t ad[] = {2, 1}, bd[] = {2, 3}, ed[] = {2, 0};
  const int64_t *xds[] = {ad, bd, ed};
  float c[8];
  assert_int_equal(pare_ref_concat(xs, xds, 3, 2, -1, sizeof(float), c, yd), PARE_REF_OK);
  const float cw[] = {1, 3, 4, 5, 2, 6, 7, 8};
  assert_true(yd[0] == 2 && yd[1] == 4);
  assert_memory_equal(c, cw, sizeof cw);
  assert_int_equal(pare_ref_concat(xs, xds, 2, 2, 0, sizeof(float), c, yd), PARE_REF_EINVAL);
  assert_int_equal(pare_ref_concat(xs, xds, 2, 2, 2, sizeof(float), c, yd), PARE_REF_EINVAL);
  /* int64 shape tensors along axis 0. */
  const int64_t s1[] = {1, 3}, s2[] = {224, 224};
  const void *ss[] = {s1, s2};
  int64_t sd[] = {2};
  const int64_t *sds[] = {sd, sd};
  int64_t sy[4];
  assert_int_equal(pare_ref_concat(ss, sds, 2, 1, 0, sizeof(int64_t), sy, yd), PARE_REF_OK);
  assert_true(yd[0] == 4 && sy[0] == 1 && sy[1] == 3 && sy[2] == 224 && sy[3] == 224);
}

static void test_slice(void **state) {
  (void)state;
  /* ONNX test_slice_neg_steps on iota data: starts [20, 10, 4], ends
   * [0, 0, 1], steps [-1, -3, -2] → [19, 3, 2] reading x[19-i][9-3j][4-2k]. */
  float *x = iota_new(20 * 10 * 5, 0.0f), y[1000];
  int64_t dims[] = {20, 10, 5}, yd[3];
  const int64_t st[] = {20, 10, 4}, en[] = {0, 0, 1}, ax[] = {0, 1, 2}, sp[] = {-1, -3, -2};
  assert_int_equal(pare_ref_slice(x, 4, 3, dims, st, en, ax, sp, 3, y, yd), PARE_REF_OK);
  assert_true(yd[0] == 19 && yd[1] == 3 && yd[2] == 2);
  for (int i = 0; i < 19; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 2; k++)
        assert_float_equal(y[(i * 3 + j) * 2 + k],
                           (float)((19 - i) * 50 + (9 - 3 * j) * 5 + 4 - 2 * k), 0);
  /* test_slice_end_out_of_bounds: axis 1 from 1 to 1000. */
  const int64_t s1[] = {1}, e1[] = {1000}, a1[] = {1};
  assert_int_equal(pare_ref_slice(x, 4, 3, dims, s1, e1, a1, NULL, 1, y, yd), PARE_REF_OK);
  assert_true(yd[0] == 20 && yd[1] == 9 && yd[2] == 5);
  assert_float_equal(y[0], 5.0f, 0);
  assert_float_equal(y[45], 55.0f, 0);
  /* Negative axes and starts, INT64_MAX end; INT64_MIN end with step -1 reads
   * the whole axis backwards; a huge negative step takes one element. */
  const int64_t s2[] = {-2, 3}, e2[] = {INT64_MAX, INT64_MIN}, a2[] = {-1, 0}, p2[] = {1, -1};
  assert_int_equal(pare_ref_slice(x, 4, 3, dims, s2, e2, a2, p2, 2, y, yd), PARE_REF_OK);
  assert_true(yd[0] == 4 && yd[1] == 10 && yd[2] == 2);
  assert_float_equal(y[0], 153.0f, 0);
  assert_float_equal(y[79], 9.0f * 5.0f + 4.0f, 0);
  const int64_t s3[] = {INT64_MAX}, e3[] = {INT64_MIN}, p3[] = {INT64_MIN};
  assert_int_equal(pare_ref_slice(x, 4, 3, dims, s3, e3, NULL, p3, 1, y, yd), PARE_REF_OK);
  assert_true(yd[0] == 1 && y[0] == 950.0f);
  /* Empty results (also a negative step over an empty axis) and errors. */
  const int64_t zero_start[] = {0};
  const int64_t s4[] = {7}, e4[] = {3};
  assert_int_equal(pare_ref_slice(x, 4, 3, dims, s4, e4, a1, NULL, 1, y, yd), PARE_REF_OK);
  assert_int_equal(yd[1], 0);
  int64_t d0[] = {3, 0}, d0y[2];
  const int64_t m1[] = {-1}, e0[] = {INT64_MIN};
  assert_int_equal(pare_ref_slice(x, 4, 2, d0, zero_start, e0, a1, m1, 1, y, d0y), PARE_REF_OK);
  assert_true(d0y[0] == 3 && d0y[1] == 0);
  const int64_t zero[] = {0};
  assert_int_equal(pare_ref_slice(x, 4, 3, dims, s4, e4, a1, zero, 1, y, yd), PARE_REF_EINVAL);
  const int64_t a3[] = {3};
  assert_int_equal(pare_ref_slice(x, 4, 3, dims, s4, e4, a3, NULL, 1, y, yd), PARE_REF_EINVAL);
  const int64_t dup[] = {1, -2};
  assert_int_equal(pare_ref_slice(x, 4, 3, dims, s2, e2, dup, NULL, 2, y, yd), PARE_REF_EINVAL);
  free(x);
}

static void test_pad(void **state) {
  (void)state;
  const float x[] = {1, 2, 3, 4, 5, 6};
  int64_t dims[] = {2, 3}, yd[2];
  float y[64];
  const int64_t pads[] = {1, 2, 0, 1};
  assert_int_equal(pare_ref_pad_f32(x, 2, dims, pads, PARE_REF_PAD_CONSTANT, -1, y, yd), 0);
  const float cw[] = {-1, -1, -1, -1, -1, -1, -1, -1, 1, 2, 3, -1, -1, -1, 4, 5, 6, -1};
  assert_true(yd[0] == 3 && yd[1] == 6);
  assert_memory_equal(y, cw, sizeof cw);
  assert_int_equal(pare_ref_pad_f32(x, 2, dims, pads, PARE_REF_PAD_EDGE, 0, y, yd), 0);
  const float ew[] = {1, 1, 1, 2, 3, 3, 1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6};
  assert_memory_equal(y, ew, sizeof ew);
  assert_int_equal(pare_ref_pad_f32(x, 2, dims, pads, PARE_REF_PAD_REFLECT, 0, y, yd), 0);
  const float rw[] = {6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5};
  assert_memory_equal(y, rw, sizeof rw);
  /* Reflect wider than the data folds back and forth (numpy 'reflect'). */
  const float r3[] = {1, 2, 3};
  int64_t d3[] = {3}, p3[] = {4, 5};
  assert_int_equal(pare_ref_pad_f32(r3, 1, d3, p3, PARE_REF_PAD_REFLECT, 0, y, yd), 0);
  const float r3w[] = {1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2};
  assert_int_equal(yd[0], 12);
  assert_memory_equal(y, r3w, sizeof r3w);
  /* Negative pads crop first, then edge pads relative to the cropped data. */
  const int64_t np[] = {0, -1, -1, 2};
  assert_int_equal(pare_ref_pad_f32(x, 2, dims, np, PARE_REF_PAD_EDGE, 0, y, yd), 0);
  const float nw[] = {2, 3, 3, 3};
  assert_true(yd[0] == 1 && yd[1] == 4);
  assert_memory_equal(y, nw, sizeof nw);
  const int64_t too[] = {0, -4, 0, 0}, crop_all[] = {0, -2, 0, -1};
  assert_int_equal(pare_ref_pad_f32(x, 2, dims, too, PARE_REF_PAD_CONSTANT, 0, y, yd),
                   PARE_REF_EINVAL);
  assert_int_equal(pare_ref_pad_f32(x, 2, dims, crop_all, PARE_REF_PAD_CONSTANT, 0, y, yd), 0);
  assert_int_equal(yd[1], 0);
}

static void test_gather(void **state) {
  (void)state;
  const float data[] = {1, 2, 3, 4, 5, 6};
  int64_t dims[] = {3, 2}, idx_dims[] = {2, 2}, yd[8];
  const int64_t idx[] = {0, 1, -1, 2};
  float y[16];
  int yr;
  assert_int_equal(pare_ref_gather(data, 4, 2, dims, idx, 2, idx_dims, 0, y, &yr, yd), 0);
  const float w0[] = {1, 2, 3, 4, 5, 6, 5, 6};
  assert_true(yr == 3 && yd[0] == 2 && yd[1] == 2 && yd[2] == 2);
  assert_memory_equal(y, w0, sizeof w0);
  /* axis -1 with a scalar index. */
  const int64_t one[] = {-1};
  assert_int_equal(pare_ref_gather(data, 4, 2, dims, one, 0, NULL, -1, y, &yr, yd), 0);
  const float w1[] = {2, 4, 6};
  assert_true(yr == 1 && yd[0] == 3);
  assert_memory_equal(y, w1, sizeof w1);
  /* int64 shape tensor: Shape(x)[2:] gathered with indices [2, 3]. */
  const int64_t shape[] = {1, 3, 224, 112}, pick[] = {2, 3};
  int64_t sd[] = {4}, pd[] = {2}, out[2];
  assert_int_equal(pare_ref_gather(shape, 8, 1, sd, pick, 1, pd, 0, out, &yr, yd), 0);
  assert_true(out[0] == 224 && out[1] == 112);
  /* Out of range: an error, and nothing written. */
  const int64_t oob[] = {0, 3};
  y[0] = -7;
  assert_int_equal(pare_ref_gather(data, 4, 2, dims, oob, 1, pd, 0, y, &yr, yd), PARE_REF_ERANGE);
  const int64_t neg[] = {-4, 0};
  assert_int_equal(pare_ref_gather(data, 4, 2, dims, neg, 1, pd, 0, y, &yr, yd), PARE_REF_ERANGE);
  assert_float_equal(y[0], -7.0f, 0);
  assert_int_equal(pare_ref_gather(data, 4, 2, dims, idx, 1, pd, 2, y, &yr, yd), PARE_REF_EINVAL);
}

/* ---- Resize ---- */

/* One ONNX Resize node test: x is iota from 1 over x_dims. */
static void check_resize(pare_ref_resize_mode mode, pare_ref_resize_coord coord,
                         pare_ref_resize_nearest nearest, const int64_t *x_dims,
                         const float *scales, const int64_t *sizes, const float *want,
                         size_t n_want, const char *what) {
  pare_ref_resize_params p = {mode, coord, nearest};
  float *x = iota_new((size_t)(x_dims[2] * x_dims[3]), 1.0f), y[64];
  int64_t yd[4];
  assert_int_equal(pare_ref_resize_f32(&p, x, 4, x_dims, scales, sizes, y, yd), PARE_REF_OK);
  assert_int_equal((size_t)(yd[0] * yd[1] * yd[2] * yd[3]), n_want);
  test_assert_close(y, want, n_want, 1e-6, what);
  free(x);
}

static void test_resize(void **state) {
  (void)state;
  const int64_t d22[] = {1, 1, 2, 2}, d24[] = {1, 1, 2, 4}, d44[] = {1, 1, 4, 4};
  const float up2[] = {1, 1, 2, 2}, down06[] = {1, 1, 0.6f, 0.6f}, up23[] = {1, 1, 2, 3};
  const pare_ref_resize_nearest rpf = PARE_REF_NEAREST_ROUND_PREFER_FLOOR;
  const float lin[] = {1,    1.25f, 1.75f, 2,    1.5f, 1.75f, 2.25f, 2.5f,
                       2.5f, 2.75f, 3.25f, 3.5f, 3,    3.25f, 3.75f, 4};
  check_resize(PARE_REF_RESIZE_LINEAR, PARE_REF_COORD_HALF_PIXEL, rpf, d22, up2, NULL, lin, 16,
               "upsample_scales_linear");
  const float third = 1.0f / 3.0f;
  const float lac[] = {1,
                       1 + third,
                       1 + 2 * third,
                       2,
                       1 + 2 * third,
                       2,
                       2 + third,
                       2 + 2 * third,
                       2 + third,
                       2 + 2 * third,
                       3,
                       3 + third,
                       3,
                       3 + third,
                       3 + 2 * third,
                       4};
  check_resize(PARE_REF_RESIZE_LINEAR, PARE_REF_COORD_ALIGN_CORNERS, rpf, d22, up2, NULL, lac, 16,
               "upsample_scales_linear_align_corners");
  const float dl[] = {2.6666665f, 4.333333f};
  check_resize(PARE_REF_RESIZE_LINEAR, PARE_REF_COORD_HALF_PIXEL, rpf, d24, down06, NULL, dl, 2,
               "downsample_scales_linear");
  /* align_corners with scales divides by the unrounded length 4·0.6 - 1. */
  const float dlac[] = {1, 1 + 3.0f / 1.4f};
  check_resize(PARE_REF_RESIZE_LINEAR, PARE_REF_COORD_ALIGN_CORNERS, rpf, d24, down06, NULL, dlac,
               2, "downsample_scales_linear_align_corners");
  const int64_t s3x1[] = {1, 1, 3, 1}, s3x2[] = {1, 1, 3, 2}, s8[] = {1, 1, 8, 8};
  const float pth[] = {1.6666666f, 7, 12.333333f};
  check_resize(PARE_REF_RESIZE_LINEAR, PARE_REF_COORD_PYTORCH_HALF_PIXEL, rpf, d44, NULL, s3x1, pth,
               3, "downsample_sizes_linear_pytorch_half_pixel");
  const float tfnn[] = {6, 8, 10, 12, 14, 16};
  check_resize(PARE_REF_RESIZE_NEAREST, PARE_REF_COORD_TF_HALF_PIXEL_FOR_NN, rpf, d44, NULL, s3x2,
               tfnn, 6, "downsample_sizes_nearest_tf_half_pixel_for_nn");
  /* 8x8 nearest cases: each output row r repeats a row pattern rows[r]. */
  const float ceil_row[] = {1, 2, 2, 3, 3, 4, 4, 4}, floor_row[] = {1, 1, 1, 2, 2, 3, 3, 4};
  const int ceil_rows[] = {0, 1, 1, 2, 2, 3, 3, 3}, floor_rows[] = {0, 0, 0, 1, 1, 2, 2, 3};
  float want_c[64], want_f[64];
  for (int r = 0; r < 8; r++)
    for (int c = 0; c < 8; c++) {
      want_c[r * 8 + c] = ceil_row[c] + 4.0f * (float)ceil_rows[r];
      want_f[r * 8 + c] = floor_row[c] + 4.0f * (float)floor_rows[r];
    }
  check_resize(PARE_REF_RESIZE_NEAREST, PARE_REF_COORD_HALF_PIXEL, PARE_REF_NEAREST_CEIL, d44, NULL,
               s8, want_c, 64, "upsample_sizes_nearest_ceil_half_pixel");
  check_resize(PARE_REF_RESIZE_NEAREST, PARE_REF_COORD_ALIGN_CORNERS, PARE_REF_NEAREST_FLOOR, d44,
               NULL, s8, want_f, 64, "upsample_sizes_nearest_floor_align_corners");
  check_resize(PARE_REF_RESIZE_NEAREST, PARE_REF_COORD_ASYMMETRIC,
               PARE_REF_NEAREST_ROUND_PREFER_CEIL, d44, NULL, s8, want_c, 64,
               "upsample_sizes_nearest_round_prefer_ceil_asymmetric");
  const float dn[] = {1, 3},
              un[] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
  check_resize(PARE_REF_RESIZE_NEAREST, PARE_REF_COORD_HALF_PIXEL, rpf, d24, down06, NULL, dn, 2,
               "downsample_scales_nearest");
  check_resize(PARE_REF_RESIZE_NEAREST, PARE_REF_COORD_HALF_PIXEL, rpf, d22, up23, NULL, un, 24,
               "upsample_scales_nearest");
  const int64_t s13[] = {1, 1, 1, 3};
  const float dsn[] = {1, 2, 4};
  check_resize(PARE_REF_RESIZE_NEAREST, PARE_REF_COORD_HALF_PIXEL, rpf, d24, NULL, s13, dsn, 3,
               "downsample_sizes_nearest");
  /* round_prefer_floor vs ceil on an exact half: asymmetric 3 → 2 has scale
   * 2/3 and source coordinate 1.5 for output 1. */
  const int64_t d13[] = {1, 1, 1, 3}, s12[] = {1, 1, 1, 2};
  const float hf[] = {1, 2}, hc[] = {1, 3};
  check_resize(PARE_REF_RESIZE_NEAREST, PARE_REF_COORD_ASYMMETRIC, rpf, d13, NULL, s12, hf, 2,
               "round_prefer_floor");
  check_resize(PARE_REF_RESIZE_NEAREST, PARE_REF_COORD_ASYMMETRIC,
               PARE_REF_NEAREST_ROUND_PREFER_CEIL, d13, NULL, s12, hc, 2, "round_prefer_ceil");
  /* Shapes: floor(in · scale); errors for both/neither input and bad scales. */
  int64_t yd[4];
  const float sc[] = {1, 1, 1.5f, 0.34f}, bad[] = {1, 1, 0, 1};
  assert_int_equal(pare_ref_resize_shape(4, d44, sc, NULL, yd), PARE_REF_OK);
  assert_true(yd[2] == 6 && yd[3] == 1);
  assert_int_equal(pare_ref_resize_shape(4, d44, sc, s8, yd), PARE_REF_EINVAL);
  assert_int_equal(pare_ref_resize_shape(4, d44, NULL, NULL, yd), PARE_REF_EINVAL);
  assert_int_equal(pare_ref_resize_shape(4, d44, bad, NULL, yd), PARE_REF_EINVAL);
}

/* ---- Broadcasting ---- */

static void test_broadcast(void **state) {
  (void)state;
  /* [3, 1, 5] with [4, 1] → [3, 4, 5]. */
  float *a = iota_new(15, 0.0f), *b = iota_new(4, 100.0f), y[60];
  int64_t ad[] = {3, 1, 5}, bd[] = {4, 1}, yd[8];
  int yr;
  assert_int_equal(pare_ref_broadcast_binop_f32(PARE_REF_SUB, a, 3, ad, b, 2, bd, y, &yr, yd),
                   PARE_REF_OK);
  assert_true(yr == 3 && yd[0] == 3 && yd[1] == 4 && yd[2] == 5);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      for (int k = 0; k < 5; k++)
        assert_float_equal(y[(i * 4 + j) * 5 + k], a[i * 5 + k] - b[j], 0);
  /* Operand order matters for Sub and Div; b broadcast on the left. */
  assert_int_equal(pare_ref_broadcast_binop_f32(PARE_REF_DIV, b, 2, bd, a, 3, ad, y, &yr, yd),
                   PARE_REF_OK);
  assert_float_equal(y[(2 * 4 + 3) * 5 + 4], 103.0f / 14.0f, 1e-6);
  /* A scalar (rank 0) against a matrix; Max and Pow. */
  const float two = 2.0f;
  assert_int_equal(pare_ref_broadcast_binop_f32(PARE_REF_POW, a, 3, ad, &two, 0, NULL, y, &yr, yd),
                   PARE_REF_OK);
  assert_true(yr == 3 && yd[1] == 1);
  assert_float_equal(y[7], 49.0f, 0);
  assert_int_equal(pare_ref_broadcast_binop_f32(PARE_REF_MAX, &two, 0, NULL, a, 3, ad, y, &yr, yd),
                   PARE_REF_OK);
  assert_true(y[0] == 2.0f && y[14] == 14.0f);
  /* Incompatible shapes, and zero-size dims broadcast against 1. */
  int64_t cd[] = {3, 2}, zd[] = {0, 1}, z1[] = {1, 5};
  assert_int_equal(pare_ref_broadcast_binop_f32(PARE_REF_ADD, a, 3, ad, b, 2, cd, y, &yr, yd),
                   PARE_REF_EINVAL);
  assert_int_equal(pare_ref_broadcast_shape(2, zd, 2, z1, &yr, yd), PARE_REF_OK);
  assert_true(yr == 2 && yd[0] == 0 && yd[1] == 5);
  int64_t strides[4], out[] = {2, 4, 4, 5};
  assert_int_equal(pare_ref_broadcast_strides(3, ad, 4, out, strides), PARE_REF_EINVAL);
  int64_t od[] = {2, 3, 7, 5};
  assert_int_equal(pare_ref_broadcast_strides(3, ad, 4, od, strides), PARE_REF_OK);
  assert_true(strides[0] == 0 && strides[1] == 5 && strides[2] == 0 && strides[3] == 1);
  free(a);
  free(b);
}

static void test_prelu(void **state) {
  (void)state;
  float x[2 * 3 * 2], y[12];
  for (int i = 0; i < 12; i++) x[i] = (float)(i % 4) - 2.0f;
  const float slope[] = {0.5f, 2.0f, -1.0f};
  int64_t xd[] = {2, 3, 2}, sd[] = {3, 1};
  assert_int_equal(pare_ref_prelu_f32(x, 3, xd, slope, 2, sd, y), PARE_REF_OK);
  for (int i = 0; i < 12; i++) {
    float s = slope[(i / 2) % 3];
    assert_float_equal(y[i], x[i] < 0 ? s * x[i] : x[i], 0);
  }
  /* A single slope; then a slope that would need x to broadcast. */
  int64_t one[] = {1}, big[] = {2, 2, 3, 2};
  assert_int_equal(pare_ref_prelu_f32(x, 3, xd, slope, 1, one, y), PARE_REF_OK);
  assert_float_equal(y[0], -1.0f, 0);
  assert_int_equal(pare_ref_prelu_f32(x, 3, xd, slope, 4, big, y), PARE_REF_EINVAL);
  assert_int_equal(pare_ref_prelu_f32(x, 3, xd, slope, 1, sd, y), PARE_REF_EINVAL);
}

/* The threaded reference gives the same bits with 1, 2, 3 and 7 threads
 * (each output is summed by one thread in the serial order): GEMM and a
 * grouped, strided, padded convolution large enough to be split. */
static void test_threads_bit_exact(void **state) {
  (void)state;
  test_rng r = {12};
  size_t m = 67, n = 129, k = 301;
  float *a = malloc(m * k * 4), *b = malloc(k * n * 4), *c0 = malloc(m * n * 4),
        *c1 = malloc(m * n * 4);
  test_fill(&r, a, m * k, -1, 1);
  test_fill(&r, b, k * n, -1, 1);
  int64_t xd[4] = {3, 8, 33, 31}, wd[4] = {12, 4, 3, 3}, yd[4];
  size_t nx = 3 * 8 * 33 * 31, nw = 12 * 4 * 9;
  float *x = malloc(nx * 4), *w = malloc(nw * 4), *y0 = malloc(3 * 12 * 33 * 31 * 4),
        *y1 = malloc(3 * 12 * 33 * 31 * 4);
  test_fill(&r, x, nx, -1, 1);
  test_fill(&r, w, nw, -1, 1);
  pare_ref_conv_params p;
  pare_ref_conv_params_init(&p, 2);
  p.group = 2;
  p.win.strides[0] = 2;
  p.win.pads[0] = p.win.pads[1] = p.win.pads[2] = p.win.pads[3] = 1;
  const char *counts[] = {"1", "2", "3", "7"};
  for (int t = 0; t < 4; t++) {
    setenv("PARE_THREADS", counts[t], 1);
    float *c = t ? c1 : c0, *y = t ? y1 : y0;
    pare_ref_gemm_f32(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n, NULL);
    assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, NULL, y, yd), PARE_REF_OK);
    if (t) {
      assert_memory_equal(c0, c1, m * n * 4);
      size_t ny = (size_t)(yd[0] * yd[1] * yd[2] * yd[3]);
      assert_memory_equal(y0, y1, ny * 4);
    }
  }
  unsetenv("PARE_THREADS");
  free(a), free(b), free(c0), free(c1), free(x), free(w), free(y0), free(y1);
}

/* LRN by hand: an even size (the window is c .. c+1), a window wider than
 * the channels, and the refusals. */
static void test_lrn(void **state) {
  (void)state;
  const float x[3] = {1, 2, 3};
  const int64_t dims[3] = {1, 3, 1};
  float y[3];
  assert_int_equal(pare_ref_lrn_f32(x, 3, dims, 2, 1.0f, 1.0f, 1.0f, y), PARE_REF_OK);
  assert_float_equal(y[0], 1.0 / (1 + 0.5 * (1 + 4)), 1e-6);
  assert_float_equal(y[1], 2.0 / (1 + 0.5 * (4 + 9)), 1e-6);
  assert_float_equal(y[2], 3.0 / (1 + 0.5 * 9), 1e-6);
  /* size 7 over 3 channels: every sum is all of them; beta 0.5, bias 2. */
  assert_int_equal(pare_ref_lrn_f32(x, 3, dims, 7, 0.7f, 0.5f, 2.0f, y), PARE_REF_OK);
  for (int c = 0; c < 3; c++) assert_float_equal(y[c], x[c] / sqrt(2 + 0.1 * 14), 1e-6);
  assert_int_equal(pare_ref_lrn_f32(x, 3, dims, 0, 1, 1, 1, y), PARE_REF_EINVAL);
  assert_int_equal(pare_ref_lrn_f32(x, 2, dims, 2, 1, 1, 1, y), PARE_REF_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads_bit_exact),
      cmocka_unit_test(test_conv_vs_im2col),
      cmocka_unit_test(test_conv_onnx_and_auto_pad),
      cmocka_unit_test(test_conv_invalid),
      cmocka_unit_test(test_conv_transpose),
      cmocka_unit_test(test_pool_onnx),
      cmocka_unit_test(test_pool_ceil_edges),
      cmocka_unit_test(test_pool_vs_oracle),
      cmocka_unit_test(test_global_pool),
      cmocka_unit_test(test_batchnorm),
      cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_reduce_mean),
      cmocka_unit_test(test_transpose_concat),
      cmocka_unit_test(test_slice),
      cmocka_unit_test(test_pad),
      cmocka_unit_test(test_gather),
      cmocka_unit_test(test_resize),
      cmocka_unit_test(test_broadcast),
      cmocka_unit_test(test_prelu),
      cmocka_unit_test(test_lrn),
  };
  return cmocka_run_group_tests_name("reference ops", tests, NULL, NULL);
}
