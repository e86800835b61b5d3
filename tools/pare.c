/* The `pare` command line: a thin layer over the public API.
 * Usage errors exit 2 with a one-line reason; failures exit 1. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pare/pare_onnx.h"
#include "tools/cli.h"

typedef struct command {
  const char *name;
  const char *summary;
  const char *usage;
  int (*run)(int argc, char **argv);
} command;

static const command *find_command(const char *name);
int cli_usage_error(const char *cmd, const char *fmt, const char *arg) {
  fprintf(stderr, "pare%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (see `pare help%s%s`)\n", cmd ? " " : "", cmd ? cmd : "");
  return 2;
}

int cli_parse_float(const char *cmd, const char *flag, const char *v, float *out) {
  char *end;
  double d = strtod(v, &end);
  if (*end || end == v || !isfinite(d)) return cli_usage_error(cmd, "bad number for %s", flag);
  *out = (float)d;
  return 0;
}

int cli_parse_count(const char *cmd, const char *flag, const char *v, long long lo, long long hi,
                    long long *out) {
  char *end;
  errno = 0;
  long long d = strtoll(v, &end, 10);
  if (*end || end == v || errno || d < lo || d > hi) {
    char what[160];
    snprintf(what, sizeof what, "%s takes a whole number from %lld to %lld, not '%.40s'", flag, lo,
             hi, v);
    return cli_usage_error(cmd, "%s", what);
  }
  *out = d;
  return 0;
}

double cli_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

float *cli_fixed_input(pare_model *m, int64_t batch, pare_tensor_view *in) {
  pare_tensor_view info;
  memset(in, 0, sizeof *in);
  if (pare_model_input_info(m, 0, &info) != PARE_OK) return NULL;
  in->dtype = PARE_DT_F32;
  in->rank = info.rank;
  int64_t numel = 1;
  for (int d = 0; d < info.rank; d++) {
    in->dims[d] = d == 0 ? batch : info.dims[d] > 0 ? info.dims[d] : 1;
    numel *= in->dims[d];
  }
  in->nbytes = sizeof(float) * (size_t)numel;
  float *x = malloc(in->nbytes ? in->nbytes : 1);
  if (!x) return NULL;
  for (int64_t i = 0; i < numel; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f;
  in->data = x;
  return x;
}

int cli_latency(pare_context *ctx, pare_model *m, int64_t batch, int reps, double *ms) {
  return cli_latency_interleaved(ctx, &m, 1, batch, reps, ms);
}

int cli_latency_interleaved(pare_context *ctx, pare_model *const *models, int n, int64_t batch,
                            int reps, double *ms) {
  pare_tensor_view *in = calloc((size_t)n, sizeof *in);
  float **x = calloc((size_t)n, sizeof *x);
  double *t = malloc(sizeof(double) * (size_t)reps * (size_t)n);
  int rc = !in || !x || !t ? n + 1 : 0;
  for (int i = 0; i < n && !rc; i++)
    if (!(x[i] = cli_fixed_input(models[i], batch, &in[i]))) rc = n + 1;
  /* Three untimed rounds, then each round runs every model once. */
  for (int r = -3; r < reps && !rc; r++)
    for (int i = 0; i < n && !rc; i++) {
      pare_tensor_view out;
      double t0 = cli_now_ms();
      if (pare_model_run(ctx, models[i], &in[i], 1, &out, 1) != PARE_OK) {
        rc = i + 1;
        break;
      }
      if (r >= 0) t[(size_t)i * (size_t)reps + (size_t)r] = cli_now_ms() - t0;
      pare_free(out.data);
    }
  for (int i = 0; i < n && !rc; i++) {
    double *ti = t + (size_t)i * (size_t)reps;
    qsort(ti, (size_t)reps, sizeof(double), cmp_double);
    ms[i] = ti[reps / 2];
  }
  for (int i = 0; x && i < n; i++) free(x[i]);
  free(x);
  free(in);
  free(t);
  return rc;
}

int cli_parse_only(void) {
  const char *v = getenv("PARE_CLI_PARSE_ONLY");
  return v && !strcmp(v, "1");
}

int cli_fail(const char *cmd, const char *fmt, const char *arg) {
  fprintf(stderr, "pare %s: ", cmd);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  return 1;
}

void cli_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

int cli_flag_value(int argc, char **argv, int *i, const char *flag, const char **value) {
  size_t n = strlen(flag);
  if (!strncmp(argv[*i], flag, n) && argv[*i][n] == '=') {
    *value = argv[*i] + n + 1;
    return 1;
  }
  if (strcmp(argv[*i], flag) != 0) return 0;
  if (*i + 1 >= argc) {
    *value = NULL;
    return 0;
  }
  *value = argv[++*i];
  return 1;
}

int cli_open_context(const char *cmd, const char *backend, const char *device, pare_context **ctx) {
  return cli_open_context_fuse(cmd, backend, device, 0, ctx);
}

int cli_open_context_fuse(const char *cmd, const char *backend, const char *device, int no_fuse,
                          pare_context **ctx) {
  pare_context_options opt = {0};
  opt.no_fuse = no_fuse;
  if (!strcmp(backend, "ref") || !strcmp(backend, "reference"))
    opt.backend = PARE_BACKEND_REFERENCE;
  else if (!strcmp(backend, "opencl"))
    opt.backend = PARE_BACKEND_OPENCL;
  else if (!strcmp(backend, "auto"))
    opt.backend = PARE_BACKEND_AUTO;
  else
    return cli_usage_error(cmd, "--backend must be ref, opencl or auto, not '%s'", backend);
  opt.device = device;
  if (pare_context_create(&opt, ctx) != PARE_OK) {
    int rc = cli_fail(cmd, "%s", *ctx ? pare_context_last_error(*ctx) : "cannot open a context");
    pare_context_destroy(*ctx);
    *ctx = NULL;
    return rc;
  }
  return 0;
}

static void print_device_json(const pare_device_info *d, int last) {
  printf("  {\"index\": %d, \"platform_index\": %d, \"platform\": ", d->device_index,
         d->platform_index);
  cli_json_str(stdout, d->platform);
  printf(", \"name\": ");
  cli_json_str(stdout, d->name);
  printf(", \"vendor\": ");
  cli_json_str(stdout, d->vendor);
  printf(", \"version\": ");
  cli_json_str(stdout, d->version);
  printf(", \"driver_version\": ");
  cli_json_str(stdout, d->driver_version);
  printf(", \"type\": \"%s\", \"family\": \"%s\", \"profile\": \"%s\", \"compute_units\": %u, "
         "\"clock_mhz\": %u, \"global_mem_bytes\": %llu, \"local_mem_bytes\": %llu, "
         "\"max_alloc_bytes\": %llu, \"max_work_group_size\": %zu, \"fp16\": %s, "
         "\"int8_dot\": %s, \"int8_dot_extension\": \"%s\", \"subgroups\": %s, \"images\": %s}%s\n",
         d->type, d->family, d->profile, d->compute_units, d->clock_mhz,
         (unsigned long long)d->global_mem_bytes, (unsigned long long)d->local_mem_bytes,
         (unsigned long long)d->max_alloc_bytes, d->max_work_group_size, d->fp16 ? "true" : "false",
         d->int8_dot ? "true" : "false", d->int8_dot_ext, d->subgroups ? "true" : "false",
         d->images ? "true" : "false", last ? "" : ",");
}

static void print_device_text(const pare_device_info *d) {
  printf("[%d] %s\n", d->device_index, d->name);
  printf("    platform     %s (#%d)\n", d->platform, d->platform_index);
  printf("    vendor       %s\n", d->vendor);
  printf("    version      %s, driver %s\n", d->version, d->driver_version);
  printf("    type         %s, family %s\n", d->type, d->family);
  printf("    profile      %s\n", d->profile);
  printf("    compute      %u units at %u MHz, max work-group %zu\n", d->compute_units,
         d->clock_mhz, d->max_work_group_size);
  printf("    memory       %.1f GiB global, %.0f KiB local, %.1f GiB max alloc\n",
         (double)d->global_mem_bytes / (1 << 30), (double)d->local_mem_bytes / 1024,
         (double)d->max_alloc_bytes / (1 << 30));
  printf("    features     fp16 %s, int8 dot %s%s%s%s, subgroups %s, images %s\n",
         d->fp16 ? "yes" : "no", d->int8_dot ? "yes" : "no", d->int8_dot ? " (" : "",
         d->int8_dot_ext, d->int8_dot ? ")" : "", d->subgroups ? "yes" : "no",
         d->images ? "yes" : "no");
}

static int cmd_devices(int argc, char **argv) {
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json"))
      json = 1;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage("devices");
      return 0;
    } else
      return cli_usage_error("devices", "unknown option '%s'", argv[i]);
  }
  if (cli_parse_only()) return 0;
  size_t count = 0;
  char err[512];
  pare_status st = pare_devices_list(NULL, 0, &count, err, sizeof err);
  pare_device_info *devs = count ? calloc(count, sizeof *devs) : NULL;
  if (count && !devs) return 1;
  if (count) st = pare_devices_list(devs, count, &count, err, sizeof err);
  if (json) {
    printf("{\"pare_version\": \"%s\", \"devices\": [\n", pare_version());
    for (size_t i = 0; i < count; i++) print_device_json(&devs[i], i + 1 == count);
    printf("], \"error\": ");
    cli_json_str(stdout, st == PARE_OK ? "" : err);
    printf("}\n");
  } else if (count == 0) {
    printf("no OpenCL device: %s\npare runs on its reference backend (CPU).\n", err);
  } else {
    for (size_t i = 0; i < count; i++) print_device_text(&devs[i]);
  }
  free(devs);
  return 0;
}

static int cmd_version(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("pare %s\n", pare_version());
  return 0;
}

static int cmd_help(int argc, char **argv);
int cmd_export(int argc, char **argv); /* tools/cmd_export.c */

static const command commands[] = {
    {"devices", "list OpenCL platforms and devices with their profiles",
     "usage: pare devices [--json]\n\n"
     "Lists every OpenCL device with the profile pare uses for it: family,\n"
     "compute units, memory, and the optional features verified by a test\n"
     "compile (fp16, int8 dot product). PARE_DEVICE picks the device pare uses\n"
     "(index or name substring); PARE_PROFILE forces a profile.\n\n"
     "  --json   one JSON object with a \"devices\" array",
     cmd_devices},
    {"import", "convert an ONNX model to a .pare file",
     "usage: pare import MODEL.onnx -o MODEL.pare\n\n"
     "Imports the ONNX model (opsets 7-18; older files whose ops kept their\n"
     "meaning too), folds constants and BatchNormalization into the layers before\n"
     "it, and writes the result atomically. An unsupported op or attribute stops\n"
     "the import with an error naming the node.",
     cmd_import},
    {"export", "write a model as ONNX (for onnxruntime and other runtimes)",
     "usage: pare export MODEL -o OUT.onnx [--float-weights]\n\n"
     "MODEL is a .pare or .onnx file, compressed or not. Writes its nodes and\n"
     "weights as ONNX, atomically; the opset is raised to what its ops need\n"
     "(QuantizeLinear/DequantizeLinear with an axis: 13), int4 weights are\n"
     "written as int8. Anything ONNX cannot express stops the export with an\n"
     "error naming the node or value.\n"
     "--float-weights stores quantized weights as float (each DequantizeLinear\n"
     "of constants folded): the same results, a larger file, and a file that\n"
     "onnxruntime runs at full speed (it runs those nodes on every inference\n"
     "and then misses its prepacked convolutions).",
     cmd_export},
    {"info", "per-layer table: shapes, parameters, MACs, bytes, sparsity, backend",
     "usage: pare info MODEL [--batch N] [--memory] [--json] [--backend ref|opencl|auto]\n"
     "                 [--device D]\n\n"
     "MODEL is a .pare or .onnx file. Shapes are for a batch of N (default 1).\n"
     "The backend column says where each node runs on the chosen backend; bytes\n"
     "are the weights as the .pare file stores them. --memory adds the activation\n"
     "memory at that batch: naive (a buffer per tensor), planned (pare's arena:\n"
     "layout ops alias, elementwise ops in place, greedy placement; the reference\n"
     "backend runs in it, OpenCL keeps a buffer per tensor) and the lower bound\n"
     "(the most bytes alive at one step).",
     cmd_info},
    {"run", "run a model on .npy inputs",
     "usage: pare run MODEL --input X.npy [--input NAME=Y.npy ...] [--output OUT.npy ...]\n"
     "                [--profile [--runs 10]] [--no-fuse] [--backend ref|opencl|auto]\n"
     "                [--device D]\n\n"
     "Inputs are .npy files or ONNX TensorProto .pb files, taken in the model's\n"
     "order, or by name with NAME=FILE. Outputs are written as .npy, in the\n"
     "model's order; outputs without a file are described. --profile first\n"
     "prints each node's time (mean of --runs runs after one untimed run; on a\n"
     "device each node is waited for) and its share of the total, then on\n"
     "OpenCL the bytes of the one device buffer that holds the activations.\n\n"
     "On OpenCL a Conv runs the BatchNormalization (folded into its weights),\n"
     "residual Add and Relu/Clip after it in one launch, a Gemm its Relu/Clip.\n"
     "--no-fuse runs every node as its own launch (as PARE_NO_FUSE=1 does), an\n"
     "ONNX model then keeping its BatchNormalization nodes: for comparisons.",
     cmd_run},
    {"eval", "top-1 accuracy and confusion matrix on a dataset",
     "usage: pare eval MODEL [--dataset fashion-mnist|DIR] [--split test|train] [--batch N]\n"
     "                 [--limit N] [--json] [--backend ref|opencl|auto] [--device D]\n\n"
     "Images are fed as floats in [0, 1], N x 1 x 28 x 28 (or N x 784 when the\n"
     "model takes 2-D input). DIR holds the four IDX .gz files.",
     cmd_eval},
    {"train", "train a model on Fashion-MNIST",
     "usage: pare train [--arch simplecnn[:C1,C2]|lenet5|mlp[:H1,H2]|FILE]\n"
     "                  [--dataset fashion-mnist|DIR]\n"
     "                  [--epochs N] [--batch B] [--lr X] [--optimizer sgd|adam]\n"
     "                  [--momentum M] [--weight-decay W] [--schedule constant|step|cosine]\n"
     "                  [--step-epochs E] [--warmup-epochs W] [--val-split F] [--seed S]\n"
     "                  [--checkpoint FILE] [--resume] [--backend ref|opencl|auto] -o "
     "MODEL.pare\n\n"
     "Trains from scratch (built-in architectures, PyTorch's default init;\n"
     "simplecnn:C1,C2 sets its two convolutions' widths, 16,32 by default;\n"
     "mlp:H1,H2 its two hidden layers', 300,100 (LeNet-300-100) by default) or\n"
     "continues training a .pare/.onnx model, on the OpenCL device when there\n"
     "is one. Batches are shuffled from the seed every epoch; --val-split holds\n"
     "out a fixed fraction for validation; --warmup-epochs W raises the rate\n"
     "linearly from lr/10 over the first W epochs, then the schedule runs. A\n"
     "progress bar shows on a terminal, one line per epoch otherwise. A\n"
     "checkpoint (model, optimizer state and position; MODEL.pare.ckpt unless\n"
     "--checkpoint names one) is written after every epoch and on Ctrl-C, which\n"
     "also saves the model as trained so far (exit 130); --resume continues\n"
     "from it with the same options.",
     cmd_train},
    {"distill", "train a student on a teacher's logits (knowledge distillation)",
     "usage: pare distill --teacher T.pare [--student ARCH|S.pare] [--alpha 0.1]\n"
     "                    [--temperature 4] [the options of pare train] -o MODEL.pare\n\n"
     "Loss: alpha*CE(labels, student) + (1-alpha)*T^2*KL(teacher/T || student/T),\n"
     "with the teacher run in inference mode on every batch, on the same device.\n"
     "The soft targets' gradient is about T times that of the labels at first,\n"
     "so distillation warms up for one epoch by default (--warmup-epochs 0\n"
     "turns it off; the default SGD rate is then 0.05/T). A recipe that gained\n"
     "over the student alone: --alpha 0.5 --temperature 4 (docs/training.md).",
     cmd_distill},
    {"compress", "prune, factorize, share or quantize a model's weights, then fine-tune",
     "usage: pare compress MODEL [--prune S] [--lowrank SPEC] [--share-bits B] -o OUT.pare\n"
     "  pruning:   --prune S  [--prune-mode layer|global|lamp|threshold|structured|\n"
     "             structured-l2|N:M]\n"
     "             [--dense first,last|none|NODE,...] [--prune-schedule oneshot|gradual]\n"
     "             [--prune-ramp 1.0]\n"
     "  weight sharing: --share-bits 1..8 [--share-dense first,last|NODE,...]\n"
     "             [--share-finetune centroids|reshare]\n"
     "  activations: --prune-activations S [--calib-images 1000]\n"
     "  quantization: --quant int8|int4|fp16|wN|wNa8 [--calib-method minmax|percentile|\n"
     "             entropy|mse] [--calib-images 1000] [--quant-dense first,last] [--per-tensor]\n"
     "             [--qat]  (with --finetune-epochs: quantization-aware fine-tuning)\n"
     "  low rank:  --lowrank energy=E|ratio=R|rank=N|auto=D\n"
     "             [--lowrank-conv channel|spatial|none] [--skip NODE,...] [--measure-batch B]\n"
     "             [--lowrank-data N]\n"
     "  training:  [--finetune-epochs N] [--lr 0.01] [--schedule cosine|constant|step]\n"
     "             [--weight-decay 0] [--batch 64] [--seed S] [--dataset fashion-mnist|DIR]\n"
     "             [--distill [--alpha 0.5] [--temperature 4]]\n"
     "             [--backend ref|opencl|auto] [--device N]\n\n"
     "Pruning (--prune S) sets weights of Conv, Gemm and MatMul layers to zero:\n"
     "layer (default) prunes each layer to S zeros by magnitude, global makes one\n"
     "magnitude cut over all of them, lamp one cut over all of them by LAMP score\n"
     "(w^2 over the layer's sum of the squares at least as large: no layer is\n"
     "emptied, whatever its scale), threshold zeroes |w| <= S, N:M (2:4, 4:8)\n"
     "keeps the N largest of every M inputs of an output; structured removes S of\n"
     "each layer's output channels (smallest L1 or L2 norm) and the inputs of the\n"
     "layer that reads them, so the model really shrinks. --dense names layers to\n"
     "leave alone (first and last by default; none for structured). Fine-tuning\n"
     "keeps pruned weights at zero; --prune-schedule gradual raises the sparsity\n"
     "over the fine-tuning epochs (cubic, pruning before each epoch) instead of\n"
     "pruning once; --prune-ramp F reaches S after that fraction of the epochs\n"
     "(default 1: at the last) and trains the rest at S. The file stores sparse weights compactly "
     "(docs/format.md).\n"
     "--prune-activations S (before the fine-tuning) zeroes, at run time, the\n"
     "activations entering each layer with |a| <= a per-layer threshold set on\n"
     "--calib-images training images so that S of them are zero (a Shrink node).\n\n"
     "Weight sharing (--share-bits B, after pruning and low rank) clusters each\n"
     "layer's nonzero weights by k-means and replaces them by their centroids: at\n"
     "most 2^B distinct values per layer, zero included when the layer has zeros\n"
     "(they stay zero). --share-dense names layers to leave alone (none by\n"
     "default). With --finetune-epochs the centroids train (centroids, the\n"
     "default: each shared value moves with the mean gradient of the weights\n"
     "holding it, assignments fixed, zeros kept; Deep Compression's trained\n"
     "quantization), or (reshare) the model trains one epoch at a time (the\n"
     "rate a cosine over the epochs) and is shared again after each. Not with\n"
     "an integer --quant.\n\n"
     "Low rank (--lowrank) replaces each Gemm, MatMul and Conv weight by two\n"
     "thinner layers from its truncated SVD: energy=E keeps the smallest rank\n"
     "holding E of the squared singular values, ratio=R at most R of the layer's\n"
     "parameters, rank=N a fixed rank; auto=D scans each layer's ranks on 2000\n"
     "training images and keeps the smallest that leaves the model within D\n"
     "points of its accuracy. Layers where the factors would not be smaller stay\n"
     "as they are. Convolutions: channel SVD (k x k with r filters, then 1 x 1)\n"
     "or spatial SVD (k x 1, then 1 x k). --measure-batch B times each layer alone\n"
     "on the OpenCL device at batch B in both forms and keeps the product where\n"
     "factoring is not faster. --lowrank-data N fits Gemm/MatMul factors to the\n"
     "layer's inputs on N training images (minimising the error on the data,\n"
     "not on the weights), which keeps more accuracy at the same rank.\n\n"
     "--quant (after any fine-tuning) stores Conv/Gemm/MatMul weights as int8, int4\n"
     "(2-8 bits) or fp16, symmetric per output channel, and with a8 or int8/int4\n"
     "passes each layer's input through uint8 quantize/dequantize with a range\n"
     "calibrated on --calib-images training images (ONNX QDQ: the numerics of an\n"
     "int8 engine, and an export onnxruntime runs).\n\n"
     "--finetune-epochs trains the result on the dataset (SGD with momentum, the\n"
     "learning rate annealed to 0 by a cosine unless --schedule says otherwise);\n"
     "--distill makes the uncompressed input model the teacher of that training\n"
     "(loss alpha*CE + (1-alpha)*T^2*KL, as pare distill).",
     cmd_compress},
    {"compare", "models side by side: accuracy, size, MACs, latency; CSV and HTML report",
     "usage: pare compare BASE.pare [MODEL.pare ...] [--names a,b,...] [--html report.html]\n"
     "                    [--csv table.csv] [--title T] [--dataset fashion-mnist|DIR]\n"
     "                    [--limit N] [--reps 20] [--no-latency] [--backend ref|opencl|auto]\n\n"
     "Evaluates each model on the dataset's test split (top-1 accuracy), reads its\n"
     "size on disk, counts its weights (and those not zero) and MACs, and times a\n"
     "run at batch 1 and 64 on the device (median of --reps after 3 warm-up runs;\n"
     "the models are timed in rounds, each once a round, so that the machine's\n"
     "load changing meanwhile hits them alike).\n"
     "The first model is the baseline of the drop, compression and speed-up\n"
     "columns. --html writes a self-contained report with the table and plots of\n"
     "accuracy against size and against latency; --csv the table.",
     cmd_compare},
    {"auto",
     "automated compression: per-layer channels, sparsity or rank, and bits under an accuracy "
     "budget",
     "usage: pare auto MODEL.pare -o OUT.pare [--max-drop 0.5] [--objective size|latency]\n"
     "                 [--dataset fashion-mnist|DIR] [--val-images 2000]\n"
     "                 [--finetune-epochs 2] [--channel-epochs N] [--channel-share 0.5]\n"
     "                 [--no-channels] [--lr 0.01] [--distill] [--seed 1] [--budget-minutes M]\n"
     "                 [--report out.html] [--backend ref|opencl|auto] [--device N]\n\n"
     "Two stages, each a scan, a search and a fine-tune. Channels: each layer\n"
     "whose output channels can be removed gets a ratio (0, 25, 50%); the narrowed\n"
     "model is fine-tuned for --channel-epochs (default: --finetune-epochs) and\n"
     "kept when it loses at most --channel-share of --max-drop (else the search\n"
     "halves its allowance, up to three rounds, then keeps every channel).\n"
     "Weights: each Conv, Gemm and MatMul gets a sparsity (0, 50, 70, 80, 90, 95%)\n"
     "or a low rank (factored into two layers holding 50 or 25% of its\n"
     "parameters), and a weight width (fp32, int8, int4). A scan measures every\n"
     "option of every layer alone (validation accuracy on the first\n"
     "--val-images training images, bytes on disk, and with --objective latency\n"
     "the batch-64 latency on the device: the model timed whole plus the change\n"
     "in its layers' own times, which each device measures once and keeps in its\n"
     "tuning database), then a greedy search takes the moves that save the most\n"
     "per point of estimated accuracy, checking each on the validation images.\n"
     "The result is factored and pruned, fine-tuned with the zeros kept and each\n"
     "layer at its width\n"
     "(--distill: from the original), quantized (uint8 activations too when that\n"
     "runs faster on the device), and checked against --max-drop (points,\n"
     "against the original); over it, the search runs again with half the\n"
     "allowance (three rounds at most). OUT.auto-channels and OUT.auto keep the\n"
     "scans: a run stopped (Ctrl-C, or --budget-minutes) resumes from them. Writes\n"
     "OUT-front.csv (every point, the Pareto front marked), its plots\n"
     "OUT-front.svg (accuracy against bytes) and OUT-front-latency.svg (when\n"
     "timed), and with --report an HTML page of plots and tables.",
     cmd_auto},
    {"tune", "search kernel parameters for a model's shapes on the device (tuning database)",
     "usage: pare tune MODEL [--batch 1] [--budget-seconds 120] [--reps 5] [--json]\n"
     "                 [--device D]\n\n"
     "Runs MODEL once at --batch on the OpenCL device, recording the shape of\n"
     "every convolution and GEMM launch, then searches each one's parameters:\n"
     "the convolution path (direct, 1x1 GEMM, implicit GEMM, Winograd F(2x2,\n"
     "3x3), im2col + GEMM) and its tiles and work-group size, then the GEMM\n"
     "register tile (tm, vw, nv) and work-group (wg0, wg1) of the GEMMs the\n"
     "chosen paths run. Candidates change one parameter at a time from the\n"
     "profile's values; one is kept when its median time over --reps launches\n"
     "is at least 3% lower and its output matches the untuned one.\n"
     "The winners go to the device's tuning database (beside the program\n"
     "cache), where every later run and session of any model with those shapes\n"
     "uses them; PARE_NO_TUNE=1 ignores them. Tune at the batch you deploy\n"
     "with: shapes are per batch. Prints untuned and tuned time per shape and\n"
     "the model's latency before and after (same run). Shapes not reached\n"
     "within --budget-seconds stay untuned (0: no limit).",
     cmd_tune},
    {"create", "a built-in architecture with fresh weights, as a .pare file",
     "usage: pare create ARCH -o OUT.pare [--seed S]\n\n"
     "ARCH: simplecnn[:C1,C2], lenet5, mlp[:H1,H2] (28x28 images, 10 classes), or\n"
     "resnet18, mobilenetv2 (3x224x224 images, 1000 classes; for benchmarks and\n"
     "memory figures), or resnet-block (ResNet-18's first basic block,\n"
     "conv3x3-bn-relu-conv3x3-bn-add-relu on 64x56x56; for fusion benchmarks), or\n"
     "inception-block (GoogLeNet's module 3a: four branches from 192x28x28\n"
     "concatenated to 256x28x28; for running branches side by side).\n"
     "Weights are drawn as PyTorch initialises them; batch norm stays unfolded.",
     cmd_create},
    {"version", "print the version", "usage: pare version   (or pare --version)", cmd_version},
    {"help", "show help for a command", "usage: pare help [COMMAND]", cmd_help},
};

static const command *find_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(commands[i].name, name)) return &commands[i];
  return NULL;
}

void cli_print_usage(const char *cmd) {
  const command *c = find_command(cmd);
  if (c) printf("%s\n", c->usage);
}

static void print_overview(FILE *out) {
  fprintf(out, "usage: pare COMMAND [OPTIONS]\n\n"
               "pare compresses neural networks and runs them on OpenCL devices.\n\n"
               "commands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n`pare help COMMAND` tells more. Environment: PARE_DEVICE, PARE_PROFILE,\n"
               "PARE_CACHE_DIR, PARE_LOG_LEVEL, PARE_OPENCL_LIBRARY.\n");
}

static int cmd_help(int argc, char **argv) {
  if (argc < 2) {
    print_overview(stdout);
    return 0;
  }
  const command *c = find_command(argv[1]);
  if (!c) return cli_usage_error("help", "unknown command '%s'", argv[1]);
  printf("%s\n", c->usage);
  return 0;
}

int main(int argc, char **argv) {
  pare_onnx_enable(); /* the CLI reads .onnx models and .pb tensors too */
  if (argc < 2) {
    print_overview(stderr);
    return 2;
  }
  const char *name = argv[1];
  if (!strcmp(name, "--version") || !strcmp(name, "-V")) return cmd_version(0, NULL);
  if (!strcmp(name, "--help") || !strcmp(name, "-h")) return cmd_help(1, argv);
  const command *c = find_command(name);
  if (!c) return cli_usage_error(NULL, "unknown command '%s'", name);
  return c->run(argc - 1, argv + 1);
}
