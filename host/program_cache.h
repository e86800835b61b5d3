/* On-disk cache of built OpenCL program binaries.
 *
 * An entry is keyed by the kernel source hash, the build options, the
 * device name, the driver version and the platform version; its file holds
 * that whole key and a checksum of the binary, so a corrupt, truncated or
 * stale entry is detected and never handed to the driver. */
#ifndef PARE_HOST_PROGRAM_CACHE_H
#define PARE_HOST_PROGRAM_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/core.h"

/* The cache folder: PARE_CACHE_DIR, else $XDG_CACHE_HOME/pare, else
 * $HOME/.cache/pare. Returns PARE_ERR_IO when none can be named. */
pare_status pare_program_cache_dir(const char *override, char *buf, size_t size);

/* The entry's file path for a key text. */
void pare_program_cache_path(const char *dir, const char *key, char *buf, size_t size);

/* Loads the binary stored for `key`. PARE_ERR_IO: no entry; PARE_ERR_FORMAT:
 * the entry is corrupt, truncated or for another key (err says which). */
pare_status pare_program_cache_load(const char *dir, const char *key, unsigned char **binary,
                                    size_t *size, pare_error *err);

/* Stores (atomically replaces) the binary for `key`, then keeps the
 * folder's entries within pare_program_cache_limit(). */
pare_status pare_program_cache_store(const char *dir, const char *key, const unsigned char *binary,
                                     size_t size, pare_error *err);

/* The bytes the folder's entries may take: PARE_CACHE_MAX_MB (0: no
 * bound), else 256 MB. */
uint64_t pare_program_cache_limit(void);

/* Removes the least recently used entries (*.clbin, by modification time:
 * a load touches its entry) until the rest take at most max_bytes; other
 * files are left alone. Returns the entries removed (-1: the folder could
 * not be read). Several processes may trim one folder at once. */
int pare_program_cache_trim(const char *dir, uint64_t max_bytes);

#endif
