import YidangMatching
import YidangModel
import YidangProjection

/// The writer's bookkeeping for identity resolution (docs/ARCHITECTURE.md, "Identity
/// resolution"): the hub-identifier and review-task counters, the review tasks touched, and
/// the blocking index, all derived from the log and written with the group that changes them.
///
/// Blocking index (0x17): for each configured blocking key (a list of attributes), every
/// golden record holding values that give that key has an entry `kind ‖ key ‖ 0 ‖ id`. A
/// value is indexed when a record first holds it and never removed: a stale entry only adds
/// a candidate that scoring turns away, and one that names an absorbed record leads to its
/// survivor. Entries of groups not yet durable are also kept in memory, so the next group's
/// matching sees them.
final class IdentityLedger {
    /// What matching and refolding read from the store beyond single keys.
    struct StoreAccess {
        /// Keys starting with a prefix, at most `limit` of them.
        var scan: (([UInt8], Int) throws -> [[UInt8]])?
        /// A subject's stored events (subject index order).
        var history: ((Subject) throws -> [Event])?
        static var none: StoreAccess { StoreAccess(scan: nil, history: nil) }
    }

    let configuration: Configuration
    let store: StoreAccess
    let load: ([UInt8]) throws -> [UInt8]?
    /// Per kind with `matching:` settings: the settings, the blocking rules, the attributes
    /// they name, and the model scoring pairs.
    let settings: [EntityKind: MatchingSettings]
    let blockAttributes: [EntityKind: Set<String>]
    var models: [EntityKind: MatchModel]

    private(set) var nextHub: UInt64 = 1
    private(set) var nextTask: UInt64 = 1
    /// Review tasks changed by this writer (few: a task per uncertain match).
    private var tasks: [UInt64: MatchTask] = [:]
    private var dirtyTasks: [UInt64] = []
    /// Blocking entries of groups not known durable: prefix → subjects, and by group.
    private var recent: [[UInt8]: [Subject]] = [:]
    private var recentByBatch: [(batch: UInt64, prefix: [UInt8], subject: Subject)] = []
    /// Blocking-key texts of names (pinyin), which a city repeats.
    private var keyTexts: [String: String] = [:]

    init(configuration: Configuration, store: StoreAccess, load: @escaping ([UInt8]) throws -> [UInt8]?) {
        self.configuration = configuration
        self.store = store
        self.load = load
        var settings: [EntityKind: MatchingSettings] = [:]
        var attributes: [EntityKind: Set<String>] = [:]
        var models: [EntityKind: MatchModel] = [:]
        for kind in EntityKind.allCases {
            guard let s = configuration.matching(kind) else { continue }
            settings[kind] = s
            attributes[kind] = Set(s.block.flatMap { $0 })
            models[kind] = MatchModel(settings: s)
        }
        self.settings = settings
        self.blockAttributes = attributes
        self.models = models
    }

    func reload() throws {
        nextHub = try load(Keys.derivedMetaKey("nextHub")).map { Keys.readBE($0) } ?? 1
        nextTask = try load(Keys.derivedMetaKey("nextTask")).map { Keys.readBE($0) } ?? 1
        tasks.removeAll()
        dirtyTasks.removeAll()
        recent.removeAll()
        recentByBatch.removeAll()
    }

    /// Notes a hub identifier used by an applied decision (the next is numbered after it).
    /// `nextHub` / `nextTask` name the next free numbers; a decision takes one by being applied.
    func used(hub subject: Subject) { if let n = subject.hubNumber, n >= nextHub { nextHub = n + 1 } }

    // MARK: Review tasks

    func task(_ id: UInt64) throws -> MatchTask? {
        if let t = tasks[id] { return t }
        return try load(Keys.matchTaskKey(id)).map { try MatchTask(encoded: $0) }
    }

    func put(_ task: MatchTask) {
        if tasks.updateValue(task, forKey: task.id) == nil || !dirtyTasks.contains(task.id) { dirtyTasks.append(task.id) }
        if task.id >= nextTask { nextTask = task.id + 1 }
    }

    func finishBatch(into sink: some WriteSink) {
        for id in dirtyTasks { if let t = tasks[id] { sink.put(Keys.matchTaskKey(id), t.encoded()) } }
        dirtyTasks.removeAll()
        sink.put(Keys.derivedMetaKey("nextHub"), Keys.be(nextHub))
        sink.put(Keys.derivedMetaKey("nextTask"), Keys.be(nextTask))
    }

    // MARK: Blocking

    /// Whether records of `kind` are indexed for matching.
    func indexes(_ kind: EntityKind) -> Bool { settings[kind] != nil }

    /// The asserted values of blocking attributes that `state` does not hold yet.
    func newBlockValues(of event: Event, in state: SubjectState) -> [Assertion] {
        guard case .assert(let list) = event.body, let attributes = blockAttributes[event.subject.kind] else { return [] }
        var out: [Assertion] = []
        for a in list where attributes.contains(a.attribute) {
            let held = state.attributes[a.attribute]?.statements.contains { $0.value == a.value } ?? false
            if !held { out.append(a) }
        }
        return out
    }

    /// Writes the blocking entries that `values` (new to `state`) add.
    func index(_ values: [Assertion], of state: SubjectState, batch: UInt64, into sink: some WriteSink) {
        let kind = state.subject.kind
        guard let s = settings[kind] else { return }
        var keys = Set<String>()
        for rule in s.block {
            for v in values where rule.contains(v.attribute) {
                keys.formUnion(blockKeys(rule, kind: kind) { attribute in
                    attribute == v.attribute ? [v.value] : state.heldValues(attribute)
                })
            }
        }
        for key in keys {
            let prefix = Keys.blockPrefix(kind, key)
            var entry = prefix
            state.subject.withIDBytes { entry.append(contentsOf: $0) }
            sink.put(entry, [])
            recent[prefix, default: []].append(state.subject)
            recentByBatch.append((batch, prefix, state.subject))
        }
    }

    /// The groups up to `batch` are durable: their entries are read from the store now.
    func durable(through batch: UInt64) {
        var n = 0
        while n < recentByBatch.count && recentByBatch[n].batch <= batch {
            let e = recentByBatch[n]
            if var list = recent[e.prefix] {
                if let i = list.firstIndex(of: e.subject) { list.remove(at: i) }
                recent[e.prefix] = list.isEmpty ? nil : list
            }
            n += 1
        }
        recentByBatch.removeFirst(n)
    }

    /// The blocking keys a record gives under `rule`, from its values of each attribute.
    func blockKeys(_ rule: [String], kind: EntityKind, values: (String) -> [String]) -> [String] {
        var keys = [""]
        for (i, attribute) in rule.enumerated() {
            let parts = Set(values(attribute).compactMap { keyText($0, attribute: attribute, kind: kind) })
            if parts.isEmpty { return [] }
            keys = keys.flatMap { k in parts.sorted().map { i == 0 ? $0 : k + "\u{1F}" + $0 } }
            if keys.count > 64 { keys = Array(keys.prefix(64)) }
        }
        return keys
    }

    /// The part of a blocking key one value gives: a name's pinyin, a phone's last eight
    /// digits, a date as it is, other text folded.
    func keyText(_ value: String, attribute: String, kind: EntityKind) -> String? {
        guard let comparator = settings[kind]?.compare[attribute] else { return value }
        switch comparator {
        case .name:
            if let k = keyTexts[value] { return k }
            let k = ComparableText.pinyin(ofFolded: ComparableText.folded(value))
            if keyTexts.count > 200_000 { keyTexts.removeAll(keepingCapacity: true) }
            keyTexts[value] = k
            return k.isEmpty ? nil : k
        case .phone: return value.count >= 8 ? String(value.suffix(8)) : nil
        case .text, .address: return ComparableText.folded(value)
        case .date, .exact, .number: return value
        }
    }

    /// The subjects indexed under any of `keys` (at most `perKey` each from the store).
    func candidates(_ kind: EntityKind, keys: [String], perKey: Int = 200) throws -> [Subject] {
        var out: [Subject] = []
        var seen = Set<Subject>()
        for key in keys {
            let prefix = Keys.blockPrefix(kind, key)
            for s in recent[prefix] ?? [] where seen.insert(s).inserted { out.append(s) }
            guard let scan = store.scan else { continue }
            for entry in try scan(prefix, perKey) {
                let id = entry[prefix.count...].withUnsafeBufferPointer { Subject(kind: kind, idBytes: $0) }
                if seen.insert(id).inserted { out.append(id) }
            }
        }
        return out
    }
}
