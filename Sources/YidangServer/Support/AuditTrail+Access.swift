import Hummingbird
import JSON
import Logging
import YidangStore

extension AuditTrail {
    /// Records an access before it is served. An access that cannot be recorded is not
    /// served: it is refused with a 500 problem and the failure is logged.
    func recordOrRefuse(_ caller: Principal, action: String, subject: String?, detail: String? = nil, extra: JSONObject = [:],
                        logger: Logger) throws {
        do {
            try record(caller: caller.name, role: caller.role, action: action, subject: subject, detail: detail,
                       token: caller.tokenId == "local" ? nil : caller.tokenId, extra: extra)
        } catch {
            logger.error("audit trail write failed; refusing \(action) by \(caller.name): \(error)")
            throw Problem(.internalServerError, type: "audit-unavailable", title: "Internal Server Error",
                          detail: "the access could not be recorded in the audit trail, so it is refused")
        }
    }
}
