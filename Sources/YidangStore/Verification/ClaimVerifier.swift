import Identifiers
import JSON
import YidangMatching
import YidangModel
import YidangProjection

/// A verification request, checked: the subject and each claim normalized by its
/// attribute's rule, in the order they were sent.
public struct ClaimSet: Sendable {
    public var subject: Subject
    public var claims: [(attribute: String, value: String)]
}

/// Why a verification request was refused.
public struct VerificationError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case invalid, forbidden }
    public var kind: Kind
    public var field: String
    public var reason: String
    public var description: String { "\(field): \(reason)" }
}

/// One verification's answer: each claim's result, never a value.
public struct VerificationAnswer: Sendable {
    public var subject: Subject
    public var results: [(attribute: String, result: ClaimResult)]
    public var verifiedAt: Int64

    /// The subject as the answer shows it: a 公民身份号码 masked to its region and last four.
    public var maskedSubject: String {
        subject.kind == .person ? "person/" + CitizenID.mask(subject.id) : subject.description
    }
    public var mismatches: Int { results.count { $0.result == .mismatch } }
    /// `name:match phone:mismatch`, for the audit trail.
    public var summary: String { results.map { "\($0.attribute):\($0.result.rawValue)" }.joined(separator: " ") }

    /// `{"subject", "result": {attribute: result}, "verifiedAt"}`.
    public func json() -> JSONValue {
        var result = JSONObject()
        for r in results { result[r.attribute] = .string(r.result.rawValue) }
        return ["subject": .string(maskedSubject), "result": .object(result), "verifiedAt": .string(Timestamp.format(verifiedAt))]
    }
}

/// Answers "is this true?" about a person or enterprise without disclosing the record
/// (可用不可见): each claim is normalized like an event's value and compared with what the
/// golden record holds by the attribute's ``Comparator``.
public struct ClaimVerifier: Sendable {
    public let reader: StoreReader
    public var configuration: Configuration { reader.configuration }
    /// The most claims one request may carry.
    public static let maximumClaims = 32

    public init(reader: StoreReader) { self.reader = reader }

    /// Checks a request body `{"subject", "claims": {attribute: value}}` against the
    /// caller's rights: every attribute must exist, lie within `clearance` and, when
    /// `allowed` is given, be in it.
    /// - Throws: ``VerificationError`` naming the field (`subject`, `claims`, `claims.<name>`).
    public func parse(_ body: JSONValue, clearance: Sensitivity, allowed: Set<String>?) throws(VerificationError) -> ClaimSet {
        func invalid(_ field: String, _ reason: String) -> VerificationError { VerificationError(kind: .invalid, field: field, reason: reason) }
        guard case .object(let o) = body else { throw invalid("(body)", "must be a JSON object with subject and claims") }
        for key in o.keys where key != "subject" && key != "claims" {
            throw invalid(key, "is not a field of a verification request (subject, claims)")
        }
        guard let subjectValue = o["subject"] else { throw invalid("subject", "is required, e.g. \"person/<公民身份号码>\"") }
        guard case .string(let text) = subjectValue else { throw invalid("subject", "must be a string, got \(subjectValue.typeName)") }
        let subject: Subject
        do { subject = try Subject(reference: text, field: "subject") } catch { throw invalid(error.field, error.reason) }
        guard let claimsValue = o["claims"] else { throw invalid("claims", "is required: an object of attribute: value") }
        guard case .object(let claims) = claimsValue else { throw invalid("claims", "must be an object of attribute: value, got \(claimsValue.typeName)") }
        guard !claims.isEmpty else { throw invalid("claims", "must hold at least one claim") }
        guard claims.count <= Self.maximumClaims else { throw invalid("claims", "holds \(claims.count) claims; at most \(Self.maximumClaims)") }
        var checked: [(attribute: String, value: String)] = []
        for (attribute, value) in claims {
            let field = "claims.\(attribute)"
            guard let rule = configuration.rule(subject.kind, attribute) else {
                let known = configuration.entity(subject.kind)?.attributes.keys.sorted().joined(separator: ", ") ?? ""
                throw invalid(field, "is not an attribute of \(subject.kind.rawValue) (\(known))")
            }
            guard rule.sensitivity <= clearance else {
                throw VerificationError(kind: .forbidden, field: field, reason: "is \(rule.sensitivity.rawValue); this token's clearance is \(clearance.rawValue)")
            }
            if let allowed, !allowed.contains(attribute) {
                throw VerificationError(kind: .forbidden, field: field,
                                        reason: "is not among the attributes this token may verify (\(allowed.sorted().joined(separator: ", ")))")
            }
            do { checked.append((attribute, try Normalizer.normalize(value, rule: rule))) } catch { throw invalid(field, error.reason) }
        }
        return ClaimSet(subject: subject, claims: checked)
    }

    /// Compares each claim with the subject's current golden record.
    /// - Throws: when the store cannot be read.
    public func verify(_ request: ClaimSet, now: Int64 = Timestamp.now()) throws -> VerificationAnswer {
        let state = try reader.state(of: request.subject)
        var results: [(attribute: String, result: ClaimResult)] = []
        for (attribute, claim) in request.claims {
            let held = state?.attributes[attribute].map(Self.held) ?? HeldValues(golden: nil, asserted: [])
            let rule = configuration.rule(request.subject.kind, attribute)!   // parse() checked it
            let comparator = configuration.matching(request.subject.kind)?.compare[attribute] ?? Comparator.implied(attribute: attribute, rule: rule)
            results.append((attribute, comparator.verify(claim: claim, against: held)))
        }
        return VerificationAnswer(subject: request.subject, results: results, verifiedAt: now)
    }

    static func held(_ a: AttributeState) -> HeldValues {
        HeldValues(golden: a.golden?.value, asserted: a.heldValues)
    }
}
