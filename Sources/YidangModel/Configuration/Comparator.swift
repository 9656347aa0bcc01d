

/// How two values of an attribute are compared, by verification and by matching.
///
/// An attribute's comparator comes from its rule unless the configuration names one:
/// dates compare as dates, phones by digits, `name` as a personal or enterprise name,
/// attributes whose name ends in `Address` as addresses, numbers as numbers, everything
/// else exactly.
public enum Comparator: String, Sendable, CaseIterable, Codable {
    /// Equal after normalization, nothing in between.
    case exact
    /// Free text: equal after folding width, case, spaces and traditional characters.
    case text
    /// A name: by characters (traditional folded to simplified) and by pinyin.
    case name
    /// A calendar date.
    case date
    /// A phone number, by its digits.
    case phone
    /// An address, by overlap of its parts.
    case address
    /// A number.
    case number

    /// The comparator an attribute gets when the configuration names none.
    public static func implied(attribute: String, rule: AttributeRule) -> Comparator {
        switch rule.type {
        case .date: return .date
        case .phone: return .phone
        case .integer, .decimal: return .number
        case .code, .citizenId, .creditCode, .regionCode: return .exact
        case .text:
            if attribute == "name" || attribute.hasSuffix("Name") { return .name }
            if attribute.hasSuffix("Address") || attribute == "address" { return .address }
            return .text
        }
    }
}
