extension StringProtocol {
    /// Without the optional whitespace (spaces and horizontal tabs, RFC 9110 §5.6.3) around a
    /// header value's part. Foundation's `trimmingCharacters(in:)` bridges through NSString,
    /// a few percent of a single publish's server time in a profile.
    func trimmingOptionalWhitespace() -> SubSequence {
        let isWhitespace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isWhitespace($0) }), let last = lastIndex(where: { !isWhitespace($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
