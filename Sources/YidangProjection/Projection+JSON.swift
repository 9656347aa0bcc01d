import JSON
import YidangModel

extension SubjectState {
    /// The golden record as the API shows it: `subject`, `version`, `attributes.<name>` =
    /// `{value, source, eventId, position, time, conflict}`; with `lineage`, each attribute
    /// also lists every department's current statement.
    public func goldenRecordJSON(configuration: Configuration, lineage: Bool = false, links: [Link] = []) -> JSONValue {
        var o = JSONObject()
        o["subject"] = .string(subject.description)
        o["kind"] = .string(subject.kind.rawValue)
        o["id"] = .string(subject.id)
        o["version"] = JSONValue(version)
        var attrs = JSONObject()
        var open: [JSONValue] = []
        for (name, attr) in attributes {
            let rule = configuration.rule(subject.kind, name)
            if let openId = attr.openConflict { open.append(JSONValue(openId)) }
            guard let g = attr.golden else {
                if lineage && !attr.statements.isEmpty {
                    attrs[name] = .object(["value": .null, "lineage": .array(attr.lineageJSON(rule: rule))])
                }
                continue
            }
            var a: JSONObject = [
                "value": Normalizer.jsonValue(g.value, rule: rule),
                "source": .string(g.source),
                "eventId": .string(g.eventId),
                "position": JSONValue(g.position),
                "time": .string(Timestamp.format(g.time)),
                "conflict": .bool(g.conflict),
            ]
            if let c = attr.openConflict { a["conflictId"] = JSONValue(c) }
            if lineage {
                a["lineage"] = .array(attr.lineageJSON(rule: rule))
                if let pin = attr.pin {
                    a["pin"] = ["value": Normalizer.jsonValue(pin.value, rule: rule), "steward": .string(pin.steward),
                                "eventId": .string(pin.eventId), "position": JSONValue(pin.position)]
                }
            }
            attrs[name] = .object(a)
        }
        o["attributes"] = .object(attrs)
        o["openConflicts"] = .array(open)
        let crosswalks = members.compactMap(\.crosswalk)
        if !crosswalks.isEmpty {
            o["crosswalks"] = .array(crosswalks.map { ["source": .string($0.source), "key": .string($0.key)] })
        }
        if !links.isEmpty {
            o["links"] = .array(links.map { l in
                let other = subject.kind == .person ? l.enterprise : l.person
                return ["role": .string(l.role), "subject": .string(other.description)]
            })
        }
        return .object(o)
    }
}

extension AttributeState {
    func lineageJSON(rule: AttributeRule?) -> [JSONValue] {
        let ranked: [Statement]
        if let rule {
            let s = Survivorship(rule: rule)
            ranked = statements.sorted { a, b in
                if a.isActive != b.isActive { return a.isActive }
                return s.prefers(a, over: b)
            }
        } else { ranked = statements }
        return ranked.map { s in
            let status: String
            if s.value == nil { status = "retracted" } else if s.rejected { status = "rejected" }
            else if pin == nil && golden?.eventId == s.eventId && golden?.source == s.source { status = "winner" }
            else { status = "candidate" }
            return [
                "source": .string(s.source),
                "value": s.value.map { Normalizer.jsonValue($0, rule: rule) } ?? .null,
                "time": .string(Timestamp.format(s.time)),
                "eventId": .string(s.eventId),
                "position": JSONValue(s.position),
                "status": .string(status),
            ]
        }
    }
}

extension Conflict {
    /// The API form: `id`, `subject`, `attribute`, `status`, `candidates`
    /// (`[{source, value, time, eventId}]`) and, once settled, `resolution`.
    public func json(configuration: Configuration) -> JSONValue {
        let rule = configuration.rule(subject.kind, attribute)
        var o: JSONObject = [
            "id": JSONValue(id),
            "subject": .string(subject.description),
            "kind": .string(subject.kind.rawValue),
            "attribute": .string(attribute),
            "status": .string(status.rawValue),
            "candidates": .array(candidates.map { c in
                ["source": .string(c.source), "value": Normalizer.jsonValue(c.value, rule: rule),
                 "time": .string(Timestamp.format(c.time)), "eventId": .string(c.eventId), "position": JSONValue(c.position),
                 "winning": .bool(c.value == winner)]
            }),
            "winner": winner.map { Normalizer.jsonValue($0, rule: rule) } ?? .null,
            "openedAt": .string(Timestamp.format(openedTime)),
            "openedPosition": JSONValue(openedPosition),
            "precedence": .array((rule?.precedence ?? []).map { .string($0) }),
        ]
        if let r = resolution {
            var ro: JSONObject = ["action": .string(r.action.rawValue), "eventId": .string(r.eventId),
                                  "position": JSONValue(r.position), "time": .string(Timestamp.format(r.time))]
            if let s = r.steward { ro["steward"] = .string(s) }
            if let n = r.note { ro["note"] = .string(n) }
            if let v = r.value { ro["value"] = Normalizer.jsonValue(v, rule: rule) }
            if let s = r.source { ro["source"] = .string(s) }
            o["resolution"] = .object(ro)
        }
        return .object(o)
    }
}

extension ChangeRecord {
    public func json(configuration: Configuration) -> JSONValue {
        var o: JSONObject = [
            "position": JSONValue(position),
            "type": .string(kind.rawValue),
            "kind": .string(subject.kind.rawValue),
            "subject": .string(subject.description),
            "version": JSONValue(version),
            "logPosition": JSONValue(logPosition),
            "time": .string(Timestamp.format(time)),
        ]
        if let r = regionCode { o["regionCode"] = .string(r) }
        if kind == .golden {
            o["changes"] = .array(changes.map { c in
                let rule = configuration.rule(subject.kind, c.attribute)
                var x: JSONObject = ["attribute": .string(c.attribute),
                                     "old": c.old.map { Normalizer.jsonValue($0, rule: rule) } ?? .null,
                                     "new": c.new.map { Normalizer.jsonValue($0, rule: rule) } ?? .null,
                                     "source": c.source.map { .string($0) } ?? .null,
                                     "conflict": .bool(c.conflict)]
                if let s = c.oldSource { x["oldSource"] = .string(s) }
                return .object(x)
            })
            o["conflictsOpened"] = .array(conflictsOpened.map { JSONValue($0) })
            o["conflictsClosed"] = .array(conflictsClosed.map { JSONValue($0) })
        } else {
            let rule = attribute.flatMap { configuration.rule(subject.kind, $0) }
            o["department"] = department.map { .string($0) } ?? .null
            o["attribute"] = attribute.map { .string($0) } ?? .null
            o["conflictId"] = conflictId.map { JSONValue($0) } ?? .null
            o["rejectedValue"] = rejectedValue.map { Normalizer.jsonValue($0, rule: rule) } ?? .null
            o["rejectedEventId"] = rejectedEventId.map { .string($0) } ?? .null
            o["steward"] = steward.map { .string($0) } ?? .null
            o["note"] = note.map { .string($0) } ?? .null
        }
        o["eventIds"] = .array(eventIds.map { .string($0) })
        return .object(o)
    }
}
