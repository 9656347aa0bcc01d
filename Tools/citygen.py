#!/usr/bin/env python3
"""Synthetic city generator for Yidang (deterministic by seed).

Writes NDJSON CloudEvents from the configured departments about N persons and M
enterprises of 宁波 (GB/T 2260 codes 3302xx), with configurable rates of genuine
disagreements, whitespace/full-width-only differences, out-of-order arrival, 15-digit
legacy IDs and invalid records, plus a truth file of expected golden values, expected
open conflicts and expected rejects.

  python3 Tools/citygen.py --persons 1000 --enterprises 100 --seed 7 --out city.ndjson --truth truth.json
"""
import argparse, json, random, sys
from datetime import datetime, timedelta, timezone

COUNTIES = {"330203": (1984, "海曙区"), "330205": (1984, "江北区"), "330206": (1985, "北仑区"), "330211": (1985, "镇海区"),
            "330212": (2002, "鄞州区"), "330213": (2016, "奉化区"), "330225": (1980, "象山县"), "330226": (1980, "宁海县"),
            "330281": (1985, "余姚市"), "330282": (1988, "慈溪市")}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢傅钟"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅志强海燕晓东文俊雪丹鹏飞宇浩然子涵欣怡梓轩佳琪"
VARIANT = {"三": "叁", "伟": "玮", "芳": "方", "丽": "莉", "明": "铭", "华": "桦", "军": "君", "杰": "洁", "强": "蔷", "静": "靖"}
STREETS = ["中山东路", "解放南路", "百丈路", "江东北路", "天童南路", "钱湖北路", "新河路", "环城西路", "人民路", "四明中路"]
TZ = timezone(timedelta(hours=8))
W_ID = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"
W_USCC = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

def id_check(body17):
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, W_ID)) % 11]

def org_check(body8):
    s = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, [3, 7, 9, 10, 5, 8, 4, 2]))
    r = 11 - s % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)

def uscc(region, rnd):
    body8 = "".join(rnd.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    b = "91" + region + body8 + org_check(body8)
    return b + ALPHA[(31 - sum(ALPHA.index(c) * w for c, w in zip(b, W_USCC)) % 31) % 31]

def fullwidth(s):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1000)
    ap.add_argument("--enterprises", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--disagree", type=float, default=0.05, help="share of persons with a genuine name disagreement")
    ap.add_argument("--width", type=float, default=0.05, help="share with whitespace/full-width-only differences")
    ap.add_argument("--out-of-order", type=float, default=0.03, help="share whose gongan update arrives before an older one")
    ap.add_argument("--legacy", type=float, default=0.05, help="share of events using a 15-digit ID")
    ap.add_argument("--invalid", type=float, default=0.01, help="share of extra invalid events")
    ap.add_argument("--missing", type=float, default=0.05, help="share of persons without optional attributes")
    ap.add_argument("--out", default="-")
    ap.add_argument("--truth")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    out = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8")
    base = datetime(2026, 1, 1, 8, 0, 0, tzinfo=TZ)
    seq = [0]
    line = [0]
    truth = {"golden": {}, "conflicts": [], "rejects": []}

    def emit(source, typ, subject, t, data):
        seq[0] += 1
        line[0] += 1
        ev = {"specversion": "1.0", "id": f"{source}-{seq[0]:09d}", "source": source, "type": typ, "subject": subject,
              "time": t.isoformat(), "datacontenttype": "application/json", "data": data}
        out.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")

    def when(day, minute=0):
        return base + timedelta(days=day, minutes=minute)

    regions = list(COUNTIES)
    enterprises = []
    for e in range(a.enterprises):
        region = rnd.choice(regions)
        enterprises.append((uscc(region, rnd), region))
    persons = []
    for p in range(a.persons):
        region = rnd.choice(regions)
        lo = max(1950, COUNTIES[region][0])
        year = rnd.randint(lo, max(2005, lo + 5))
        birth = datetime(year, 1, 1) + timedelta(days=rnd.randint(0, 364))
        b = f"{region}{birth:%Y%m%d}{rnd.randint(0, 999):03d}"
        pid = b + id_check(b)
        name = rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.randint(1, 2)))
        persons.append((pid, region, birth, name))

    # Enterprises: scjg registers, shuiwu and renshe follow.
    for i, (code, region) in enumerate(enterprises):
        subject = f"enterprise/{code}"
        rep = persons[rnd.randrange(len(persons))][0] if persons else None
        data = {"name": f"宁波{rnd.choice(['海天', '甬江', '东钱湖', '四明', '天一'])}{rnd.choice(['贸易', '科技', '制造', '物流'])}有限公司{i}",
                "type": "有限责任公司", "registeredAddress": f"浙江省宁波市{COUNTIES[region][1]}{rnd.choice(STREETS)}{rnd.randint(1, 999)}号",
                "regionCode": region, "registeredCapital": rnd.choice([100, 500, 1000, 5000]), "establishedDate": f"{rnd.randint(1995, 2025)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
                "status": "存续"}
        if rep:
            data["legalRepresentative"] = rep
        emit("scjg", "enterprise.updated", subject, when(1), data)
        emit("shuiwu", "enterprise.updated", subject, when(2), {"taxStatus": "正常"})
        emit("renshe", "enterprise.updated", subject, when(3), {"insuredEmployees": rnd.randint(1, 500)})
        truth["golden"][subject] = {"name": data["name"], "regionCode": region, "taxStatus": "正常"}

    for pid, region, birth, name in persons:
        subject = f"person/{pid}"
        legacy = pid[:6] + pid[8:17] if birth.year < 2000 else None
        def subj():
            return f"person/{legacy}" if legacy and rnd.random() < a.legacy else subject
        addr = f"浙江省宁波市{COUNTIES[region][1]}{rnd.choice(STREETS)}{rnd.randint(1, 999)}号"
        gender = "1" if int(pid[16]) % 2 == 1 else "2"
        expect = {"name": name, "gender": gender, "birthDate": f"{birth:%Y-%m-%d}", "regionCode": region, "householdAddress": addr}
        core = {"name": name, "gender": gender, "birthDate": f"{birth:%Y-%m-%d}", "ethnicity": "汉族", "householdAddress": addr, "regionCode": region}
        if rnd.random() < a.out_of_order:
            # gongan's newer fact arrives first; an older one (old address) arrives later and must not win.
            emit("gongan", "person.updated", subj(), when(20), core)
            emit("gongan", "person.updated", subj(), when(10), {"householdAddress": addr + "旧址"})
        else:
            emit("gongan", "person.updated", subj(), when(10), core)
        residence = f"浙江省宁波市{COUNTIES[region][1]}{rnd.choice(STREETS)}{rnd.randint(1, 999)}号"
        emit("zhujian", "person.updated", subj(), when(30), {"residenceAddress": residence})
        expect["residenceAddress"] = residence
        r = rnd.random()
        if r < a.disagree:
            chars = [c for c in name[1:] if c in VARIANT]
            wrong = name[0] + "".join(VARIANT.get(c, c) for c in name[1:]) if chars else name + "某"
            emit("renshe", "person.updated", subj(), when(40), {"name": wrong})
            truth["conflicts"].append([subject, "name"])
        elif r < a.disagree + a.width:
            emit("renshe", "person.updated", subj(), when(40), {"name": " " + name + "　"})
        if rnd.random() >= a.missing:
            emp = enterprises[rnd.randrange(len(enterprises))][0] if enterprises else None
            if emp:
                emit("renshe", "person.updated", subj(), when(41), {"employer": emp, "socialInsurance": "参保"})
                expect["employer"] = emp
            emit("yibao", "person.updated", subj(), when(42), {"medicalInsurance": "职工医保"})
            phone = f"13{rnd.randint(0, 9)}{rnd.randint(10000000, 99999999)}"
            emit(rnd.choice(["gongan", "yibao", "renshe"]), "person.updated", subj(), when(43), {"phone": phone})
            newer = f"15{rnd.randint(0, 9)}{rnd.randint(10000000, 99999999)}"
            emit(rnd.choice(["zhujian", "minzheng"]), "person.updated", subj(), when(44), {"phone": newer})
            expect["phone"] = newer
            emit("minzheng", "person.updated", subj(), when(45), {"maritalStatus": rnd.choice(["未婚", "已婚", "离婚"])})
        truth["golden"][subject] = expect
        if rnd.random() < a.invalid:
            bad = pid[:17] + ("0" if pid[17] != "0" else "1")
            emit("gongan", "person.updated", f"person/{bad}", when(50), {"name": name})
            truth["rejects"].append({"line": line[0], "code": "invalid-identifier"})
        if rnd.random() < a.invalid:
            emit("weijian", "person.updated", subject, when(50), {"bloodType": "A"})
            truth["rejects"].append({"line": line[0], "code": "unknown-attribute"})
    if out is not sys.stdout:
        out.close()
    if a.truth:
        with open(a.truth, "w", encoding="utf-8") as f:
            json.dump(truth, f, ensure_ascii=False)
    print(f"{seq[0]} events, {len(persons)} persons, {len(enterprises)} enterprises, "
          f"{len(truth['conflicts'])} expected conflicts, {len(truth['rejects'])} expected rejects", file=sys.stderr)

if __name__ == "__main__":
    main()
