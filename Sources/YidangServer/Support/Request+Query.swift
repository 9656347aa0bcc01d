import Hummingbird
import JSON

extension Request {
    /// The integer query parameter `name`, `fallback` when absent.
    /// - Throws: a 400 problem naming the parameter when it is not an integer in `range`, or
    ///   given more than once (which value was meant cannot be known).
    func integerQuery(_ name: String, in range: ClosedRange<Int>, fallback: Int) throws -> Int {
        let values = uri.queryParameters.getAll(name)
        guard let text = values.first else { return fallback }
        guard values.count == 1 else { throw Problem.badRequest("invalid-parameter", "\(name) is given \(values.count) times; give it once", field: name) }
        guard let n = Int(text), range.contains(n) else {
            throw Problem.badRequest("invalid-parameter", "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"", field: name)
        }
        return n
    }

    /// A boolean query parameter (`true` / `false`), `false` when absent.
    /// - Throws: a 400 problem naming the parameter for anything else.
    func booleanQuery(_ name: String) throws -> Bool {
        guard let text = uri.queryParameters.get(name) else { return false }
        switch text {
        case "true": return true
        case "false": return false
        default: throw Problem.badRequest("invalid-parameter", "\(name) must be true or false, got \"\(text)\"", field: name)
        }
    }
}

extension Request {
    /// The body parsed as JSON (at most `limit` bytes).
    /// - Throws: a 400 `malformed-json` problem when it is not JSON.
    mutating func jsonBody(upTo limit: Int = 1 << 16) async throws -> JSONValue {
        let bytes = Array(try await collectBody(upTo: limit).readableBytesView)
        do { return try JSONParser.parse(bytes) } catch let e as JSONParseError {
            throw Problem.badRequest("malformed-json", "the body is not valid JSON: \(e)", field: "(body)")
        }
    }
}
