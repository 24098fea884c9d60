// libhdf5's C API (Debian: libhdf5-dev). Only the Checkpoints target imports it.
#ifndef INSTRUCTKIT_CHDF5_SHIM_H
#define INSTRUCTKIT_CHDF5_SHIM_H
#include <hdf5.h>
#endif
