#ifndef EVIDENCEVAULT_COPENSSLCRYPTO_SHIM_H
#define EVIDENCEVAULT_COPENSSLCRYPTO_SHIM_H
/* SHA-256 only (Sources/VaultCrypto/Hashing.swift): the EVP digest interface of
   the system's OpenSSL libcrypto, which uses SHA-NI where the CPU has it. */
#include <openssl/evp.h>
#endif
