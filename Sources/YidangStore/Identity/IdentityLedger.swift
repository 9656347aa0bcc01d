import JSON
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
        /// The keys under each of some prefixes, at most `limit` per prefix, to a visitor
        /// given the prefix's index and the key.
        var keys: (([[UInt8]], Int, (Int, [UInt8]) throws -> Void) throws -> Void)?
        /// A subject's stored events (subject index order).
        var history: ((Subject) throws -> [Event])?
        static var none: StoreAccess { StoreAccess(keys: nil, history: nil) }
    }

    let configuration: Configuration
    let store: StoreAccess
    let load: ([UInt8]) throws -> [UInt8]?
    /// Per kind with `matching:` settings: the settings, the blocking rules, the attributes
    /// they name, and the model scoring pairs.
    let settings: [EntityKind: MatchingSettings]
    /// By kind (its storage byte): the attributes its blocking keys name, nil when the kind is
    /// not matched. Looked up for every event, so an array and a short list, not hashes.
    let blockAttributes: [[String]?]
    /// Their ``AttributeTable/orderWord(_:)``s, by the same index: a record that lacks one
    /// (every new record) is told so without working the word out for each value.
    private let blockWords: [[UInt64]]
    /// By kind: every configured attribute, by the configuration's own name (which events
    /// carry), with its index among the blocking attributes (nil: not one). An event's
    /// attribute is found here by identity whether it blocks or not: compared with each
    /// blocking attribute instead, one that does not (most of them) cost four comparisons of
    /// lengths and some of bytes (callgrind, the registry snapshot's rebuild).
    private let blockPlaces: [[(name: String, block: Int?)]]
    /// By kind (its storage byte): the blocking rules, nil when the kind is not matched.
    private let blockingRules: [BlockingKeys?]
    /// By kind: the blocking rules again, in objects and lists of their own, for the thread
    /// that works out the entries' keys (``WriteSink/putBlocking(_:rules:)``), while the
    /// fold's thread walks `blockingRules`. Retained and released from two threads, the same
    /// rules passed their reference counts' cache lines from core to core for every entry.
    let entryRules: [BlockingKeys?]
    let scorers: [EntityKind: MatchScorer]

    /// Golden records of each kind (by storage byte) that have been indexed: the population
    /// a common value's share is taken over (``candidates(_:keys:perKey:)``'s counts).
    private(set) var indexedRecords: [UInt64] = [0, 0]
    private var indexedChanged = false
    private(set) var nextHub: UInt64 = 1
    private(set) var nextTask: UInt64 = 1
    /// Review tasks changed by this writer (few: a task per uncertain match).
    private var tasks: [UInt64: MatchTask] = [:]
    private var dirtyTasks: [UInt64] = []
    /// Blocking entries of groups not known durable, in group order (from `recentStart`), and
    /// by prefix once the matcher has asked (an import of records that all carry a national
    /// identifier never does, and pays for the list only).
    private var recentEntries: [(batch: UInt64, entries: BlockingEntries)] = []
    private var recentStart = 0
    /// Whether entries are kept until their group is durable. A replay matches nothing (its
    /// log holds the decisions) and learns of no durable group before its end: kept, every
    /// entry of the log stayed in memory until then, to be freed all at once.
    let keepsRecentEntries: Bool
    private var recent: [[UInt8]: [Subject]]?
    /// Match profiles (``profile(_:)``), young and old.
    private var profiles: [Subject: MatchScorer.Record] = [:]
    private var olderProfiles: [Subject: MatchScorer.Record] = [:]
    let profileLimit = 32_768

    /// - Parameter trained: weights learned by `yidang matches train`, used where they fit the
    ///   configuration (``MatchModels/model(_:trained:configuration:)``).
    /// - Parameter keepsRecentEntries: false for a writer that never matches (a replay).
    init(configuration: Configuration, store: StoreAccess, trained: [EntityKind: MatchModel] = [:],
         keepsRecentEntries: Bool = true, load: @escaping ([UInt8]) throws -> [UInt8]?) {
        self.configuration = configuration
        self.keepsRecentEntries = keepsRecentEntries
        self.store = store
        self.load = load
        var settings: [EntityKind: MatchingSettings] = [:]
        var attributes: [[String]?] = [nil, nil]
        var scorers: [EntityKind: MatchScorer] = [:]
        var blocking: [BlockingKeys?] = [nil, nil]
        var places: [[(name: String, block: Int?)]] = [[], []]
        var entryRules: [BlockingKeys?] = [nil, nil]
        for kind in EntityKind.allCases {
            guard var s = configuration.matching(kind) else { continue }
            // The rules name attributes by the configuration's own strings where it has them:
            // the names events and golden records carry are those (``Configuration/names()``),
            // and a name is then found by identity, in one comparison, for every new value.
            let configured = configuration.entity(kind).map { Array($0.attributes.keys) } ?? []
            s.block = s.block.map { rule in rule.map { a in configured.first { $0 == a } ?? a } }
            settings[kind] = s
            var names: [String] = []
            for a in s.block.joined() where !names.contains(a) { names.append(a) }
            attributes[Int(kind.storageByte)] = names
            places[Int(kind.storageByte)] = configured.map { name in (name, names.firstIndex(named: name) { $0 }) }
            if let model = MatchModels.model(kind, trained: trained, configuration: configuration) { scorers[kind] = MatchScorer(model: model) }
            blocking[Int(kind.storageByte)] = BlockingKeys(settings: s)
            // Lists made anew (`map`), not shared with `s`'s: a copy of `s` would share them.
            var own = s
            own.block = s.block.map { rule in rule.map { $0 } }
            entryRules[Int(kind.storageByte)] = BlockingKeys(settings: own)
        }
        self.settings = settings
        self.blockAttributes = attributes
        self.blockWords = attributes.map { $0?.map(AttributeTable.orderWord) ?? [] }
        self.blockPlaces = places
        self.scorers = scorers
        self.blockingRules = blocking
        self.entryRules = entryRules
    }

    /// The blocking rules of `kind`, nil when it is not matched (an array, not a hash: asked
    /// for every event).
    func blocking(_ kind: EntityKind) -> BlockingKeys? { blockingRules[Int(kind.storageByte)] }

    func reload() throws {
        nextHub = try load(Keys.derivedMetaKey("nextHub")).map { Keys.readBE($0) } ?? 1
        nextTask = try load(Keys.derivedMetaKey("nextTask")).map { Keys.readBE($0) } ?? 1
        for kind in EntityKind.allCases {
            indexedRecords[Int(kind.storageByte)] = try load(Self.indexedKey(kind)).map { Keys.readBE($0) } ?? 0
        }
        indexedChanged = false
        tasks.removeAll()
        dirtyTasks.removeAll()
        recent = nil
        recentEntries.removeAll()
        recentStart = 0
        forgetProfiles()
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
        if indexedChanged {
            for kind in EntityKind.allCases where indexes(kind) {
                sink.put(Self.indexedKey(kind), Keys.be(indexedRecords[Int(kind.storageByte)]))
            }
            indexedChanged = false
        }
    }

    static func indexedKey(_ kind: EntityKind) -> [UInt8] { Keys.derivedMetaKey("indexedRecords.\(kind.rawValue)") }

    /// The share of the indexed records a value's blocking key has `entries` entries for, or
    /// nil when the value is not common: one two records share is not, however few records
    /// there are. The matcher and `matches show` weigh exact agreements by it alike.
    static func commonShare(entries: Int, population: UInt64) -> Double? {
        entries >= 3 ? min(Double(entries) / Double(max(population, 1)), 1) : nil
    }

    // MARK: Blocking

    /// Whether records of `kind` are indexed for matching.
    func indexes(_ kind: EntityKind) -> Bool { blockAttributes[Int(kind.storageByte)] != nil }

    /// The asserted values of blocking attributes that `state` does not hold yet.
    func newBlockValues(of event: Event, in state: SubjectState) -> [Assertion] {
        let kind = Int(event.subject.kind.storageByte)
        guard case .assert(let list) = event.body, let attributes = blockAttributes[kind] else { return [] }
        let places = blockPlaces[kind]
        var out: [Assertion] = []
        for a in list {
            let j: Int?
            if let p = places.firstIndex(where: { $0.name.sharesStorage(with: a.attribute) }) {
                j = places[p].block
            } else {
                j = attributes.firstIndex { $0.hasSameUTF8(as: a.attribute) }
            }
            guard let j else { continue }
            // Normalized values: equal bytes are equal values (no Unicode-aware comparison).
            // Read where they lie: the table's subscript copies the attribute's whole state.
            if !state.attributes.hasStatement(a.attribute, valued: a.value, orderWord: blockWords[kind][j]) { out.append(a) }
        }
        return out
    }

    /// Hands the blocking entries that `values` (new to `state`) add to `sink`, which works
    /// out their keys where it encodes the group (see ``BlockingEntries``).
    /// - Parameter first: whether the record is new (its first event): it joins the population.
    func index(_ values: [Assertion], of state: SubjectState, first: Bool, batch: UInt64, into sink: some WriteSink) {
        guard let blocking = blocking(state.subject.kind) else { return }
        if first {
            indexedRecords[Int(state.subject.kind.storageByte)] += 1
            indexedChanged = true
        }
        // Whether any rule can give a key: a record that holds no value of some attribute
        // of each rule its new values are in (a name without a birth date or an address)
        // adds no entry, and nothing is handed on. Asked of the record where it lies first:
        // a bulk sync's new people are mostly such records, and listing their values for
        // nothing was 4 % of a bulk HTTP load's server samples.
        func touched(_ rule: [String]) -> Bool { values.contains { v in rule.contains { $0.hasSameUTF8(as: v.attribute) } } }
        guard blocking.settings.block.contains(where: { rule in
            touched(rule) && (rule.count == 1 || rule.allSatisfy { state.holdsValue($0) })
        }) else { return }
        // The record's values of every attribute of a multi-attribute rule a new value is in.
        // A short list, not a dictionary: rules name two or three attributes, and hashing their
        // names and growing a table cost 3 % of a replay's folding thread (perf, a hand run of
        // the registry snapshot's rebuild).
        var held: [(attribute: String, values: [String])] = []
        // Room for every attribute it may list, at once: grown by appending, it was
        // reallocated once or twice a record (55 M instructions, the snapshot's rebuild).
        held.reserveCapacity(blocking.multiAttributeRuleNames)
        for rule in blocking.settings.block where rule.count > 1 && touched(rule) {
            for a in rule where !held.contains(where: { $0.attribute == a }) { held.append((a, state.heldValues(a))) }
        }
        var entries = BlockingEntries(subject: state.subject, values: values, held: held)
        sink.putBlocking(entries, rules: entryRules)
        if recent != nil {
            entries.computePrefixes(using: blocking)
            for p in entries.prefixes ?? [] { recent?[p, default: []].append(state.subject) }
        }
        if keepsRecentEntries { recentEntries.append((batch, entries)) }
    }

    /// The groups up to `batch` are durable: their entries are read from the store now.
    func durable(through batch: UInt64) {
        while recentStart < recentEntries.count && recentEntries[recentStart].batch <= batch {
            let e = recentEntries[recentStart].entries
            for p in e.prefixes ?? [] {
                if var list = recent?[p] {
                    if let i = list.firstIndex(of: e.subject) { list.remove(at: i) }
                    recent?[p] = list.isEmpty ? nil : list
                }
            }
            recentStart += 1
        }
        if recentStart > 4096 && recentStart * 2 > recentEntries.count {
            recentEntries.removeFirst(recentStart)
            recentStart = 0
        }
    }

    /// The entries of groups not known durable, by prefix (built when first asked; from then
    /// on kept as entries are added).
    private func recentByPrefix() -> [[UInt8]: [Subject]] {
        if let recent { return recent }
        var built: [[UInt8]: [Subject]] = [:]
        for i in recentStart..<recentEntries.count {
            if let blocking = blocking(recentEntries[i].entries.subject.kind) { recentEntries[i].entries.computePrefixes(using: blocking) }
            for p in recentEntries[i].entries.prefixes ?? [] { built[p, default: []].append(recentEntries[i].entries.subject) }
        }
        recent = built
        return built
    }

    /// The subjects indexed under any of `keys` (at most `perKey` each from the store), and
    /// how many entries each key has (at most `perKey` from the store, plus those in flight).
    func candidates(_ kind: EntityKind, keys: [String], perKey: Int = 200) throws -> (subjects: [Subject], counts: [Int]) {
        var out: [Subject] = []
        var counts = [Int](repeating: 0, count: keys.count)
        var seen = Set<Subject>()
        let prefixes = keys.map { Keys.blockPrefix(kind, $0) }
        let recent = recentByPrefix()
        for (i, p) in prefixes.enumerated() {
            for s in recent[p] ?? [] {
                counts[i] += 1
                if seen.insert(s).inserted { out.append(s) }
            }
        }
        try store.keys?(prefixes, perKey) { i, entry in
            counts[i] += 1
            let id = entry[prefixes[i].count...].withUnsafeBufferPointer { Subject(kind: kind, idBytes: $0) }
            if seen.insert(id).inserted { out.append(id) }
        }
        return (out, counts)
    }

    // MARK: Match profiles

    /// A golden record's values as the matcher compares them, for a survivor that had
    /// events when it was prepared. A record is a candidate of many others (everyone born on
    /// one day, living in one street); reading and preparing it once for all of them is most
    /// of what matching costs. Forgotten whenever the writer changes the record, and all of
    /// them when a merge or an unmerge moves records between golden records; at most
    /// `profileLimit` kept, in two generations.
    func profile(_ subject: Subject) -> MatchScorer.Record? {
        if let p = profiles[subject] { return p }
        guard let p = olderProfiles.removeValue(forKey: subject) else { return nil }
        remember(p, of: subject)
        return p
    }

    func remember(_ profile: MatchScorer.Record, of subject: Subject) {
        if profiles.count >= profileLimit / 2 {
            olderProfiles = profiles
            profiles = [:]
        }
        profiles[subject] = profile
    }

    /// Forgets `subject`'s profile (its record changed).
    @inline(__always) func forgetProfile(of subject: Subject) {
        guard !profiles.isEmpty || !olderProfiles.isEmpty else { return }
        profiles.removeValue(forKey: subject)
        olderProfiles.removeValue(forKey: subject)
    }

    /// Forgets every profile (records moved between golden records).
    func forgetProfiles() {
        profiles.removeAll()
        olderProfiles.removeAll()
    }
}

/// The blocking-index entries of a record that gained values. Working out their keys (a
/// name's pinyin, an address's parts) is left to whoever encodes the group's writes (the
/// commit thread, a replay's writer thread): the fold, the writer's one serial stage, only
/// notes the values. The rules come with the call that works the keys out, from the
/// caller's own ``BlockingKeys``: entries that held them would have the fold retain, and the
/// other thread release, one object's reference count for every entry.
struct BlockingEntries: Sendable {
    let subject: Subject
    /// The values new to the record.
    let values: [Assertion]
    /// The record's values of each attribute of a multi-attribute rule a new value is in.
    let held: [(attribute: String, values: [String])]
    /// Once computed: the key prefixes (``Keys/blockPrefix(_:_:)``) of the entries.
    private(set) var prefixes: [[UInt8]]?

    init(subject: Subject, values: [Assertion], held: [(attribute: String, values: [String])]) {
        self.subject = subject; self.values = values; self.held = held
    }

    /// The blocking keys: the new values' under a one-attribute rule; every combination the
    /// record holds under a rule of several (re-putting one already indexed changes nothing).
    ///
    /// The keys are those of ``BlockingKeys/keys(_:values:part:)`` under each rule, distinct
    /// and in order. Each attribute's comparator is the rule's, looked up once; a rule of
    /// several attributes whose record holds one value of each gives one key, joined in one
    /// string rather than through the general combination's arrays and closures (callgrind,
    /// the registry snapshot's import: the keys 966 → 708 M instructions).
    func keys(using blocking: BlockingKeys) -> [String] {
        var keys: [String] = []
        for (r, rule) in blocking.settings.block.enumerated() where values.contains(where: { rule.contains($0.attribute) }) {
            let comparators = blocking.ruleComparators[r]
            if rule.count == 1 {
                for v in values where v.attribute == rule[0] {
                    if let k = BlockingKeys.part(v.value, comparator: comparators[0]), !keys.contains(k) { keys.append(k) }
                }
                continue
            }
            for k in ruleKeys(rule, comparators, blocking) where !keys.contains(k) { keys.append(k) }
        }
        return keys
    }

    /// The keys of a rule of several attributes: ``BlockingKeys/keys(_:values:part:)`` of the
    /// record's held values.
    private func ruleKeys(_ rule: [String], _ comparators: [Comparator?], _ blocking: BlockingKeys) -> [String] {
        // Where each attribute's held values lie, found once, in the rule's order: on the
        // stack, since a list of the lists cost an allocation and its release per record
        // (callgrind, the registry snapshot's rebuild).
        withUnsafeTemporaryAllocation(of: Int.self, capacity: rule.count) { at -> [String] in
            var single = true
            for i in rule.indices {
                guard let j = held.firstIndex(where: { $0.attribute == rule[i] }), !held[j].values.isEmpty else { return [] }   // BlockingKeys.fills
                at[i] = j
                if held[j].values.count != 1 { single = false }
            }
            guard single else {
                return blocking.keys(rule) { a in
                    guard let i = rule.firstIndex(of: a) else { return [] }
                    return held[at[i]].values.compactMap { BlockingKeys.part($0, comparator: comparators[i]) }
                }
            }
            // One value of each attribute (most records): one key.
            var key = ""
            for i in rule.indices {
                guard let part = BlockingKeys.part(held[at[i]].values[0], comparator: comparators[i]) else { return [] }
                key = i == 0 ? part : BlockingKeys.joined(key, part)
            }
            return [key]
        }
    }

    mutating func computePrefixes(using blocking: BlockingKeys) {
        if prefixes == nil { prefixes = keys(using: blocking).map { Keys.blockPrefix(subject.kind, $0) } }
    }

    /// Calls `body` with each entry's key (`blocking`: the rules of the subject's kind).
    func forEachEntry(using blocking: BlockingKeys, _ body: ([UInt8]) throws -> Void) rethrows {
        if let prefixes {
            for prefix in prefixes {
                var entry = prefix
                subject.withIDBytes { entry.append(contentsOf: $0) }
                try body(entry)
            }
            return
        }
        for key in keys(using: blocking) { try body(Keys.blockEntry(subject, key)) }
    }

    /// Calls `body` with each entry's key, worked out by the rules of the subject's kind in
    /// `rules` (by its storage byte: ``IdentityLedger/entryRules``, which has rules for every
    /// kind an entry is made for).
    func forEachEntry(by rules: [BlockingKeys?], _ body: ([UInt8]) throws -> Void) rethrows {
        guard let blocking = rules[Int(subject.kind.storageByte)] else { return }
        try forEachEntry(using: blocking, body)
    }
}
