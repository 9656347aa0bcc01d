import Hummingbird

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
