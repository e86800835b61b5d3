/* Whole-file reads, atomic writes and folder creation. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/core/core.h"

pare_status pare_file_read(const char *path, void **data, size_t *size, pare_error *err) {
  *data = NULL;
  *size = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return pare_error_set(err, PARE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap + 1);
  if (!buf) {
    fclose(f);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "%s: out of memory", path);
  }
  for (;;) {
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (len < cap) break;
    char *bigger = realloc(buf, cap * 2 + 1);
    if (!bigger) {
      free(buf);
      fclose(f);
      return pare_error_set(err, PARE_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    buf = bigger;
    cap *= 2;
  }
  int failed = ferror(f);
  fclose(f);
  if (failed) {
    free(buf);
    return pare_error_set(err, PARE_ERR_IO, "%s: read error", path);
  }
  buf[len] = '\0';
  *data = buf;
  *size = len;
  return PARE_OK;
}

pare_status pare_file_write_atomic(const char *path, const void *data, size_t size,
                                   pare_error *err) {
  size_t n = strlen(path);
  char *tmp = malloc(n + 32);
  if (!tmp) return pare_error_set(err, PARE_ERR_NO_MEMORY, "%s: out of memory", path);
  snprintf(tmp, n + 32, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    pare_status st = pare_error_set(err, PARE_ERR_IO, "%s: cannot create a temporary file: %s",
                                    path, strerror(errno));
    free(tmp);
    return st;
  }
  const char *p = data;
  size_t left = size;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      if (w == 0) errno = EIO;
      break;
    }
    p += w;
    left -= (size_t)w;
  }
  int ok = left == 0 && fsync(fd) == 0;
  int saved = ok ? 0 : errno;
  if (close(fd) != 0 && ok) {
    ok = 0;
    saved = errno;
  }
  if (ok && (chmod(tmp, 0644) != 0 || rename(tmp, path) != 0)) {
    ok = 0;
    saved = errno;
  }
  if (!ok) {
    unlink(tmp);
    free(tmp);
    return pare_error_set(err, PARE_ERR_IO, "%s: write failed: %s", path, strerror(saved));
  }
  free(tmp);
  return PARE_OK;
}

pare_status pare_mkdirs(const char *path, pare_error *err) {
  char buf[4096];
  if (strlen(path) >= sizeof buf)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: path too long", path);
  pare_strlcpy(buf, path, sizeof buf);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return pare_error_set(err, PARE_ERR_IO, "%s: cannot create folder: %s", buf,
                              strerror(errno));
      *p = c;
      if (c == '\0') break;
    }
  }
  return PARE_OK;
}
