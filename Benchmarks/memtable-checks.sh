#!/usr/bin/env bash
# How many of the memtable's key comparisons are RocksDB's own assertion checks.
#
# Debian's librocksdb is built with assert() left in: InlineSkipList checks its splice level
# by level after every insert, and each check is a key comparison. This builds the hub's
# memtable inserts alone (memtable/skiplist-model.c: the five keys an event of a bulk load
# of new people writes, in sorted groups of 1000 events, the hub's memtable settings), runs
# them under callgrind, and sorts the comparisons into assertion checks and the rest
# (memtable/checks.py, which finds the check sites in the installed library's disassembly).
# Give it callgrind files of the server (recorded with --dump-instr=yes) to sort theirs too.
#
# Usage: Benchmarks/memtable-checks.sh [CALLGRIND_OUT...]
# Needs gcc, valgrind, binutils and librocksdb-dev.
set -euo pipefail
cd "$(dirname "$0")"
LIB=$(ldconfig -p | awk '/librocksdb\.so\.[0-9]/ {print $NF; exit}')
LIB=$(readlink -f "$LIB")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
gcc -O2 -Wall -o "$WORK/model" memtable/skiplist-model.c -lrocksdb
echo "== perf context, 120 groups of 1000 events (600,000 inserts)"
"$WORK/model" 120 1000 "$WORK/db"
rm -rf "$WORK/db"
echo "== callgrind, 40 groups of 1000 events"
valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$WORK/model.callgrind" "$WORK/model" 40 1000 "$WORK/db" > /dev/null 2> "$WORK/valgrind.log"
python3 memtable/checks.py "$LIB" "$WORK/model.callgrind" "$@"
