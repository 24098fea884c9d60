// See include/CMPI.h. Every call goes through a function pointer resolved by cmpi_load;
// calling one before a successful load is a programmer error and returns -1.
#include "CMPI.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

// Open MPI's handle types are pointers to incomplete structs; a void pointer has the same
// representation. MPI_COMM_WORLD and friends are the addresses of these globals. Compiled
// with -DCMPI_CHECK_AGAINST_MPI_H, the same typedefs are spelled with mpi.h's handle types
// and the real functions are assigned to them at the end of this file, so any difference
// between our declarations and Open MPI's is a compile error (with -Werror).
#ifdef CMPI_CHECK_AGAINST_MPI_H
#include <mpi.h>
#define COMM MPI_Comm
#define DTYPE MPI_Datatype
#define OP MPI_Op
#else
#define COMM void *
#define DTYPE void *
#define OP void *
#endif
typedef void *cmpi_handle;
#define CMPI_IN_PLACE ((void *)1)  // Open MPI: #define MPI_IN_PLACE ((void *) 1)

typedef int (*fn_initialized)(int *);
typedef int (*fn_finalized)(int *);
typedef int (*fn_init)(int *, char ***);
typedef int (*fn_finalize)(void);
typedef int (*fn_comm_rank)(COMM, int *);
typedef int (*fn_comm_size)(COMM, int *);
typedef int (*fn_allreduce)(const void *, void *, int, DTYPE, OP, COMM);
typedef int (*fn_allgather)(const void *, int, DTYPE, void *, int, DTYPE, COMM);
typedef int (*fn_barrier)(COMM);
typedef int (*fn_abort)(COMM, int);

static struct {
    fn_initialized initialized;
    fn_finalized finalized;
    fn_init init;
    fn_finalize finalize;
    fn_comm_rank comm_rank;
    fn_comm_size comm_size;
    fn_allreduce allreduce;
    fn_allgather allgather;
    fn_barrier barrier;
    fn_abort abort;
    cmpi_handle comm_world, t_float, t_double, t_byte, op_sum, op_max;
    int loaded;
} mpi;

static int resolve(void *lib, const char *name, void **out, char *error, size_t error_len) {
    dlerror();
    void *p = dlsym(lib, name);
    if (p == NULL) {
        const char *e = dlerror();
        snprintf(error, error_len, "symbol %s not found in libmpi (%s)", name, e ? e : "null");
        return -1;
    }
    *out = p;
    return 0;
}

int cmpi_load(const char *library, char *error, size_t error_len) {
    if (mpi.loaded) return 0;
    const char *names[] = {library, "libmpi.so.40", "libmpi.so", "libmpi.40.dylib"};
    void *lib = NULL;
    char first[512] = "";
    for (int i = 0; i < 4 && lib == NULL; i++) {
        if (names[i] == NULL) continue;
        // RTLD_GLOBAL: Open MPI's own plugins (mca_*.so) resolve libmpi's symbols globally.
        lib = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
        if (lib == NULL && first[0] == 0) {
            const char *e = dlerror();
            snprintf(first, sizeof first, "%s", e ? e : names[i]);
        }
        if (library != NULL) break;  // an explicit library is the only one tried
    }
    if (lib == NULL) {
        snprintf(error, error_len, "cannot load Open MPI's library: %s", first);
        return -1;
    }
    struct { const char *name; void **slot; } table[] = {
        {"MPI_Initialized", (void **)&mpi.initialized}, {"MPI_Finalized", (void **)&mpi.finalized},
        {"MPI_Init", (void **)&mpi.init}, {"MPI_Finalize", (void **)&mpi.finalize},
        {"MPI_Comm_rank", (void **)&mpi.comm_rank}, {"MPI_Comm_size", (void **)&mpi.comm_size},
        {"MPI_Allreduce", (void **)&mpi.allreduce}, {"MPI_Allgather", (void **)&mpi.allgather},
        {"MPI_Barrier", (void **)&mpi.barrier}, {"MPI_Abort", (void **)&mpi.abort},
        {"ompi_mpi_comm_world", &mpi.comm_world}, {"ompi_mpi_float", &mpi.t_float},
        {"ompi_mpi_double", &mpi.t_double}, {"ompi_mpi_byte", &mpi.t_byte},
        {"ompi_mpi_op_sum", &mpi.op_sum}, {"ompi_mpi_op_max", &mpi.op_max},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (resolve(lib, table[i].name, table[i].slot, error, error_len) != 0) return -1;
    }
    mpi.loaded = 1;
    return 0;
}

int cmpi_init(int *rank, int *size) {
    if (!mpi.loaded) return -1;
    int done = 0;
    if (mpi.initialized(&done) != 0) return -1;
    if (!done && mpi.init(NULL, NULL) != 0) return -1;
    if (mpi.comm_rank(mpi.comm_world, rank) != 0) return -1;
    return mpi.comm_size(mpi.comm_world, size);
}

int cmpi_finalize(void) {
    if (!mpi.loaded) return -1;
    int started = 0, finished = 0;
    mpi.initialized(&started);
    mpi.finalized(&finished);
    if (!started || finished) return 0;
    return mpi.finalize();
}

static cmpi_handle type_handle(cmpi_type t) {
    switch (t) {
    case CMPI_FLOAT: return mpi.t_float;
    case CMPI_DOUBLE: return mpi.t_double;
    default: return mpi.t_byte;
    }
}

int cmpi_allreduce(void *buffer, int count, cmpi_type type, cmpi_op op) {
    if (!mpi.loaded) return -1;
    return mpi.allreduce(CMPI_IN_PLACE, buffer, count, type_handle(type), op == CMPI_SUM ? mpi.op_sum : mpi.op_max,
                         mpi.comm_world);
}

int cmpi_allgather_bytes(const void *in, void *out, int bytes) {
    if (!mpi.loaded) return -1;
    return mpi.allgather(in, bytes, mpi.t_byte, out, bytes, mpi.t_byte, mpi.comm_world);
}

int cmpi_barrier(void) {
    if (!mpi.loaded) return -1;
    return mpi.barrier(mpi.comm_world);
}

int cmpi_abort(int code) {
    if (!mpi.loaded) return -1;
    return mpi.abort(mpi.comm_world, code);
}

#ifdef CMPI_CHECK_AGAINST_MPI_H
// Compile with `clang -fsyntax-only -Werror -DCMPI_CHECK_AGAINST_MPI_H $(mpicc --showme:compile)
// -Iinclude cmpi_shim.c`: each real function must fit our pointer type exactly.
_Static_assert(MPI_SUCCESS == 0, "MPI_SUCCESS is 0");
_Static_assert(sizeof(MPI_Comm) == sizeof(cmpi_handle) && sizeof(MPI_Datatype) == sizeof(cmpi_handle)
                   && sizeof(MPI_Op) == sizeof(cmpi_handle), "MPI handles are pointers");
void cmpi_check_types(void);
void cmpi_check_types(void) {
    fn_initialized initialized = MPI_Initialized;
    fn_finalized finalized = MPI_Finalized;
    fn_init init = MPI_Init;
    fn_finalize finalize = MPI_Finalize;
    fn_comm_rank rank = MPI_Comm_rank;
    fn_comm_size size = MPI_Comm_size;
    fn_allreduce allreduce = MPI_Allreduce;
    fn_allgather allgather = MPI_Allgather;
    fn_barrier barrier = MPI_Barrier;
    fn_abort abort_ = MPI_Abort;
    (void)initialized; (void)finalized; (void)init; (void)finalize; (void)rank; (void)size;
    (void)allreduce; (void)allgather; (void)barrier; (void)abort_;
    // The predefined handles are the addresses of the globals cmpi_load resolves by name.
    MPI_Comm world = MPI_COMM_WORLD;
    MPI_Datatype types[] = {MPI_FLOAT, MPI_DOUBLE, MPI_BYTE};
    MPI_Op ops[] = {MPI_SUM, MPI_MAX};
    _Static_assert(__builtin_types_compatible_p(__typeof__(&ompi_mpi_comm_world), struct ompi_predefined_communicator_t *),
                   "MPI_COMM_WORLD is &ompi_mpi_comm_world");
    (void)world; (void)types; (void)ops;
    (void)&ompi_mpi_float; (void)&ompi_mpi_double; (void)&ompi_mpi_byte; (void)&ompi_mpi_op_sum; (void)&ompi_mpi_op_max;
}
#endif
