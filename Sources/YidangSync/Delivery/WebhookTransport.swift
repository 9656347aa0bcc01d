import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Delivers messages by HTTP POST to a subscriber's URL, signed per Standard Webhooks
/// (`webhook-id` is the message id, `webhook-timestamp`, `webhook-signature`), the body an
/// `application/cloudevents-batch+json` array. Only a 2xx answer is a delivery; a
/// `Retry-After` in seconds is passed on to the retry loop.
public struct WebhookTransport: DeliveryTransport {
    let client: HTTPClient
    let hook: Subscription.Webhook
    let subscription: String
    let timeout: Duration

    public init(client: HTTPClient, hook: Subscription.Webhook, subscription: String, timeout: Duration) {
        self.client = client; self.hook = hook; self.subscription = subscription; self.timeout = timeout
    }

    public func deliver(_ message: DeliveryMessage) async throws(DeliveryFailure) {
        guard let signer = WebhookSigner(secret: hook.secret) else { throw DeliveryFailure("the subscription's webhook secret is not a whsec_ key") }
        let timestamp = Int(Date().timeIntervalSince1970)
        var request = HTTPClientRequest(url: hook.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/cloudevents-batch+json")
        request.headers.add(name: "yidang-subscription", value: subscription)
        request.headers.add(name: "webhook-id", value: message.id)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature", value: signer.signature(id: message.id, timestamp: timestamp, body: message.body))
        request.body = .bytes(ByteBuffer(bytes: message.body))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .milliseconds(Int64(timeout / .milliseconds(1))))
            // Only the status matters; the answer's body is drained, and failing to drain it
            // changes nothing about the status already received.
            _ = try? await response.body.collect(upTo: 1 << 16)
        } catch {
            throw DeliveryFailure("\(error)")
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let retryAfter = response.headers.first(name: "retry-after").flatMap { Int($0) }.map { Duration.seconds($0) }
            throw DeliveryFailure("HTTP \(response.status.code)", retryAfter: retryAfter)
        }
    }
}
