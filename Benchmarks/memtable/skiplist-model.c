/* The hub's memtable inserts, alone: per event the five keys a bulk load of new people
 * writes (log position, subject index, idempotency key, golden record, change position),
 * in sorted groups of 1000 events, into a RocksDB with the hub's memtable settings (insert
 * hints per two-byte prefix, a memtable Bloom filter). Prints the key comparisons an insert
 * by key family (RocksDB's perf context). Used by memtable-checks.sh.
 * Usage: skiplist-model GROUPS EVENTS_PER_GROUP DB_DIRECTORY */
#include <rocksdb/c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { unsigned char bytes[64]; int length; int family; } Key;
static const char *families[] = {"log", "subject index", "idempotency", "golden record", "change"};

static int order(const void *a, const void *b) {
    const Key *x = a, *y = b;
    int n = x->length < y->length ? x->length : y->length;
    int c = memcmp(x->bytes, y->bytes, n);
    return c ? c : x->length - y->length;
}

static void bigEndian(unsigned char *p, uint64_t v) { for (int i = 7; i >= 0; i--) { p[i] = v & 255; v >>= 8; } }

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s GROUPS EVENTS_PER_GROUP DB_DIRECTORY\n", argv[0]); return 2; }
    int groups = atoi(argv[1]), perGroup = atoi(argv[2]);
    char *err = NULL;
    rocksdb_options_t *options = rocksdb_options_create(), *defaults = rocksdb_options_create();
    rocksdb_get_options_from_string(defaults, "memtable_insert_with_hint_prefix_extractor=rocksdb.FixedPrefix.2", options, &err);
    if (err) { fprintf(stderr, "%s\n", err); return 1; }
    rocksdb_options_destroy(defaults);
    rocksdb_options_set_create_if_missing(options, 1);
    rocksdb_options_set_write_buffer_size(options, 64 << 20);
    rocksdb_options_set_memtable_prefix_bloom_size_ratio(options, 0.1);
    rocksdb_options_set_memtable_whole_key_filtering(options, 1);
    rocksdb_t *db = rocksdb_open(options, argv[3], &err);
    if (err) { fprintf(stderr, "%s\n", err); return 1; }
    rocksdb_writeoptions_t *write = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(write, 1);
    rocksdb_set_perf_level(rocksdb_enable_count);
    rocksdb_perfcontext_t *perf = rocksdb_perfcontext_create();
    Key *keys = malloc(sizeof(Key) * perGroup * 5);
    unsigned char value[300];
    memset(value, 'v', sizeof value);
    uint64_t position = 1, compared[5] = {0}, inserted[5] = {0};
    srand(7);
    for (int g = 0; g < groups; g++) {
        int n = 0;
        for (int i = 0; i < perGroup; i++, position++) {
            char id[19];
            for (int j = 0; j < 18; j++) id[j] = '0' + rand() % 10;
            Key *k = &keys[n++]; k->family = 0; k->bytes[0] = 0x01; bigEndian(k->bytes + 1, position); k->length = 9;
            k = &keys[n++]; k->family = 1; k->bytes[0] = 0x02; k->bytes[1] = 0; memcpy(k->bytes + 2, id, 18); k->bytes[20] = 0;
            bigEndian(k->bytes + 21, position); k->length = 29;
            k = &keys[n++]; k->family = 2; k->bytes[0] = 0x03;
            k->length = 1 + snprintf((char *)k->bytes + 1, 60, "gongan%cbulk-%d-%d", 0, g, i);
            k = &keys[n++]; k->family = 3; k->bytes[0] = 0x10; k->bytes[1] = 0; memcpy(k->bytes + 2, id, 18); k->length = 20;
            k = &keys[n++]; k->family = 4; k->bytes[0] = 0x13; bigEndian(k->bytes + 1, position); k->length = 9;
        }
        qsort(keys, n, sizeof(Key), order);
        /* One batch per family, in key order: the inserts are those of one sorted batch. */
        for (int s = 0; s < n;) {
            int family = keys[s].family, e = s;
            rocksdb_writebatch_t *batch = rocksdb_writebatch_create();
            for (; e < n && keys[e].family == family; e++)
                rocksdb_writebatch_put(batch, (char *)keys[e].bytes, keys[e].length, (char *)value, family == 3 ? 300 : 150);
            rocksdb_perfcontext_reset(perf);
            rocksdb_write(db, write, batch, &err);
            if (err) { fprintf(stderr, "%s\n", err); return 1; }
            compared[family] += rocksdb_perfcontext_metric(perf, rocksdb_user_key_comparison_count);
            inserted[family] += e - s;
            rocksdb_writebatch_destroy(batch);
            s = e;
        }
    }
    uint64_t allCompared = 0, allInserted = 0;
    for (int f = 0; f < 5; f++) {
        printf("%-14s %6.1f comparisons an insert\n", families[f], (double)compared[f] / inserted[f]);
        allCompared += compared[f]; allInserted += inserted[f];
    }
    printf("%-14s %6.1f comparisons an insert (%llu inserts)\n", "all", (double)allCompared / allInserted, (unsigned long long)allInserted);
    free(keys);
    rocksdb_perfcontext_destroy(perf);
    rocksdb_writeoptions_destroy(write);
    rocksdb_close(db);
    rocksdb_options_destroy(options);
    return 0;
}
