/* mpi.h: the CLI's MPI (mpi.c), the one place that talks to it. Built with
 * MPI=1 (the Makefile's default where mpicc is found); without it, or when no
 * MPI launcher (mpirun, srun) started the program, every function here says
 * "one process" and the program is what it is without MPI. The library has no
 * MPI: it takes a rank's share of the work and an all-reduce callback
 * (train.h, ns_train_dist), and the verbs below gather what ranks made. */
#ifndef NETSYNTH_CLI_MPI_H
#define NETSYNTH_CLI_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "netsynth/generate.h"
#include "netsynth/train.h"

/* MPI_Init when a launcher started the program (its environment says so);
 * without -j, each rank then takes its share of the node's cores. NS_OK or
 * NS_EIO with the message set. */
int cli_mpi_start(int *argc, char ***argv);
int cli_mpi_rank(void);
int cli_mpi_size(void);
/* The verb's end: MPI_Finalize after a success; after a failure on a run of
 * several processes, MPI_Abort (the others may wait in a collective and would
 * never learn of it): every rank stops, mpirun exits with `status`. */
void cli_mpi_finish(int failed, int status);
/* Refuse a verb that does not share its work (NS_EARG) when size > 1. */
int cli_mpi_alone(const char *verb);

/* Training verbs, between cli_catch_stop and cli_release_stop's places: NULL
 * when alone (then SIGINT/SIGTERM set *stop directly, stop.c); otherwise the
 * ranks' all-reduce (in place, in buckets), and a signal on any rank reaches
 * *stop on all of them inside the same all-reduce, so that all stop after
 * the same step. */
const ns_train_dist *cli_mpi_train_begin(volatile int *stop);
/* Release the signals; on rank 0 unless quiet, a line of what the all-reduce
 * cost: bytes per step, its share of a step, its mean time. */
void cli_mpi_train_end(const char *verb, int quiet);

/* The share [*first, *first + *count) of n items that this rank takes,
 * its ends at multiples of `align` (or n): generation's length strata
 * (NS_GEN_STRATA) then stay whole within one rank. */
void cli_mpi_share(size_t n, size_t align, size_t *first, size_t *count);
/* Every rank's flows appended in rank order to rank 0's g (others' g are
 * emptied): the flows of one process, in its order. */
int cli_mpi_gather_flows(ns_gen_flows *g);
/* dataset's gather (ns_dataset_opts.gather): every rank's buf[len] to rank
 * 0, in rank order, in *all (malloc'd; NULL, 0 on the others). */
int cli_mpi_gather_bytes(void *ctx, const void *buf, size_t len, void **all, size_t *all_len);
/* The last cli_mpi_gather_flows on rank 0: seconds waiting for the slowest
 * rank, seconds moving the flows, and their bytes. */
void cli_mpi_gather_cost(double *wait, double *seconds, uint64_t *bytes);

#endif
