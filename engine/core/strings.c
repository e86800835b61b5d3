/* Small string helpers: bounded copies and case-insensitive search. */
#include <ctype.h>
#include <string.h>

#include "engine/core/core.h"

char *pare_strlcpy(char *dst, const char *src, size_t size) {
  if (size == 0) return dst;
  size_t n = src ? strlen(src) : 0;
  if (n >= size) n = size - 1;
  if (n) memcpy(dst, src, n);
  dst[n] = '\0';
  return dst;
}

const char *pare_str_find_ci(const char *haystack, const char *needle) {
  if (!haystack || !needle) return NULL;
  size_t n = strlen(needle);
  for (const char *h = haystack; *h; h++) {
    size_t i = 0;
    while (i < n && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i])) i++;
    if (i == n) return h;
  }
  return n == 0 ? haystack : NULL;
}

int pare_name_in_list(const char *list, const char *name) {
  if (!list || !name) return 0;
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && !strncmp(p, name, n)) return 1;
    if (!end) break;
    p = end + 1;
  }
  return 0;
}
