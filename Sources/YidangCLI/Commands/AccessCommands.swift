import ArgumentParser
import Foundation
import JSON
import YidangCluster
import YidangModel
import YidangStore

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "API tokens: create, list, revoke (stored hashed; each bound to a role).",
        discussion: """
        Local mode works on a data directory no hub is serving; remote mode (--server/--token
        with an admin token) works on a running hub, and a revoked token is refused from its
        next request on.
        """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create",
            abstract: "Create a token and print it alone on stdout (shown once; --json for its id and fields).",
            discussion: """
            Examples:
              TOKEN=$(yidang tokens create --role publisher --source gongan --name 公安接口 --expires 90d)
              yidang tokens create --role verifier --name 银行核验 --clearance L3 --attribute name --attribute phone
            """)
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "publisher, reader, subscriber, verifier, steward or admin.") var role: String
        @Option(help: "For publishers: the department code they publish as.") var source: String?
        @Option(help: "A name for the audit trail.") var name: String?
        @Option(help: "L1…L4: the highest sensitivity the holder may see (default L2 for subscribers and verifiers, L3 for readers and stewards).")
        var clearance: String?
        @Option(name: .customLong("attribute"), help: "For verifiers: an attribute it may verify (repeatable; default any within its clearance).")
        var attributes: [String] = []
        @Option(help: "Lifetime such as 90d, 12h or 30m, or an RFC 3339 time (default: no expiry).") var expires: String?
        @OptionGroup var cluster: ClusterOptions

        func run() async throws {
            try await guarded {
                var body: JSONObject = ["role": .string(role)]
                if let source { body["source"] = .string(source) }
                if let name { body["name"] = .string(name) }
                if let clearance { body["clearance"] = .string(clearance) }
                if !attributes.isEmpty { body["attributes"] = .array(attributes.map { .string($0) }) }
                if let expires { body["expires"] = .string(expires) }
                let created: JSONValue
                if let settings = cluster.settings(defaultNode: "cli") {
                    created = try await Self.createInCluster(.object(body), settings: settings, configPath: connection.data.config)
                } else {
                    created = try await withClient(try connection.client()) { try await $0.createToken(.object(body)) }
                }
                print(output.json ? JSONWriter.serialize(created, pretty: true) : created["token"]?.stringValue ?? "")
            }
        }

        /// Puts the token into a cluster's replicated log, with no hub running: every node
        /// stores it when it applies the entry.
        static func createInCluster(_ body: JSONValue, settings: ClusterSettings, configPath: String?) async throws -> JSONValue {
            let configuration = try configPath.map { try Configuration.load(path: $0) } ?? .default
            let request: TokenRequest
            do { request = try TokenRequest(body, configuration: configuration) } catch { throw CLIError.failure("--\(error.description)") }
            let issued = TokenStore.mint(role: request.role, source: request.source, name: request.name, clearance: request.clearance,
                                         attributes: request.attributes, expires: request.expires)
            try await ReplicatedLog.issue(issued, settings: settings)
            var o = issued.info.json().objectValue ?? [:]
            o["token"] = .string(issued.token)
            return .object(o)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List tokens: id, name, role, source, clearance, created, expires, last used (never the tokens).")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        func run() async throws {
            try await guarded {
                let list = try await withClient(try connection.client(readOnly: true)) { try await $0.tokens() }
                if output.json { print(JSONWriter.serialize(.array(list), pretty: true)); return }
                func text(_ v: JSONValue?) -> String { v?.stringValue ?? "" }
                print(Terminal.table(["id", "name", "role", "source", "clearance", "created", "expires", "last used"], list.map {
                    [text($0["id"]), text($0["name"]), text($0["role"]), text($0["source"]), text($0["clearance"]),
                     text($0["created"]), text($0["expires"]), text($0["lastUsed"])]
                }))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a token by id: refused from its next request on.",
                                                        discussion: "Example: yidang tokens revoke tok_3f2a9c1d0b7e6a54 --server http://127.0.0.1:8080 --token $ADMIN")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The token's id (tok_…), as `tokens list` shows it.") var id: String
        func run() async throws {
            try await guarded {
                let revoked = try await withClient(try connection.client()) { try await $0.revokeToken(id: id) }
                print("revoked \(revoked["id"]?.stringValue ?? id) (\(revoked["name"]?.stringValue ?? ""), \(revoked["role"]?.stringValue ?? ""))")
            }
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The audit trail, newest first: who read, verified or settled what.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "How many entries.") var limit = 50

    func run() async throws {
        try await guarded {
            guard (1...10_000).contains(limit) else { throw CLIError.failure("--limit: must be 1…10000, got \(limit)") }
            let entries = try await withClient(try connection.client(readOnly: true)) { try await $0.audit(limit: limit) }
            if output.json { print(JSONWriter.serialize(.array(entries), pretty: true)); return }
            func text(_ v: JSONValue?) -> String { v?.stringValue ?? "" }
            print(Terminal.table(["time", "caller", "role", "action", "subject", "detail"], entries.map {
                [text($0["time"]), text($0["caller"]), text($0["role"]), text($0["action"]), text($0["subject"]), text($0["detail"])]
            }))
        }
    }
}

struct VerifyClaimsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-claims",
        abstract: "Check claims about a person or enterprise without reading the record (可用不可见): match, mismatch, partial or unknown.",
        discussion: """
        Every verification is audited. Remotely it needs a verifier (or admin) token and counts
        against the token's rate limit.
        Example: yidang verify-claims person/11010519491231002X name=张三 phone=13800138000
        """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "person/<公民身份号码> or enterprise/<统一社会信用代码>.") var subject: String
    @Argument(help: "Claims as attribute=value.") var claims: [String] = []

    func run() async throws {
        try await guarded {
            guard !claims.isEmpty else { throw CLIError.failure("claims: give at least one attribute=value") }
            var o = JSONObject()
            for claim in claims {
                guard let eq = claim.firstIndex(of: "="), eq != claim.startIndex else {
                    throw CLIError.failure("claims: expected attribute=value, got \(claim)")
                }
                o[String(claim[..<eq])] = .string(String(claim[claim.index(after: eq)...]))
            }
            let body: JSONValue = ["subject": .string(subject), "claims": .object(o)]
            let answer = try await withClient(try connection.client()) { try await $0.verifyClaims(body) }
            if output.json { print(JSONWriter.serialize(answer, pretty: true)); return }
            let result = answer["result"]?.objectValue ?? JSONObject()
            print(Terminal.bold(answer["subject"]?.stringValue ?? subject))
            print(Terminal.table(["attribute", "result"], result.map { attribute, r in
                let text = r.stringValue ?? ""
                let painted = text == "match" ? Terminal.green(text) : text == "mismatch" ? Terminal.red(text) : text == "partial" ? Terminal.yellow(text) : Terminal.dim(text)
                return [attribute, painted]
            }))
        }
    }
}
