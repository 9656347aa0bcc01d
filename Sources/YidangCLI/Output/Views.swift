import JSON

/// Human output rendered from the API's JSON shapes, so local and remote mode print alike.
enum Views {
    static func text(_ v: JSONValue?) -> String {
        switch v {
        case .string(let s)?: return s
        case .number(let n)?: return n
        case .bool(let b)?: return b ? "true" : "false"
        case nil, .null?: return "—"
        case let other?: return JSONWriter.serialize(other)
        }
    }

    static func record(_ r: JSONValue) -> String {
        var lines = [Terminal.bold(text(r["subject"])) + "  version \(text(r["version"]))"]
        var rows: [[String]] = []
        let attrs = r["attributes"]?.objectValue ?? JSONObject()
        for name in attrs.keys.sorted() {
            guard let a = attrs[name] else { continue }
            let flag = a["conflict"] == .bool(true) ? Terminal.red("conflict #\(text(a["conflictId"]))") : ""
            rows.append([name, text(a["value"]), a["source"].map { text($0) } ?? "", a["time"].map { text($0) } ?? "", flag])
            for l in a["lineage"]?.arrayValue ?? [] {
                let status = text(l["status"])
                let mark = status == "winner" ? "✓ winner" : status == "candidate" ? "" : status
                rows.append(["  ↳ " + text(l["source"]), text(l["value"]), "event \(text(l["eventId"])) @\(text(l["position"]))", text(l["time"]), mark])
            }
            if let pin = a["pin"] {
                rows.append(["  ↳ pinned", text(pin["value"]), "by \(text(pin["steward"])) @\(text(pin["position"]))", "", "✓ pinned"])
            }
        }
        lines.append(Terminal.table(["attribute", "value", "source", "effective", ""], rows))
        if let links = r["links"]?.arrayValue, !links.isEmpty {
            lines.append("")
            lines.append(Terminal.bold("links"))
            for l in links { lines.append("  \(text(l["role"])) → \(text(l["subject"]))") }
        }
        return lines.joined(separator: "\n")
    }

    static func conflictList(_ list: [JSONValue]) -> String {
        Terminal.table(["id", "status", "subject", "attribute", "candidates", "opened"], list.map { c in
            let cands = (c["candidates"]?.arrayValue ?? []).map { "\(text($0["source"]))=\(text($0["value"]))" }.joined(separator: " | ")
            return [text(c["id"]), c["status"] == "open" ? Terminal.red("open") : Terminal.green("resolved"), text(c["subject"]),
                    text(c["attribute"]), cands, text(c["openedAt"])]
        })
    }

    static func conflict(_ c: JSONValue, departments: [String: String] = [:]) -> String {
        var out = [Terminal.bold("conflict #\(text(c["id"]))") + "  "
                   + (c["status"] == "open" ? Terminal.red("open") : Terminal.green("resolved")) + "  \(text(c["subject"]))  \(text(c["attribute"]))"]
        let precedence = (c["precedence"]?.arrayValue ?? []).map { text($0) }
        out.append("precedence: " + (precedence.isEmpty ? "recency" : precedence.joined(separator: " > ") + ", then recency"))
        out.append(Terminal.table(["department", "value", "effective", "event", ""], (c["candidates"]?.arrayValue ?? []).map { cand in
            let code = text(cand["source"])
            return [departments[code].map { "\(code) \($0)" } ?? code, text(cand["value"]), text(cand["time"]),
                    "\(text(cand["eventId"])) @\(text(cand["position"]))", cand["winning"] == .bool(true) ? Terminal.green("✓ wins") : ""]
        }))
        if let r = c["resolution"] {
            var line = "resolution: \(text(r["action"]))"
            if let v = r["value"] { line += " \(text(v))" }
            if let s = r["source"] { line += " (\(text(s)))" }
            if let by = r["steward"] { line += " by \(text(by))" }
            if let n = r["note"] { line += " — \(text(n))" }
            out.append(line + "  at \(text(r["time"]))")
        }
        return out.joined(separator: "\n")
    }

    /// Change records, as the store holds them (local mode) or as a subscription's
    /// CloudEvents carry them (their `data`).
    static func changes(_ list: [JSONValue]) -> String {
        Terminal.table(["position", "type", "subject", "version", "changes"], list.map { item in
            let c = item["specversion"] != nil ? item["data"] ?? .null : item
            let what: String
            if c["type"] == "correction.requested" {
                what = "→ \(text(c["department"])): \(text(c["attribute"])) \"\(text(c["rejectedValue"]))\" rejected (conflict #\(text(c["conflictId"])))"
            } else {
                var parts = (c["changes"]?.arrayValue ?? []).map { "\(text($0["attribute"])): \(text($0["old"])) → \(text($0["new"])) [\(text($0["source"]))]" }
                parts += (c["conflictsOpened"]?.arrayValue ?? []).map { "opened #\(text($0))" }
                parts += (c["conflictsClosed"]?.arrayValue ?? []).map { "closed #\(text($0))" }
                what = parts.joined(separator: "; ")
            }
            return [text(c["position"]), text(c["type"]), text(c["subject"]), text(c["version"]), what]
        })
    }

    static func quality(_ list: [JSONValue]) -> String {
        Terminal.table(["department", "accepted", "rejected", "conflicts opened", "corrections", "median delay", "rejected by reason"], list.map { d in
            let reasons = (d["rejectedByReason"]?.objectValue ?? JSONObject()).map { "\($0.0)=\(text($0.1))" }.joined(separator: " ")
            let name = d["name"].map { text($0) } ?? ""
            return ["\(text(d["department"])) \(name == "—" ? "" : name)", text(d["accepted"]), text(d["rejected"]),
                    text(d["conflictsOpened"]), text(d["corrections"]), d["medianDelay"].map { text($0) } ?? "—", reasons]
        })
    }

    static func subscriptions(_ list: [JSONValue]) -> String {
        Terminal.table(["id", "name", "delivery", "status", "cursor", "clearance", "filters"], list.map { s in
            var filters: [String] = []
            for key in ["kinds", "attributes", "regions"] {
                let values = (s[key]?.arrayValue ?? []).map { text($0) }
                if !values.isEmpty { filters.append("\(key)=\(values.joined(separator: ","))") }
            }
            return [text(s["id"]), text(s["name"]), text(s["delivery"]), s["status"] == "paused" ? Terminal.red("paused") : text(s["status"]),
                    text(s["cursor"]), text(s["clearance"]), filters.joined(separator: " ")]
        })
    }
}
