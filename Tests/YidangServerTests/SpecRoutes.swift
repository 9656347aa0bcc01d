import Foundation
import Yams

/// Reads `METHOD path` pairs from an OpenAPI document.
enum SpecRoutes {
    static func load(_ url: URL) throws -> Set<String> {
        let text = try String(contentsOf: url, encoding: .utf8)
        guard let doc = try Yams.load(yaml: text) as? [String: Any], let paths = doc["paths"] as? [String: Any] else { return [] }
        var out = Set<String>()
        for (path, item) in paths {
            guard let ops = item as? [String: Any] else { continue }
            for method in ops.keys where ["get", "post", "put", "delete", "patch"].contains(method) {
                out.insert("\(method.uppercased()) \(path)")
            }
        }
        return out
    }
}
