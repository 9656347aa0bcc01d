"""Memtable key comparisons by purpose: RocksDB's own assertion checks against the rest.

Usage: checks.py LIBROCKSDB CALLGRIND_OUT...

A comparison is an assertion check when it is a call of the key comparator inside
InlineSkipList's code whose result decides only whether to call __assert_fail: one way out
of the conditional jump right after the call (its target, or the instruction after it)
calls __assert_fail before anything else is called or returned from. The call
sites are found in the library's own disassembly, so the count holds for the library
installed, not for one build's addresses. Each CALLGRIND_OUT must be recorded with
--dump-instr=yes.
"""
import re
import subprocess
import sys

library, profiles = sys.argv[1], sys.argv[2:]

# The skiplist's functions and their extents, from the dynamic symbol table.
symbols = subprocess.run(["nm", "-DC", "--defined-only", "-n", library], capture_output=True, text=True, check=True).stdout
entries = [(int(a, 16), name) for a, _, name in (l.split(" ", 2) for l in symbols.splitlines() if l.count(" ") >= 2)]
ranges = [(start, entries[i + 1][0]) for i, (start, name) in enumerate(entries[:-1])
          if "InlineSkipList<rocksdb::MemTableRep::KeyComparator const&>" in name and entries[i + 1][0] > start]

code = {}
for start, stop in ranges:
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", f"--start-address={start}", f"--stop-address={stop}", library],
                          capture_output=True, text=True, check=True).stdout
    for line in text.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", line)
        if m: code[int(m.group(1), 16)] = (m.group(2), m.group(3))
addresses = sorted(code)
following = {a: addresses[i + 1:i + 12] for i, a in enumerate(addresses)}

def calls_assert(target):
    """Whether the code at `target` calls __assert_fail before any other call, jump or return."""
    for a in [target] + following.get(target, []):
        op, args = code.get(a, ("", ""))
        if op == "call": return "__assert_fail" in args
        if op == "ret" or op.startswith("j"): return False
    return False

checks = set()
for a in addresses:
    op, args = code[a]
    if not (op == "call" and args.startswith("*")): continue            # the comparator, a virtual call
    for b in following[a][:3]:
        jop, jargs = code[b]
        if jop.startswith("j") and jop != "jmp":
            target = re.match(r"([0-9a-f]+)", jargs)
            after = following[b][0] if following[b] else None
            if (target and calls_assert(int(target.group(1), 16))) or (after and calls_assert(after)): checks.add(a)
            break

for path in profiles:
    lines = open(path).read().split("\n")
    names = {}
    for l in lines:
        m = re.match(r"^c?fn=\((\d+)\)(?: (.*))?$", l)
        if m and m.group(2): names[m.group(1)] = m.group(2)
    callee, pending, address = "", None, 0
    sites, costs, inserts = {}, {}, 0
    for l in lines:
        m = re.match(r"^cfn=\((\d+)\)", l)
        if m: callee = names.get(m.group(1), ""); continue
        if l.startswith("calls="): pending = int(l.split()[0][6:]); continue
        m = re.match(r"^(0x[0-9a-f]+|\+\d+|-\d+|\*)\s", l)
        if not m: continue
        step = m.group(1)
        if step.startswith("0x"): address = int(step, 16)
        elif step[0] == "+": address += int(step[1:])
        elif step[0] == "-": address -= int(step[1:])
        if pending is None: continue
        if "KeyComparator::operator()" in callee:
            sites[address] = sites.get(address, 0) + pending
            costs[address] = costs.get(address, 0) + int(l.split()[-1])
        elif "MemTable::Add(" in callee:
            inserts += pending
        pending = None
    if not inserts: continue
    compared, checked = sum(sites.values()), sum(n for a, n in sites.items() if a in checks)
    cost, checkCost = sum(costs.values()), sum(c for a, c in costs.items() if a in checks)
    print(f"{path}: {inserts} memtable inserts, {compared / inserts:.1f} key comparisons an insert, "
          f"{checked / inserts:.1f} of them assertion checks ({100 * checked / compared:.0f} %); "
          f"comparisons {cost / 1e6:.0f} M instructions, assertion checks {checkCost / 1e6:.0f} M")
