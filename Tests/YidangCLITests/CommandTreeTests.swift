import ArgumentParser
import Testing
@testable import YidangCLI

/// Every start builds the whole command tree, and a command without a name of its own is
/// named from its type by `String(describing:)`: three protocol-conformance scans of the
/// static binary each. So every command names itself.
@Suite struct CommandTreeTests {
    @Test func everyCommandNamesItself() {
        var unnamed: [String] = []
        var pending: [any ParsableCommand.Type] = [YidangCommand.self]
        var seen = 0
        while let command = pending.popLast() {
            seen += 1
            if command.configuration.commandName == nil { unnamed.append("\(command)") }
            pending.append(contentsOf: command.configuration.subcommands)
        }
        #expect(seen > 40)
        #expect(unnamed.isEmpty, "commands named from their types: \(unnamed)")
    }
}
