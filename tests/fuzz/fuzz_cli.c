/* libFuzzer target: bytes split at NUL into an argv for `pare`, run with
 * PARE_CLI_PARSE_ONLY=1 so that every command stops after parsing its
 * arguments: nothing is loaded, trained or written. (It does not change
 * folder: libFuzzer reads relative corpus paths after the first run.) */
#include "tests/fuzz/fuzz_common.h"

int pare_cli_main(int argc, char **argv); /* tools/pare.c's main, renamed */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    fuzz_setup();
    setenv("PARE_CLI_PARSE_ONLY", "1", 1);
    ready = 1;
  }
  if (size > 4096) return 0;
  /* One NUL-terminated copy; each NUL ends an argument. */
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  if (size) memcpy(buf, data, size);
  buf[size] = '\0';
  char *argv[FUZZ_MAX_ARGS + 2];
  int argc = 0;
  argv[argc++] = "pare";
  for (size_t i = 0; i <= size && argc < FUZZ_MAX_ARGS + 1;) {
    argv[argc++] = buf + i;
    i += strlen(buf + i) + 1;
  }
  argv[argc] = NULL;
  /* Only the commands known to honour PARE_CLI_PARSE_ONLY (a command added
   * later joins this list once it does). */
  static const char *checked[] = {"import",    "info",    "run",    "eval",    "train",   "distill",
                                  "compress",  "compare", "auto",   "devices", "version", "help",
                                  "--version", "-V",      "--help", "-h"};
  int known = 0;
  for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++)
    known |= argc > 1 && !strcmp(argv[1], checked[i]);
  if (known) pare_cli_main(argc, argv);
  free(buf);
  return 0;
}
