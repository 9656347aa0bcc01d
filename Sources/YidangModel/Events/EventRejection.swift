/// Why an event was refused: the failing field (a dotted path such as `data.birthDate`),
/// a machine-readable reason code, and a sentence for people.
public struct EventRejection: Error, Sendable, Hashable, CustomStringConvertible {
    public let field: String
    public let code: Code
    public let reason: String
    /// For ``Code/idReused``: the log position of the event first stored under the id.
    public var originalPosition: UInt64?

    public enum Code: String, Sendable, Hashable, CaseIterable {
        case malformedJSON = "malformed-json"
        case notAnObject = "not-an-object"
        case missingField = "missing-field"
        case invalidField = "invalid-field"
        case unsupportedSpecVersion = "unsupported-specversion"
        case unknownSource = "unknown-source"
        case forbiddenSource = "forbidden-source"
        case unknownType = "unknown-type"
        case invalidSubject = "invalid-subject"
        case invalidIdentifier = "invalid-identifier"
        case subjectKindMismatch = "subject-kind-mismatch"
        case invalidTime = "invalid-time"
        case futureTime = "future-time"
        case invalidData = "invalid-data"
        case unknownAttribute = "unknown-attribute"
        case invalidValue = "invalid-value"
        case unknownConflict = "unknown-conflict"
        case conflictNotOpen = "conflict-not-open"
        /// The (source, id) is stored already with other content: a repeat must be identical.
        case idReused = "id-reused"
    }

    public init(_ field: String, _ code: Code, _ reason: String) {
        self.field = field; self.code = code; self.reason = reason
    }
    public var description: String { "\(field): \(reason)" }
}
