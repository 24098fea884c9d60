// OpenSSL's libcrypto (Debian: libssl-dev), for SHA-256 through the EVP digest API.
// Linux only: on macOS the Hashing target uses CryptoKit instead.
#ifndef INSTRUCTKIT_CCRYPTO_SHIM_H
#define INSTRUCTKIT_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#endif
