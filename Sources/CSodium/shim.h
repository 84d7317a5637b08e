#ifndef EVIDENCEVAULT_CSODIUM_SHIM_H
#define EVIDENCEVAULT_CSODIUM_SHIM_H
#include <sodium.h>
#endif
