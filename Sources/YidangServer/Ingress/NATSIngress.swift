import JSON
import Logging
import NATS
import YidangModel
import YidangStore

/// Departments publishing over NATS: each event a message on `yidang.events.<department>`,
/// kept by the JetStream stream `YIDANG_EVENTS` while no hub is up. The hub consumes it with
/// the durable consumer `yidang-hub`: each message goes through the same ingest pipeline as
/// an HTTP publish, as the department its subject names (NATS permissions decide who may
/// publish on which subject; the message cannot claim another department), and is
/// acknowledged once its result is durable. Each result (accepted with its position,
/// duplicate with the original position, rejected with the problem) is published on
/// `yidang.results.<department>`. A hub that stops before acknowledging gets the message
/// again, which is then a duplicate: nothing acknowledged is lost, nothing stored twice.
public actor NATSIngress {
    public static let streamName = "YIDANG_EVENTS"
    public static let consumerName = "yidang-hub"

    let connection: NATSConnection
    let consumer: PullConsumer
    let hub: Hub
    let metrics: HubMetrics
    let logger: Logger
    public private(set) var handled: UInt64 = 0

    /// Connects, creates (or updates) the stream and binds the durable consumer.
    /// - Throws: ``NATSError`` when NATS cannot be reached or refuses.
    public init(servers: [String], replicas: Int = 1, hub: Hub, metrics: HubMetrics, logger: Logger = Logger(label: "yidang.ingress")) throws {
        connection = try NATSConnection(servers: servers, name: "yidang-ingress")
        var settings = NATSConnection.StreamSettings(name: Self.streamName, subjects: ["yidang.events.*"])
        settings.replicas = replicas
        try connection.ensureStream(settings)
        consumer = try PullConsumer(connection: connection, stream: Self.streamName, subject: "yidang.events.*", durable: Self.consumerName)
        self.hub = hub
        self.metrics = metrics
        self.logger = logger
    }

    /// Consumes until the task is cancelled; a failure is logged and the batch left
    /// unacknowledged, to be delivered again.
    public func run() async {
        let consumer = self.consumer
        while !Task.isCancelled {
            do {
                let batch = try await connection.offloaded { try consumer.fetch(batch: 500, timeoutMilliseconds: 1_000) }
                if batch.isEmpty { continue }
                try await handle(batch)
            } catch {
                logger.error("consuming yidang.events failed; the messages will be delivered again: \(error)")
                try? await Task.sleep(for: .milliseconds(500))   // cancelled: the loop ends
            }
        }
    }

    func handle(_ batch: [DeliveredMessage]) async throws {
        let pipeline = IngestPipeline(hub: hub)
        let now = EventStore.now()
        let departments = batch.map { String($0.subject.split(separator: ".").last ?? "") }
        let admissions = zip(batch, departments).map { m, department in
            pipeline.admit(line: m.data, by: Publisher(department: department), now: now)
        }
        let outcomes = try await pipeline.ingest(admissions)   // durable when it returns
        var answers: [(subject: String, body: [UInt8])] = []
        for ((admission, outcome), department) in zip(zip(admissions, outcomes), departments) {
            var r: JSONObject = [:]
            if let id = admission.id { r["id"] = .string(id) }
            r["department"] = .string(department)
            switch outcome {
            case .accepted(let p):
                r["status"] = "accepted"; r["position"] = JSONValue(p)
                metrics.event(department: department, result: "accepted")
            case .duplicate(let p):
                r["status"] = "duplicate"; r["position"] = JSONValue(p)
                metrics.event(department: department, result: "duplicate")
            case .rejected(let rejection):
                r["status"] = "rejected"; r["problem"] = Problem.rejected(rejection).json
                metrics.event(department: department, result: "rejected", reason: rejection.code.rawValue)
            }
            answers.append(("yidang.results.\(department)", JSONWriter.bytes(.object(r))))
        }
        let connection = self.connection
        let (logger, count, results) = (self.logger, batch.count, answers)
        try await connection.offloaded {
            for (m, answer) in zip(batch, results) {
                // The result is durable already; an answer nobody hears is not retried.
                do { try connection.publishCore(subject: answer.subject, data: answer.body) } catch {
                    logger.warning("could not publish the result on \(answer.subject): \(error)")
                }
                try m.ack()
            }
        }
        handled += UInt64(count)
    }


    public func close() {
        consumer.close()
        connection.close()
    }
}
