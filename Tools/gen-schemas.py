#!/usr/bin/env python3
"""Writes Schemas/<type>.schema.json for every event type from config/yidang.default.yaml.
A test (YidangModelTests) keeps the committed files equal to what the configuration says."""
import json, os, yaml
root = os.path.join(os.path.dirname(__file__), "..")
cfg = yaml.safe_load(open(os.path.join(root, "config/yidang.default.yaml"), encoding="utf-8"))
TYPES = {"text": {"type": "string", "minLength": 1, "maxLength": 2000},
         "date": {"type": "string", "description": "YYYY-MM-DD (also YYYY/MM/DD, YYYYMMDD); a real date"},
         "phone": {"type": "string", "description": "7-15 digits after removing spaces, dashes and +86"},
         "citizenId": {"type": "string", "description": "公民身份号码, GB 11643-1999"},
         "creditCode": {"type": "string", "description": "统一社会信用代码, GB 32100-2015"},
         "regionCode": {"type": "string", "pattern": "^[1-9][0-9]{5}$"},
         "integer": {"type": ["integer", "string"], "description": "a non-negative integer"},
         "decimal": {"type": ["number", "string"], "description": "a non-negative decimal"}}
IDENT = {"person": "citizenId", "enterprise": "creditCode"}
def attr_schema(rule):
    s = dict(TYPES.get(rule["type"], {"type": "string"}))
    if rule["type"] == "code":
        s = {"enum": rule["values"]}
    s["x-sensitivity"] = rule["sensitivity"]
    s["x-precedence"] = rule["precedence"]
    return s
def write(name, schema):
    with open(os.path.join(root, "Schemas", name + ".schema.json"), "w", encoding="utf-8") as f:
        json.dump(schema, f, ensure_ascii=False, indent=2, sort_keys=True)
        f.write("\n")
for kind, entity in cfg["entities"].items():
    attrs = entity["attributes"]
    write(f"{kind}.updated", {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": f"{kind}.updated data",
          "type": "object", "minProperties": 1, "additionalProperties": False,
          "properties": {**{k: attr_schema(v) for k, v in attrs.items()},
                         # A local record (subject <kind>/local/<key>) may carry the national identifier its department holds.
                         IDENT[kind]: dict(TYPES[IDENT[kind]], description=TYPES[IDENT[kind]]["description"] + "; only in a local record (subject " + kind + "/local/<key>), which it links to that identifier's golden record")}})
    write(f"{kind}.retracted", {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": f"{kind}.retracted data",
          "type": "object", "required": ["attributes"], "additionalProperties": False,
          "properties": {"attributes": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": sorted(attrs)}}}})
for t, b in (cfg.get("businessTypes") or {}).items():
    attrs = cfg["entities"][b["entity"]]["attributes"]
    write(t, {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": f"{t} data",
              "description": "sets " + ", ".join(f"{k}={v}" for k, v in b["set"].items()),
              "type": "object", "additionalProperties": False, "properties": {a: attr_schema(attrs[a]) for a in b["attributes"]}})
