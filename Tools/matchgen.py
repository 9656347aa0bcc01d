#!/usr/bin/env python3
"""A city for identity resolution (deterministic by seed): a registry of persons published by
公安 under their 公民身份号码, and records without one from other departments
(person/local/<key>), with a truth file naming the person behind every record.

The records without an identifier are:
  - registry persons as another department wrote them: homophones (张三 / 张叁), traditional
    characters, day and month swapped, new phones, phones written with spaces, addresses
    without the province and city, missing attributes (each record keeps its birth date, its
    address or its phone);
  - namesakes: different people who share a registry person's name, birth date and gender
    (other phone, other address);
  - people the registry does not know, some recorded by two departments.

  python3 Tools/matchgen.py --persons 5000 --records 3000 --seed 7 --out DIR --parts 2
writes DIR/registry.ndjson, DIR/records-1.ndjson … DIR/records-P.ndjson and DIR/truth.json
({"records": {"<source>/<key>": entity}, "registry": [ids]}; an entity is a registry ID or U<n>).
"""
import argparse, json, os, random, sys
from datetime import datetime, timedelta, timezone
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from citygen import COUNTIES, SURNAMES, GIVEN, VARIANT, STREETS, id_check  # noqa: E402

TRADITIONAL = {"张": "張", "刘": "劉", "陈": "陳", "杨": "楊", "黄": "黃", "赵": "趙", "吴": "吳", "郑": "鄭", "孙": "孫",
               "马": "馬", "许": "許", "韩": "韓", "冯": "馮", "邓": "鄧", "叶": "葉", "苏": "蘇", "吕": "呂", "卢": "盧",
               "钟": "鍾", "伟": "偉", "丽": "麗", "军": "軍", "杰": "傑", "涛": "濤", "华": "華", "国": "國", "红": "紅",
               "东": "東", "鹏": "鵬", "飞": "飛", "宇": "宇", "兰": "蘭", "霞": "霞", "娟": "娟", "艳": "豔", "强": "強"}
DEPARTMENTS = ["tongji", "jiaoyu", "weijian", "minzheng", "renshe"]
TZ = timezone(timedelta(hours=8))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=5000)
    ap.add_argument("--records", type=int, default=3000, help="records without a national identifier")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--parts", type=int, default=1, help="split the records into this many files (imports)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    base = datetime(2026, 1, 1, 8, 0, 0, tzinfo=TZ)
    phones = set()

    def phone():
        while True:
            p = "1" + rnd.choice("3589") + "".join(rnd.choice("0123456789") for _ in range(9))
            if p not in phones:
                phones.add(p)
                return p

    def address(region):
        return f"浙江省宁波市{COUNTIES[region][1]}{rnd.choice(STREETS)}{rnd.randint(1, 999)}号{rnd.randint(1, 30)}幢{rnd.randint(101, 2405)}室"

    def person():
        region = rnd.choice(list(COUNTIES))
        birth = datetime(rnd.randint(1950, 2008), 1, 1) + timedelta(days=rnd.randint(0, 364))
        gender = rnd.choice("12")
        name = rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.randint(1, 2)))
        return {"name": name, "gender": gender, "birthDate": f"{birth:%Y-%m-%d}", "phone": phone(),
                "residenceAddress": address(region), "regionCode": region}

    registry = []
    with open(os.path.join(a.out, "registry.ndjson"), "w", encoding="utf-8") as out:
        seen = set()
        for n in range(a.persons):
            p = person()
            while True:
                body = f"{p['regionCode']}{p['birthDate'].replace('-', '')}{rnd.randint(0, 499) * 2 + (1 if p['gender'] == '1' else 0):03d}"
                if body not in seen:
                    seen.add(body)
                    break
            pid = body + id_check(body)
            registry.append((pid, p))
            ev = {"specversion": "1.0", "id": f"gongan-{n}", "source": "gongan", "type": "person.updated",
                  "subject": f"person/{pid}", "time": (base + timedelta(seconds=n)).isoformat(), "data": p}
            out.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")

    def variant(p):
        """How another department wrote a person down."""
        d = {}
        name = p["name"]
        r = rnd.random()
        if r < 0.2:
            name = "".join(VARIANT.get(c, c) for c in name)
        elif r < 0.35:
            name = "".join(TRADITIONAL.get(c, c) for c in name)
        d["name"] = name
        if rnd.random() < 0.95:
            d["gender"] = p["gender"]
        y, m, dd = p["birthDate"].split("-")
        r = rnd.random()
        if r < 0.1 and int(dd) <= 12 and dd != m:
            d["birthDate"] = f"{y}-{dd}-{m}"
        elif r < 0.9:
            d["birthDate"] = p["birthDate"]
        r = rnd.random()
        if r < 0.3:
            d["phone"] = phone()
        elif r < 0.45:
            d["phone"] = f"{p['phone'][:3]} {p['phone'][3:7]} {p['phone'][7:]}"
        elif r < 0.8:
            d["phone"] = p["phone"]
        r = rnd.random()
        if r < 0.3:
            d["residenceAddress"] = p["residenceAddress"].replace("浙江省宁波市", "")
        elif r < 0.6:
            d["residenceAddress"] = p["residenceAddress"]
        # A record says at least one thing beside name and gender that the person's other
        # records can agree with: without it no matcher could tell (and none should link).
        if "birthDate" not in d and "residenceAddress" not in d and d.get("phone", "").replace(" ", "") != p["phone"]:
            d["birthDate"] = p["birthDate"]
        return d

    records = []   # (source, key, data, entity)
    unknown = 0
    counter = {}

    def add(data, entity, exclude=()):
        source = rnd.choice([d for d in DEPARTMENTS if d not in exclude])
        counter[source] = counter.get(source, 0) + 1
        records.append((source, f"{source[:2].upper()}-{counter[source]:07d}", data, entity))
        return source

    while len(records) < a.records:
        r = rnd.random()
        if r < 0.7:
            pid, p = rnd.choice(registry)
            add(variant(p), pid)
        elif r < 0.85:
            # A namesake: the name, birth date and gender of a registry person, not that person.
            _, p = rnd.choice(registry)
            unknown += 1
            other = person()
            add({"name": p["name"], "gender": p["gender"], "birthDate": p["birthDate"], "phone": other["phone"],
                 "residenceAddress": other["residenceAddress"]}, f"U{unknown}")
        else:
            unknown += 1
            p = person()
            first = add(variant(p), f"U{unknown}")
            if rnd.random() < 0.4:
                add(variant(p), f"U{unknown}", exclude=(first,))
    records = records[:a.records]
    rnd.shuffle(records)
    size = (len(records) + a.parts - 1) // a.parts
    for part in range(a.parts):
        with open(os.path.join(a.out, f"records-{part + 1}.ndjson"), "w", encoding="utf-8") as out:
            for n, (source, key, data, _) in enumerate(records[part * size:(part + 1) * size]):
                ev = {"specversion": "1.0", "id": f"{key}-1", "source": source, "type": "person.updated",
                      "subject": f"person/local/{key}", "time": (base + timedelta(days=30, minutes=n)).isoformat(), "data": data}
                out.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")
    with open(os.path.join(a.out, "truth.json"), "w", encoding="utf-8") as f:
        json.dump({"records": {f"{s}/{k}": e for s, k, _, e in records}, "registry": [pid for pid, _ in registry]}, f)


if __name__ == "__main__":
    main()
