import Crypto
import Foundation
import JSON
import YidangModel
import YidangStore

/// One entry of the replicated log: a message of the JetStream stream every node applies
/// in order (docs/ARCHITECTURE.md, "Cluster").
///
/// The kind travels in the `Yidang-Entry` header, the time every replica folds it with in
/// `Yidang-Time` (microseconds since the epoch, from the clock of the node that published
/// it), and its `Nats-Msg-Id` lets JetStream drop a repeat of the same write.
public enum LogEntry: Sendable {
    /// Validated events, to be folded in order (`isolated`: alone, as an unmerge needs).
    case events([Event], isolated: Bool)
    /// Rejections to add to the departments' counts (department → reason → number).
    case rejections([String: [String: UInt64]])
    /// A new API token: its storage key and record (never the token).
    case token(id: String, key: [UInt8], record: [UInt8])
    /// A token revoked.
    case revocation(id: String)
    /// A subscription created, changed (its cursor moved, its delivery state) or removed.
    case subscription(SubscriptionWrite)

    static let kindHeader = "Yidang-Entry"
    static let timeHeader = "Yidang-Time"
    static let nodeHeader = "Yidang-Node"
    static let headers = [kindHeader, timeHeader, nodeHeader]

    /// The message id JetStream deduplicates by: an event's source and id (one event), a
    /// digest of every event's (a batch), the token id; `nil` for counts, revocations and
    /// subscription writes, which are each a write of their own (and harmless applied twice).
    var messageId: String? {
        switch self {
        case .events(let events, _):
            if events.count == 1, let e = events.first { return "e:\(e.source):\(e.id)".headerSafe }
            var hash = SHA256()
            for e in events { hash.update(data: Array(e.source.utf8) + [0] + Array(e.id.utf8) + [0]) }
            return "b:" + hash.finalize().map { String(format: "%02x", $0) }.joined()
        case .rejections: return nil
        case .token(let id, _, _): return "t:\(id)"
        case .revocation, .subscription: return nil
        }
    }

    var kind: String {
        switch self {
        case .events(_, let isolated): return isolated ? "isolated" : "events"
        case .rejections: return "rejections"
        case .token: return "token"
        case .revocation: return "revocation"
        case .subscription(.create): return "subscription-created"
        case .subscription(.update): return "subscription-updated"
        case .subscription(.remove): return "subscription-removed"
        }
    }

    /// The message body.
    func body() -> [UInt8] {
        switch self {
        case .events(let events, _):
            var out: [UInt8] = []
            for e in events { Self.append(encoded: e.encoded(), to: &out) }
            return out
        case .rejections(let counts):
            var object = JSONObject()
            for (dept, reasons) in counts.sorted(by: { $0.key < $1.key }) {
                var inner = JSONObject()
                for (reason, n) in reasons.sorted(by: { $0.key < $1.key }) { inner[reason] = JSONValue(n) }
                object[dept] = .object(inner)
            }
            return JSONWriter.bytes(.object(object))
        case .token(let id, let key, let record):
            return Array(id.utf8) + [0] + Self.length(key.count) + key + record
        case .revocation(let id):
            return Array(id.utf8)
        case .subscription(.create(let id, let record)), .subscription(.update(let id, let record)):
            return Array(id.utf8) + [0] + record
        case .subscription(.remove(let id)):
            return Array(id.utf8) + [0]
        }
    }

    /// The entry a message holds.
    /// - Throws: ``LogEntryError`` when it is not one this version writes.
    init(kind: String?, body: [UInt8]) throws {
        switch kind {
        case "events", "isolated":
            var events: [Event] = []
            var i = 0
            while i < body.count {
                guard i + 4 <= body.count else { throw LogEntryError("a truncated event length") }
                let n = Self.readLength(body, at: i)
                i += 4
                guard i + n <= body.count else { throw LogEntryError("a truncated event") }
                do { events.append(try Event(encoded: Array(body[i..<(i + n)]))) } catch { throw LogEntryError("an event that does not decode: \(error)") }
                i += n
            }
            self = .events(events, isolated: kind == "isolated")
        case "rejections":
            guard let object = (try? JSONParser.parse(body))?.objectValue else { throw LogEntryError("rejection counts that are not a JSON object") }
            var counts: [String: [String: UInt64]] = [:]
            for (dept, reasons) in object {
                for (reason, n) in reasons.objectValue ?? [:] { counts[dept, default: [:]][reason] = n.numberText.flatMap { UInt64($0) } ?? 0 }
            }
            self = .rejections(counts)
        case "token":
            guard let zero = body.firstIndex(of: 0), zero + 5 <= body.count else { throw LogEntryError("a truncated token") }
            let n = Self.readLength(body, at: zero + 1)
            guard zero + 5 + n <= body.count else { throw LogEntryError("a truncated token key") }
            self = .token(id: String(decoding: body[..<zero], as: UTF8.self), key: Array(body[(zero + 5)..<(zero + 5 + n)]),
                          record: Array(body[(zero + 5 + n)...]))
        case "revocation":
            self = .revocation(id: String(decoding: body, as: UTF8.self))
        case "subscription-created", "subscription-updated", "subscription-removed":
            guard let zero = body.firstIndex(of: 0) else { throw LogEntryError("a subscription entry without its id") }
            let id = String(decoding: body[..<zero], as: UTF8.self)
            let record = Array(body[(zero + 1)...])
            switch kind {
            case "subscription-created": self = .subscription(.create(id: id, record: record))
            case "subscription-updated": self = .subscription(.update(id: id, record: record))
            default: self = .subscription(.remove(id: id))
            }
        default:
            throw LogEntryError("an entry of unknown kind \(kind ?? "(none)")")
        }
    }

    /// Adds one encoded event to an events entry's body (its length, then its bytes).
    static func append(encoded event: [UInt8], to body: inout [UInt8]) {
        body += length(event.count)
        body += event
    }

    static func length(_ n: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: n >> (24 - 8 * $0)) } }
    static func readLength(_ b: [UInt8], at i: Int) -> Int { (0..<4).reduce(0) { $0 << 8 | Int(b[i + $1]) } }
}

/// A message of the log stream this node cannot read.
public struct LogEntryError: Error, CustomStringConvertible {
    public let description: String
    init(_ what: String) { description = "the replicated log holds \(what)" }
}

extension String {
    /// Usable as a NATS header value: no control characters.
    var headerSafe: String { String(unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) }) }
}
