#!/usr/bin/env python3
"""The events of the benchmark's bulk HTTP load (Benchmarks/lua/bulk.lua), as an NDJSON file
or as the load's own request bodies.

The same shape, line for line: a department's sync of people new to the hub, one
`person.updated` per person (a name and a region), ids and subjects numbered as the load's
two wrk threads number them.

- `--out FILE`: the events as one NDJSON file. `yidang import` of it is the anchor the HTTP
  path is compared with: the same events through the same writer, without HTTP.
- `--bodies PREFIX --requests N` (or `--seconds S`: room for a load of S seconds at up to
  320 requests a second, the one place the benchmark scripts size it): each wrk thread's
  first N request bodies (1000 events each,
  byte for byte what bulk.lua builds), in `PREFIX.1` and `PREFIX.2`: a line `first N` (the
  number the events follow, `--first`, as BULK_FIRST), then each body as its length in bytes
  on a line of its own and the body. bulk.lua reads them when
  `BULK_BODIES=PREFIX` is set, as a department's sync client sends records it already holds,
  instead of building each body between two requests on the cores the hub runs on.

  python3 Tools/bulkgen.py --events 200000 --out bulk.ndjson
  python3 Tools/bulkgen.py --bodies /tmp/bulk-bodies --seconds 15
"""
import argparse

W_ID = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
EVENTS_PER_REQUEST = 1000
# Bodies a thread a second of load with --seconds: two threads, 320 requests a second between
# them (the CI-size suite's bulk ceiling reached 232; a run past the files builds the rest).
REQUESTS_PER_THREAD_SECOND = 160


def citizen(n):
    """bulk.lua's citizen(n): a valid 公民身份号码 numbered n (GB 11643 MOD 11-2)."""
    day, month = n % 28 + 1, (n // 28) % 12 + 1
    year, seq = 1950 + (n // 336) % 50, (n // 16800) % 1000
    body = "330203%04d%02d%02d%03d" % (year, month, day, seq)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W_ID)) % 11]


def event(t, counter):
    """Thread t's counter-th event, as bulk.lua formats it (no newline)."""
    n = 500000000 + t * 10000000 + counter
    return ('{"specversion":"1.0","id":"bulk-%d-%d","source":"gongan","type":"person.updated",'
            '"subject":"person/%s","time":"2026-11-20T08:00:00+08:00","data":{"name":"批量%d","regionCode":"330203"}}'
            % (t, counter, citizen(n), n))


def write_events(path, events):
    with open(path, "w", encoding="utf-8") as f:
        for c in range(1, events + 1):
            # Two threads, 1000-event requests: thread t's counter-th event.
            t = 1 + (c - 1) // EVENTS_PER_REQUEST % 2
            counter = ((c - 1) // (2 * EVENTS_PER_REQUEST)) * EVENTS_PER_REQUEST + (c - 1) % EVENTS_PER_REQUEST + 1
            f.write(event(t, counter) + "\n")


def write_bodies(prefix, requests, first):
    for t in (1, 2):
        with open("%s.%d" % (prefix, t), "wb") as f:
            # bulk.lua checks it against BULK_FIRST: bodies numbered apart from the run's own
            # would repeat another run's events, which the hub answers as duplicates.
            f.write(b"first %d\n" % first)
            counter = first
            for _ in range(requests):
                body = "\n".join(event(t, counter + i) for i in range(1, EVENTS_PER_REQUEST + 1)).encode("utf-8")
                counter += EVENTS_PER_REQUEST
                f.write(b"%d\n" % len(body))
                f.write(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200000)
    ap.add_argument("--out")
    ap.add_argument("--bodies", metavar="PREFIX")
    room = ap.add_mutually_exclusive_group()
    room.add_argument("--requests", type=int, default=1000, help="bodies per thread, with --bodies")
    room.add_argument("--seconds", type=int, help="with --bodies: room for a load this long")
    ap.add_argument("--first", type=int, default=0, help="with --bodies: number events after this, as BULK_FIRST does")
    a = ap.parse_args()
    if not a.out and not a.bodies:
        ap.error("--out or --bodies is required")
    if a.out:
        write_events(a.out, a.events)
    if a.bodies:
        requests = a.seconds * REQUESTS_PER_THREAD_SECOND if a.seconds is not None else a.requests
        write_bodies(a.bodies, requests, a.first)


if __name__ == "__main__":
    main()
