#!/usr/bin/env python3
"""The events of the benchmark's bulk HTTP load (Benchmarks/lua/bulk.lua) as an NDJSON file.

The same shape, line for line: a department's sync of people new to the hub, one
`person.updated` per person (a name and a region), ids and subjects numbered as the load's
two wrk threads number them. `yidang import` of this file is the anchor the HTTP path is
compared with: the same events through the same writer, without HTTP.

  python3 Tools/bulkgen.py --events 200000 --out bulk.ndjson
"""
import argparse

W_ID = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def citizen(n):
    """bulk.lua's citizen(n): a valid 公民身份号码 numbered n (GB 11643 MOD 11-2)."""
    day, month = n % 28 + 1, (n // 28) % 12 + 1
    year, seq = 1950 + (n // 336) % 50, (n // 16800) % 1000
    body = "330203%04d%02d%02d%03d" % (year, month, day, seq)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W_ID)) % 11]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200000)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(a.out, "w", encoding="utf-8") as f:
        for c in range(1, a.events + 1):
            # Two threads, 1000-event requests: thread t's counter-th event.
            t, counter = 1 + (c - 1) // 1000 % 2, ((c - 1) // 2000) * 1000 + (c - 1) % 1000 + 1
            n = 500000000 + t * 10000000 + counter
            f.write('{"specversion":"1.0","id":"bulk-%d-%d","source":"gongan","type":"person.updated",'
                    '"subject":"person/%s","time":"2026-11-20T08:00:00+08:00","data":{"name":"批量%d","regionCode":"330203"}}\n'
                    % (t, counter, citizen(n), n))


if __name__ == "__main__":
    main()
