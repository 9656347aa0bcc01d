import ArgumentParser
import Foundation
import JSON
import YidangModel
import YidangStore

struct ChangesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "changes", abstract: "The change feed: golden-record deltas and correction notices, in order.",
        discussion: """
        Local mode reads the whole feed (or one subscription's view with --subscription).
        Remote mode reads through a subscription, filtered and masked by its policy.
        Examples:
          yidang changes --after 120 --limit 50 --json
          yidang changes --server http://127.0.0.1:8080 --token $T --subscription sub_… --follow
        """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Read through this subscription's filters and policy.") var subscription: String?
    @Option(help: "Start after this change position (default 0, or the subscription's cursor).") var after: UInt64?
    @Option(help: "At most this many per page.") var limit: Int = 100
    @Flag(help: "Keep waiting for new changes and print them as they come (Ctrl-C to stop).") var follow = false

    func run() async throws {
        try await guarded {
            let client = try connection.client(readOnly: true)
            try await withClient(client) { client in
                var cursor = after
                repeat {
                    let page = try await client.changes(subscription: subscription, after: cursor, limit: limit, wait: follow ? 25 : 0)
                    let list = page["changes"]?.arrayValue ?? []
                    // Written straight to the file descriptor so a follower sees each line at once.
                    if output.json {
                        if follow { for c in list { emit(JSONWriter.serialize(c)) } }
                        else { emit(JSONWriter.serialize(page, pretty: true)) }
                    } else if !list.isEmpty {
                        emit(Views.changes(list))
                    } else if !follow {
                        emit("no changes after \(cursor ?? 0)")
                    }
                    if let n = page["next"]?.numberText.flatMap({ UInt64($0) }) { cursor = n }
                    if follow && list.isEmpty && client is LocalClient { try await Task.sleep(for: .seconds(1)) }
                } while follow
            }
        }
    }
}

/// One line to stdout, unbuffered.
func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

struct QualityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quality",
        abstract: "Per-department data quality: accepted, rejected by reason, conflicts opened against it, corrections asked, median delay.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await guarded {
            let q = try await withClient(try connection.client(readOnly: true)) { try await $0.quality() }
            print(output.json ? JSONWriter.serialize(.array(q), pretty: true) : Views.quality(q))
        }
    }
}

struct SubscriptionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscriptions", abstract: "Durable subscriptions of subscriber systems (一处变更、全网同步).",
        subcommands: [Create.self, List.self, Show.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create",
            abstract: "Create a subscription; prints it (and a webhook's whsec_ secret, shown once).",
            discussion: "Example: yidang subscriptions create --name 海曙网格 --region 330203 --kind person --webhook https://grid.example/hook")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "A name.") var name: String
        @Option(name: .customLong("kind"), help: "person or enterprise (repeatable).") var kinds: [String] = []
        @Option(name: .customLong("attribute"), help: "Only these attributes (repeatable).") var attributes: [String] = []
        @Option(name: .customLong("region"), help: "Region-code prefix (repeatable).") var regions: [String] = []
        @Option(help: "L1…L4: the highest sensitivity it may see.") var clearance: String?
        @Option(name: .customLong("allow"), help: "Attribute allow-list (repeatable).") var allow: [String] = []
        @Option(help: "Deliver by POSTing to this URL (Standard Webhooks).") var webhook: String?
        @Option(help: "beginning (full load) or now.") var start: String = "beginning"
        @Option(help: "Local mode: the owning department (receives its correction notices).") var department: String?

        func run() async throws {
            try await guarded {
                var o: JSONObject = ["name": .string(name), "start": .string(start),
                                     "kinds": .array(kinds.map { .string($0) }), "attributes": .array(attributes.map { .string($0) }),
                                     "regions": .array(regions.map { .string($0) })]
                if let clearance { o["clearance"] = .string(clearance) }
                if !allow.isEmpty { o["allow"] = .array(allow.map { .string($0) }) }
                if let webhook { o["webhook"] = ["url": .string(webhook)] }
                if let department { o["department"] = .string(department) }
                let s = try await withClient(try connection.client()) { try await $0.createSubscription(.object(o)) }
                if output.json { print(JSONWriter.serialize(s, pretty: true)); return }
                print(Views.subscriptions([s]))
                if let secret = s["secret"]?.stringValue { print("webhook secret (shown once): \(secret)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List subscriptions with their cursor and status.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        func run() async throws {
            try await guarded {
                let list = try await withClient(try connection.client(readOnly: true)) { try await $0.subscriptions() }
                print(output.json ? JSONWriter.serialize(.array(list), pretty: true) : (list.isEmpty ? "no subscriptions" : Views.subscriptions(list)))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one subscription.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument var id: String
        func run() async throws {
            try await guarded {
                let s = try await withClient(try connection.client(readOnly: true)) { try await $0.subscription(id: id) }
                print(output.json ? JSONWriter.serialize(s, pretty: true) : Views.subscriptions([s]))
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a subscription.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var id: String
        func run() async throws {
            try await guarded {
                try await withClient(try connection.client()) { try await $0.deleteSubscription(id: id) }
                print("deleted \(id)")
            }
        }
    }
}
