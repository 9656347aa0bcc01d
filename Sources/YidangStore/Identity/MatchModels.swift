import Foundation
import YidangMatching
import YidangModel

/// Trained matching weights, per entity kind, in the data directory (`matching.json`,
/// written by `yidang matches train`). A model whose attributes or comparators no longer
/// agree with the configuration is not used: the configuration's defaults are.
public enum MatchModels {
    public static func path(directory: String) -> String { directory + "/matching.json" }

    /// The stored models, or none.
    /// - Throws: when the file exists and cannot be read or decoded.
    public static func load(directory: String) throws -> [EntityKind: MatchModel] {
        let file = path(directory: directory)
        guard FileManager.default.fileExists(atPath: file) else { return [:] }
        let stored = try JSONDecoder().decode([String: MatchModel].self, from: try Data(contentsOf: URL(fileURLWithPath: file)))
        var out: [EntityKind: MatchModel] = [:]
        for (k, m) in stored { if let kind = EntityKind(rawValue: k) { out[kind] = m } }
        return out
    }

    /// Writes `models` (replacing the file whole).
    public static func save(_ models: [EntityKind: MatchModel], directory: String) throws {
        var stored: [String: MatchModel] = [:]
        for (k, m) in models { stored[k.rawValue] = m }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(stored).write(to: URL(fileURLWithPath: path(directory: directory)), options: .atomic)
    }

    /// The model for `kind` under `configuration`: the trained one when it fits the
    /// configured comparators, else the defaults; nil without matching settings.
    public static func model(_ kind: EntityKind, trained: [EntityKind: MatchModel], configuration: Configuration) -> MatchModel? {
        guard let settings = configuration.matching(kind) else { return nil }
        if let m = trained[kind], m.attributes.mapValues(\.comparator) == settings.compare { return m }
        return MatchModel(settings: settings)
    }
}
