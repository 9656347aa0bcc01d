import Foundation
import JSON
import YidangModel
import YidangProjection

/// Builds steward decisions as events (source `steward`, type `steward.resolved`).
public enum Steward {
    public static let eventType = "steward.resolved"

    /// A steward event settling `conflict`.
    /// - Throws: ``EventRejection`` when the action's argument is missing or invalid: a
    ///   pinned value must pass the attribute's type and normalizer, and must be one of the
    ///   candidates' values unless `force` is set (a value no department asserted is most
    ///   often a slip, such as an address pinned onto a name).
    public static func decision(conflict: Conflict, action: StewardDecision.Action, value: String?, source: String?,
                                steward: String, note: String?, force: Bool = false,
                                configuration: Configuration, now: Int64) throws -> Event {
        var normalized: String?
        switch action {
        case .accept: break
        case .pin:
            guard let value, let rule = configuration.rule(conflict.subject.kind, conflict.attribute) else {
                throw EventRejection("value", .invalidValue, "pin needs a value")
            }
            let json: JSONValue = (rule.type == .integer || rule.type == .decimal) ? .number(value) : .string(value)
            do { normalized = try Normalizer.normalize(json, rule: rule) } catch {
                throw EventRejection("value", .invalidValue, "\(conflict.attribute) \(error.reason)")
            }
            if !force, let normalized, !conflict.candidates.contains(where: { $0.value == normalized }) {
                let values = conflict.candidates.map { "\"\($0.value)\" (\($0.source))" }.joined(separator: ", ")
                throw EventRejection("value", .invalidValue,
                                     "\"\(normalized)\" is none of the candidates' values of \(conflict.attribute) (\(values)); "
                                     + "to pin a value no department asserted, confirm with force")
            }
        case .reject:
            guard let source, !source.isEmpty else { throw EventRejection("source", .missingField, "reject needs the department whose value is wrong") }
        }
        guard !steward.isEmpty else { throw EventRejection("steward", .missingField, "the steward's name is required") }
        var data: JSONObject = ["conflict": JSONValue(conflict.id), "attribute": .string(conflict.attribute),
                                "action": .string(action.rawValue), "steward": .string(steward)]
        if let normalized { data["value"] = .string(normalized) }
        if action == .reject, let source { data["source"] = .string(source) }
        if let note { data["note"] = .string(note) }
        let decision = StewardDecision(conflictId: conflict.id, attribute: conflict.attribute, action: action, value: normalized,
                                       rejectedSource: action == .reject ? source : nil, steward: steward, note: note)
        return event(type: eventType, subject: conflict.subject, data: data, body: .steward(decision), now: now)
    }

    /// A steward's event (source `steward`, a fresh id, effective now).
    static func event(type: String, subject: Subject, data: JSONObject, body: EventBody, now: Int64) -> Event {
        Event(id: "steward-" + UUID().uuidString.lowercased(), source: Configuration.stewardSource, type: type,
              subject: subject, time: now, timeText: Timestamp.format(now), dataContentType: "application/json",
              data: .object(data), body: body)
    }
}
