#ifndef YIDANG_CROCKSDB_SHIM_H
#define YIDANG_CROCKSDB_SHIM_H
#include <rocksdb/c.h>
#endif
