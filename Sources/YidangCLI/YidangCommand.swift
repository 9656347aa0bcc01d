import ArgumentParser
import Foundation

/// `yidang`: the city's master-data hub (一人一档 / 一企一档).
public struct YidangCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "yidang",
        abstract: "Yidang (一档): the city's event-sourced master-data hub for people and enterprises.",
        discussion: """
        Local mode works on a data directory (--data DIR, default ./yidang-data, or YIDANG_DATA).

        A steward's day:
          yidang conflicts list                      open conflicts, oldest first
          yidang conflicts show 12                   every department's value, and who wins
          yidang conflicts resolve 12 --accept       the winner stands
          yidang conflicts resolve 12 --pin 张三      this value wins
          yidang conflicts resolve 12 --reject zhujian --note "地址已过期"   ask 住建 to correct
          yidang person show 11010519491231002X --lineage
        """,
        subcommands: [
            ServeCommand.self, ImportCommand.self, PersonCommand.self, EnterpriseCommand.self, HistoryCommand.self,
            ConflictsCommand.self, MatchesCommand.self, MergeCommand.self, UnmergeCommand.self, CrosswalksCommand.self, ChangesCommand.self, SubscriptionsCommand.self, QualityCommand.self, TokensCommand.self, AuditCommand.self, VerifyClaimsCommand.self,
            RebuildCommand.self, VerifyCommand.self, BackupCommand.self, RestoreCommand.self, AppendLoadCommand.self, CompactCommand.self, SSEBenchCommand.self, JetStreamBenchCommand.self, PublishCeilingCommand.self, BulkWriteCeilingCommand.self, RebuildCeilingCommand.self,
        ]
    )
    public init() {}
}
