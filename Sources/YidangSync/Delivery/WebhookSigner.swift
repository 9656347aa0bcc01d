import Crypto
import Foundation

/// Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
/// keyed by the base64 part of the `whsec_…` secret.
public struct WebhookSigner: Sendable {
    let key: SymmetricKey

    /// - Returns: nil when `secret` is not `whsec_<base64>`.
    public init?(secret: String) {
        guard secret.hasPrefix("whsec_"), let raw = Data(base64Encoded: String(secret.dropFirst(6))) else { return nil }
        key = SymmetricKey(data: raw)
    }

    public func signature(id: String, timestamp: Int, body: [UInt8]) -> String {
        var message = Data("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: key)
        return "v1," + Data(mac).base64EncodedString()
    }

    /// Verifies a `webhook-signature` header (space-separated list) in constant time.
    public func verify(id: String, timestamp: Int, body: [UInt8], header: String) -> Bool {
        var message = Data("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        for part in header.split(separator: " ") where part.hasPrefix("v1,") {
            if let sig = Data(base64Encoded: String(part.dropFirst(3))),
               HMAC<SHA256>.isValidAuthenticationCode(sig, authenticating: message, using: key) {
                return true
            }
        }
        return false
    }
}
