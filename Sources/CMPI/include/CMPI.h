// CMPI: the few Open MPI calls a data-parallel run needs, loaded at run time.
//
// The binary never links libmpi: `cmpi_load` dlopen()s Open MPI's libmpi.so.40 (only
// when the process was started by mpirun) and resolves the functions and the predefined
// handles below. A single-process run therefore needs no MPI installed. The declarations
// follow Open MPI's ABI (handles are pointers to its predefined globals, MPI_IN_PLACE is
// (void *)1); `cmpi_shim.c` checks them against Debian's mpi.h when compiled with
// -DCMPI_CHECK_AGAINST_MPI_H (Tests/instructTests/DistributedCommandLineTests.swift does that).
#ifndef CMPI_H
#define CMPI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Element types of a reduction.
typedef enum { CMPI_FLOAT = 0, CMPI_DOUBLE = 1, CMPI_BYTE = 2 } cmpi_type;
/// Reduction operations.
typedef enum { CMPI_SUM = 0, CMPI_MAX = 1 } cmpi_op;

/// Loads `library` (NULL: "libmpi.so.40", then "libmpi.so") and resolves every symbol.
/// Returns 0, or -1 with a message in `error` (at most `error_len` bytes, NUL-terminated).
int cmpi_load(const char *library, char *error, size_t error_len);
/// MPI_Init (when not yet initialised), then this process's rank and the world size.
int cmpi_init(int *rank, int *size);
/// MPI_Finalize (when initialised and not yet finalised).
int cmpi_finalize(void);
/// In-place MPI_Allreduce over MPI_COMM_WORLD of `count` elements.
int cmpi_allreduce(void *buffer, int count, cmpi_type type, cmpi_op op);
/// MPI_Allgather over MPI_COMM_WORLD of `bytes` bytes from each rank into `out` (size*bytes).
int cmpi_allgather_bytes(const void *in, void *out, int bytes);
/// MPI_Barrier over MPI_COMM_WORLD.
int cmpi_barrier(void);
/// MPI_Abort over MPI_COMM_WORLD: ends every rank with `code`.
int cmpi_abort(int code);

#ifdef __cplusplus
}
#endif
#endif
