/* The model behind the public pare_model handle. */
#ifndef PARE_ENGINE_MODEL_INTERNAL_H
#define PARE_ENGINE_MODEL_INTERNAL_H

#include "engine/exec/exec.h"

struct pare_model {
  pare_graph *graph;
  pare_plan *plan; /* for the last input shapes */
  char path[1024];
  pare_error error;
};

#endif
