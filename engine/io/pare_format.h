/* The .pare file: a graph and its weights in one flat, mmap-able file.
 * See docs/format.md for the layout. */
#ifndef PARE_ENGINE_IO_PARE_FORMAT_H
#define PARE_ENGINE_IO_PARE_FORMAT_H

#include "engine/graph/graph.h"

#define PARE_FORMAT_MAGIC   "PAREMDL\x01"
#define PARE_FORMAT_VERSION 3u
#define PARE_FORMAT_ALIGN   64u

/* Serializes g into a malloc'ed buffer (the tensor table and graph
 * deflated where that is smaller). */
pare_status pare_format_write_buffer(const pare_graph *g, void **data, size_t *size,
                                     pare_error *err);
/* The same with the tables' deflation chosen: 0 stores them as they are
 * (fuzz seeds and damage tests, whose mutations should reach the parser
 * rather than stop at zlib). */
pare_status pare_format_write_buffer_tables(const pare_graph *g, int deflate_tables, void **data,
                                            size_t *size, pare_error *err);
/* Writes g to path atomically (temporary file, then rename). */
pare_status pare_format_save(const pare_graph *g, const char *path, pare_error *err);

/* Parses a buffer (copying the weights); every offset, count and index is
 * checked, so a truncated or corrupted file gives PARE_ERR_FORMAT, never a
 * crash. */
pare_status pare_format_read_buffer(const void *data, size_t size, const char *what,
                                    pare_graph **out, pare_error *err);
/* Maps the file read-only; the graph's constants point into the mapping. */
pare_status pare_format_load(const char *path, pare_graph **out, pare_error *err);

/* Recomputes every CRC of a .pare buffer in place, so that damage behind
 * them reaches the parser: for fuzzing and tests. */
void pare_format_reseal(void *data, size_t size);

/* 1 when the bytes start with the .pare magic. */
int pare_format_is_pare(const void *data, size_t size);

#endif
