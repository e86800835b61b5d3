/* Training checkpoints: the model being trained, the optimizer state of
 * every parameter, and where the run stopped, in one file written
 * atomically. See docs/training.md ("Checkpoints"). */
#ifndef PARE_ENGINE_TRAIN_CHECKPOINT_H
#define PARE_ENGINE_TRAIN_CHECKPOINT_H

#include "engine/train/trainer.h"

typedef struct pare_checkpoint_progress {
  int64_t epoch;      /* epochs completed */
  int64_t batch;      /* batches completed within the next epoch */
  int64_t steps;      /* optimizer steps taken */
  int64_t batch_size; /* must match on resume */
  uint64_t seed;      /* must match on resume */
  int64_t optimizer;  /* pare_optimizer; must match on resume */
} pare_checkpoint_progress;

/* Writes g (with its current parameters) and t's optimizer state. The
 * trainer must have been synced (pare_trainer_sync) first. */
pare_status pare_checkpoint_save(const char *path, const pare_graph *g, pare_trainer *t,
                                 const pare_checkpoint_progress *p, pare_error *err);

/* Reads a checkpoint: the graph (owned by the caller) and the progress.
 * Corrupt or truncated files give PARE_ERR_FORMAT naming the path. */
pare_status pare_checkpoint_load(const char *path, pare_graph **g, pare_checkpoint_progress *p,
                                 pare_error *err);

/* Restores the optimizer state stored in the checkpoint at path into t
 * (created on the graph pare_checkpoint_load returned). */
pare_status pare_checkpoint_restore_state(const char *path, pare_trainer *t, pare_error *err);

#endif
