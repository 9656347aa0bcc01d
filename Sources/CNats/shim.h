#ifndef YIDANG_CNATS_SHIM_H
#define YIDANG_CNATS_SHIM_H
#include <nats/nats.h>
#endif
