import Hummingbird
import YidangStore

/// Per-request context: Hummingbird's core storage plus the authenticated caller.
public struct YidangRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AuthMiddleware`` for every `/v1` route.
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        principal = nil
    }

    /// Bodies are limited by the server's own check (``ServerOptions/maxBodyBytes``).
    public var maxUploadSize: Int { 64 << 20 }
}
