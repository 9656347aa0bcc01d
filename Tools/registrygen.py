#!/usr/bin/env python3
"""Registry-snapshot workload for Yidang (deterministic by seed).

The shape of a city's first load: six departments each send their whole registry once,
one department after the other. Each department holds most of the city's people, in its
own order, with one event per person (a few attributes), so a subject's events are far
apart in the file, unlike a record-by-record export where they are adjacent.

  python3 Tools/registrygen.py --subjects 50000 --events 200000 --seed 11 --out registry.ndjson
"""
import argparse, json, random
from datetime import datetime, timedelta, timezone

TZ = timezone(timedelta(hours=8))
W_ID = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
COUNTIES = ["330203", "330205", "330206", "330211", "330212", "330213", "330225", "330226", "330281", "330282"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢傅钟"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华建国红梅志海燕晓东文俊雪丹鹏飞宇浩然子涵欣怡梓轩佳琪"
STREETS = ["中山东路", "解放南路", "百丈路", "江东北路", "天童南路", "钱湖北路", "新河路", "环城西路", "人民路", "四明中路"]


def citizen_id(region, birth, seq):
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W_ID)) % 11]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=50000)
    ap.add_argument("--events", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    people, seen = [], set()
    while len(people) < a.subjects:
        region = rnd.choice(COUNTIES)
        birth = datetime(1940, 1, 1) + timedelta(days=rnd.randrange(0, 365 * 80))
        pid = citizen_id(region, birth, rnd.randrange(1000))
        if pid in seen:
            continue
        seen.add(pid)
        people.append((pid, region, birth))

    # What each department's registry says about a person.
    def gongan(p, r):
        pid, region, birth = p
        return {"name": r.choice(SURNAMES) + r.choice(GIVEN) + r.choice(GIVEN), "gender": r.choice("12"),
                "birthDate": f"{birth:%Y-%m-%d}", "regionCode": region,
                "householdAddress": f"宁波市{r.choice(STREETS)}{r.randrange(1, 999)}号"}
    departments = [
        ("gongan", gongan),
        ("renshe", lambda p, r: {"socialInsurance": r.choice(["参保", "停保"]), "education": r.choice(["本科", "大专", "高中"])}),
        ("zhujian", lambda p, r: {"residenceAddress": f"宁波市{r.choice(STREETS)}{r.randrange(1, 999)}号{r.randrange(1, 30)}室"}),
        ("yibao", lambda p, r: {"medicalInsurance": r.choice(["职工医保", "居民医保"])}),
        ("weijian", lambda p, r: {"status": "alive", "phone": f"13{r.randrange(100000000, 999999999)}"}),
        ("minzheng", lambda p, r: {"maritalStatus": r.choice(["未婚", "已婚", "离婚"])}),
    ]
    # Each department covers an equal share of the events, i.e. most of the people.
    per = a.events // len(departments)
    start = datetime(2026, 11, 1, 8, 0, tzinfo=TZ)
    with open(a.out, "w", encoding="utf-8") as out:
        for d, (dept, payload) in enumerate(departments):
            registry = rnd.sample(people, min(per, len(people)))
            for i, p in enumerate(registry):
                when = start + timedelta(days=d, seconds=i)
                out.write(json.dumps({"specversion": "1.0", "id": f"{dept}-snap-{i}", "source": dept, "type": "person.updated",
                                      "subject": f"person/{p[0]}", "time": when.isoformat(), "data": payload(p, rnd)},
                                     ensure_ascii=False, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
