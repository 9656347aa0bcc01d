/// Everything that differs between persons and enterprises outside their attributes (which
/// the configuration holds), in one table: a code that needs one of these asks the kind
/// instead of testing `kind == .person`.
public struct EntityKindTraits: Sendable {
    /// The byte that stands for the kind in keys and stored records.
    public let storageByte: UInt8
    /// The national identifier's name, for messages.
    public let identifierName: String
    /// The identifier's name as a route parameter and in errors (`id`, `uscc`).
    public let identifierField: String
    /// The collection's path segment (`/v1/persons`, `/v1/enterprises`).
    public let route: String
    /// How sensitive the subject's own identifier is (masked below it).
    public let identifierSensitivity: Sensitivity
    /// Whether a record is personal information: every read of one is audited (PIPL).
    public let isPersonalData: Bool
    /// The `data` member in which a local record carries the national identifier its
    /// department holds (`citizenId`, `creditCode`).
    public let dataIdentifier: String
}

extension EntityKind {
    private static let personTraits = EntityKindTraits(storageByte: EntityKind.person.storageByte, identifierName: "公民身份号码", identifierField: "id", route: "persons",
                                                 identifierSensitivity: .L3, isPersonalData: true, dataIdentifier: "citizenId")
    private static let enterpriseTraits = EntityKindTraits(storageByte: EntityKind.enterprise.storageByte, identifierName: "统一社会信用代码", identifierField: "uscc", route: "enterprises",
                                                     identifierSensitivity: .L1, isPersonalData: false, dataIdentifier: "creditCode")

    public var traits: EntityKindTraits {
        switch self {
        case .person: return Self.personTraits
        case .enterprise: return Self.enterpriseTraits
        }
    }

    /// ``EntityKindTraits/storageByte``, without copying the table's strings (it is written
    /// for every event and key).
    @inline(__always) public var storageByte: UInt8 {
        switch self {
        case .person: return 0
        case .enterprise: return 1
        }
    }

    /// The kind a stored byte stands for (any byte but a person's reads as an enterprise,
    /// as records have always been written with 0 or 1).
    public init(storageByte: UInt8) { self = storageByte == EntityKind.person.storageByte ? .person : .enterprise }
}
