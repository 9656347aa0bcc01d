import Crypto
import Identifiers
import JSON
import YidangModel
import YidangProjection
import YidangStore

/// What one subscription may see of a change (可用不可见): filters by kind, region and
/// attribute, drops attributes above its clearance or outside its allow-list, masks
/// identifiers above its clearance, and drops the change when nothing visible is left.
/// Old and new values are treated alike, so a value never leaks through either.
public struct ChangeView: Sendable {
    public let configuration: Configuration
    public init(configuration: Configuration) { self.configuration = configuration }

    /// Sensitivity of a subject's own identifier.
    static func identifierLevel(_ kind: EntityKind) -> Sensitivity { kind.traits.identifierSensitivity }

    /// The `source` of every change the hub emits.
    public static let hubSource = "yidang"

    /// `c` as `s` may see it, as a CloudEvent in structured JSON (nil: nothing visible):
    /// `type` `golden.changed` or `correction.requested`, `source` the hub, `subject` the
    /// masked subject, `time` the change's commit time, `data` the visible record, and the
    /// extension `position` (the change position, SSE's `id:`). `id` is unique per change
    /// and view: the position and a tag of the policy that shaped the data, so two renderings
    /// with different content never share an id and the same rendering always has the same.
    public func render(_ c: ChangeRecord, for s: Subscription) -> JSONValue? {
        render(c, for: s, viewTag: s.viewTag)
    }

    func render(_ c: ChangeRecord, for s: Subscription, viewTag: String) -> JSONValue? {
        guard case .object(let data)? = record(c, for: s) else { return nil }
        let o: JSONObject = ["specversion": "1.0", "id": .string("\(c.position)-\(viewTag)"), "source": .string(Self.hubSource),
                             "type": .string(c.kind.rawValue), "subject": data["subject"] ?? .null, "time": data["time"] ?? .null,
                             "datacontenttype": "application/json", "position": JSONValue(c.position), "data": .object(data)]
        return .object(o)
    }

    /// The visible record of `c` for `s` (a CloudEvent's `data`), or nil.
    public func record(_ c: ChangeRecord, for s: Subscription) -> JSONValue? {
        if !s.kinds.isEmpty && !s.kinds.contains(c.subject.kind) { return nil }
        if !s.regions.isEmpty {
            guard let region = c.regionCode, s.regions.contains(where: { region.hasPrefix($0) }) else { return nil }
        }
        let subject = c.subject.kind.rawValue + "/" + mask(c.subject.id, level: Self.identifierLevel(c.subject.kind), for: s)
        var o: JSONObject = ["position": JSONValue(c.position), "type": .string(c.kind.rawValue), "kind": .string(c.subject.kind.rawValue),
                             "subject": .string(subject), "version": JSONValue(c.version), "time": .string(Timestamp.format(c.time))]
        if let r = c.regionCode, visible("regionCode", kind: c.subject.kind, for: s) != nil { o["regionCode"] = .string(r) }
        switch c.kind {
        case .correction:
            guard let dept = c.department, dept == s.ownerDepartment else { return nil }
            o["department"] = .string(dept)
            o["attribute"] = c.attribute.map { .string($0) } ?? .null
            o["conflictId"] = c.conflictId.map { JSONValue($0) } ?? .null
            if let a = c.attribute, let v = c.rejectedValue, let how = visible(a, kind: c.subject.kind, for: s) {
                o["rejectedValue"] = render(v, attribute: a, kind: c.subject.kind, how: how, for: s)
            }
            o["rejectedEventId"] = c.rejectedEventId.map { .string($0) } ?? .null
            o["note"] = c.note.map { .string($0) } ?? .null
        case .golden:
            var changes: [JSONValue] = []
            for a in c.changes {
                if !s.attributes.isEmpty && !s.attributes.contains(a.attribute) { continue }
                guard let how = visible(a.attribute, kind: c.subject.kind, for: s) else { continue }
                // Only a change of value is news to a subscriber; conflict flags are steward business.
                if a.old == a.new { continue }
                changes.append(["attribute": .string(a.attribute),
                                "old": a.old.map { render($0, attribute: a.attribute, kind: c.subject.kind, how: how, for: s) } ?? .null,
                                "new": a.new.map { render($0, attribute: a.attribute, kind: c.subject.kind, how: how, for: s) } ?? .null,
                                "source": a.source.map { .string($0) } ?? .null])
            }
            guard !changes.isEmpty else { return nil }
            o["changes"] = .array(changes)
        case .merged, .unmerged:
            // Both identifiers, masked alike, so a subscriber can follow records it holds.
            let level = Self.identifierLevel(c.subject.kind)
            if let other = c.related {
                o["from"] = .string(other.kind.rawValue + "/" + mask(other.id, level: level, for: s))
            }
            o["into"] = .string(subject)
        }
        o["eventIds"] = .array(c.eventIds.map { .string($0) })
        return .object(o)
    }

    enum Visibility { case plain, masked }

    /// How an attribute may be shown to `s`, or nil when it may not.
    func visible(_ attribute: String, kind: EntityKind, for s: Subscription) -> Visibility? {
        guard let rule = configuration.rule(kind, attribute) else { return nil }
        if let allow = s.allow, !allow.contains(attribute) { return nil }
        if rule.sensitivity <= s.clearance { return .plain }
        // Identifiers above clearance stay usable for matching only as a mask.
        if rule.type == .citizenId { return .masked }
        return nil
    }

    func render(_ value: String, attribute: String, kind: EntityKind, how: Visibility, for s: Subscription) -> JSONValue {
        switch how {
        case .plain: return Normalizer.jsonValue(value, rule: configuration.rule(kind, attribute))
        case .masked: return .string(CitizenID.mask(value))
        }
    }

    func mask(_ id: String, level: Sensitivity, for s: Subscription) -> String {
        // Hub identifiers carry nothing personal.
        level <= s.clearance || Subject.isHubIdentifier(id) ? id : CitizenID.mask(id)
    }
}

extension ChangeView {
    /// The next changes `s` may see after `after`: at most `limit` of them, scanning at
    /// most `scanLimit` records. `next` is the last position scanned, so a caller that
    /// continues from it skips nothing and repeats nothing.
    public func page(_ reader: StoreReaderProtocol, for s: Subscription, after: UInt64, limit: Int,
                     scanLimit: Int = 20_000, cache: FeedCache? = nil) throws -> (items: [JSONValue], next: UInt64) {
        var items: [JSONValue] = []
        var next = after
        var scanned = 0
        let policy = cache?.policy(of: s)
        let tag = policy?.tag ?? s.viewTag
        while items.count < limit && scanned < scanLimit {
            let want = min(1000, scanLimit - scanned)
            let batch = try cache?.changes(reader, after: next, limit: want) ?? reader.changes(after: next, limit: want)
            if batch.isEmpty { break }
            for c in batch {
                scanned += 1
                next = c.position
                let rendered = if let cache, let policy { cache.render(c, policy: policy) { render(c, for: s, viewTag: tag) } }
                               else { render(c, for: s, viewTag: tag) }
                if let v = rendered {
                    items.append(v)
                    if items.count >= limit { return (items, next) }
                }
            }
        }
        return (items, next)
    }
}

/// The change-feed reads a page needs (``StoreReader`` in production).
public protocol StoreReaderProtocol {
    func changes(after: UInt64, limit: Int) throws -> [ChangeRecord]
}

extension ChangeView {
    /// The SSE frame of a rendered change: `id:` its position (what `Last-Event-ID` resumes
    /// from), `event:` its type, `data:` the CloudEvent on one line.
    public static func frame(_ rendered: JSONValue, position: UInt64) -> String {
        "id: \(position)\nevent: \(rendered["type"]?.stringValue ?? "change")\ndata: \(JSONWriter.serialize(rendered))\n\n"
    }

    /// Like ``page(_:for:after:limit:scanLimit:cache:)``, as SSE frames joined in position
    /// order, with their number and the last position scanned. With a cache each frame is
    /// rendered and serialized once per policy and position, for every stream of that policy.
    public func framePage(_ reader: StoreReaderProtocol, for s: Subscription, after: UInt64, limit: Int,
                          scanLimit: Int = 20_000, cache: FeedCache? = nil) throws -> (frames: String, count: Int, next: UInt64) {
        guard let cache else {
            let (items, next) = try page(reader, for: s, after: after, limit: limit, scanLimit: scanLimit)
            let frames = items.map { Self.frame($0, position: $0["position"]?.numberText.flatMap { UInt64($0) } ?? 0) }
            return (frames.joined(), items.count, next)
        }
        let policy = cache.policy(of: s)
        return try cache.frames(reader, after: after, limit: limit, scanLimit: scanLimit, policy: policy) { c in
            render(c, for: s, viewTag: policy.tag).map { Self.frame($0, position: c.position) }
        }
    }
}
