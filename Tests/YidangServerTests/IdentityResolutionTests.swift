import Foundation
import HTTPTypes
import Identifiers
import Hummingbird
import HummingbirdTesting
import JSON
import NIOCore
import Testing
@testable import YidangModel
@testable import YidangServer
@testable import YidangStore

/// Records without a national identifier (`person/local/<key>`) through the real server:
/// matching on arrival, crosswalks, hub identifiers, review tasks, merge and unmerge, the
/// refusals, and a rebuild that reproduces every cluster.
@Suite struct IdentityResolutionTests {
    static let zhang = "11010519491231002X"
    static let li = "110101199003077774"

    func publish(_ client: any TestClientProtocol, _ f: Fixture, _ e: JSONValue, as who: String = "admin") async throws -> TestResponse {
        try await client.execute(uri: "/v1/events", method: .post, headers: f.headers(who), body: body(e))
    }

    func get(_ client: any TestClientProtocol, _ f: Fixture, _ uri: String, as who: String = "steward") async throws -> (HTTPResponse.Status, JSONValue) {
        let r = try await client.execute(uri: uri, method: .get, headers: f.headers(who, nil))
        return (r.status, try json(r))
    }

    func post(_ client: any TestClientProtocol, _ f: Fixture, _ uri: String, _ v: JSONValue, as who: String = "steward") async throws -> (HTTPResponse.Status, JSONValue) {
        let r = try await client.execute(uri: uri, method: .post, headers: f.headers(who, "application/json"), body: body(v))
        return (r.status, try json(r))
    }

    func item(_ list: JSONValue?, _ i: Int) -> JSONValue? {
        guard let a = list?.arrayValue, a.indices.contains(i) else { return nil }
        return a[i]
    }

    func local(_ id: String, _ source: String, _ key: String, _ data: JSONValue) -> JSONValue {
        event(id, source: source, subject: "person/local/\(key)", data: data)
    }

    @Test func localRecordsJoinTheRightGoldenRecordOrStartOne() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            #expect(try await publish(client, f, event("g-1", subject: "person/\(Self.zhang)", data: [
                "name": "张三", "gender": "1", "birthDate": "1949-12-31", "phone": "13800138000"]), as: "gongan").status == .created)
            // A homophone with the same birth date and phone: linked automatically.
            #expect(try await publish(client, f, local("r-1", "renshe", "R-1", ["name": "张叁", "gender": "1", "birthDate": "1949-12-31",
                                                                                 "phone": "138 0013 8000", "education": "本科"]), as: "renshe").status == .created)
            // Someone the registry does not know: a golden record with a hub identifier.
            #expect(try await publish(client, f, local("t-1", "tongji", "T-1", ["name": "李四", "gender": "2", "birthDate": "1990-03-07"])).status == .created)
            // A record carrying its citizen ID links deterministically, whatever its values.
            #expect(try await publish(client, f, local("r-2", "renshe", "R-2", ["citizenId": .string(Self.zhang), "socialInsurance": "在职参保"]),
                                      as: "renshe").status == .created)

            let (s1, zhang) = try await get(client, f, "/v1/persons/\(Self.zhang)", as: "reader")
            #expect(s1 == .ok)
            #expect(zhang["attributes"]?["education"]?["value"] == "本科")
            #expect(zhang["attributes"]?["socialInsurance"]?["value"] == "在职参保")
            #expect(Set((zhang["crosswalks"]?.arrayValue ?? []).compactMap { $0["key"]?.stringValue }) == ["R-1", "R-2"])

            let (s2, found) = try await get(client, f, "/v1/crosswalks?source=tongji&key=T-1", as: "reader")
            #expect(s2 == .ok)
            #expect(item(found["crosswalks"], 0)?["subject"] == "person/YD0000000001")
            let (_, li) = try await get(client, f, "/v1/persons/YD0000000001", as: "reader")
            #expect(li["attributes"]?["name"]?["value"] == "李四")

            // A later event of a known record follows its crosswalk.
            #expect(try await publish(client, f, local("t-2", "tongji", "T-1", ["phone": "13912345678"])).status == .created)
            let (_, li2) = try await get(client, f, "/v1/persons/YD0000000001", as: "reader")
            #expect(li2["attributes"]?["phone"]?["value"] == "13912345678")
            // Its history holds the matcher's decision and both of the department's events.
            let (_, history) = try await get(client, f, "/v1/persons/YD0000000001/history", as: "reader")
            #expect((history["events"]?.arrayValue ?? []).map { $0["type"]?.stringValue ?? "" } == ["identity.create", "person.updated", "person.updated"])
            #expect(item(history["events"], 1)?["subject"] == "person/local/T-1")

            // Refusals name the field, and store nothing.
            let before = try f.hub.reader.headPosition()
            for (e, field) in [(local("x-1", "tongji", "bad key", ["name": "王五"]), "subject"),
                               (local("x-2", "tongji", String(repeating: "k", count: 65), ["name": "王五"]), "subject"),
                               (local("x-3", "tongji", "X-3", ["citizenId": "110105194912310021", "name": "王五"]), "data.citizenId"),
                               (local("x-4", "tongji", "X-4", ["citizenId": 42, "name": "王五"]), "data.citizenId"),
                               (event("x-5", source: "tongji", subject: "person/YD0000000001", data: ["name": "王五"]), "subject")] {
                let r = try await publish(client, f, e)
                #expect(r.status == .unprocessableContent, "\(field)")
                #expect(try json(r)["field"]?.stringValue == field)
            }
            #expect(try f.hub.reader.headPosition() == before)
            let (_, all) = try await get(client, f, "/v1/crosswalks")
            #expect(all["count"] == 3)

            // Per department: matched, new.
            let (_, quality) = try await get(client, f, "/v1/quality")
            let renshe = quality["departments"]?.arrayValue?.first { $0["department"] == "renshe" }
            #expect(renshe?["recordsMatched"] == 2)
            let tongji = quality["departments"]?.arrayValue?.first { $0["department"] == "tongji" }
            #expect(tongji?["recordsNew"] == 1)
        }
        let report = try Verifier.verify(database: f.hub.database, configuration: f.hub.configuration, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }

    @Test func stewardsConfirmRejectMergeAndUnmerge() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            #expect(try await publish(client, f, event("g-1", subject: "person/\(Self.li)", data: [
                "name": "李四", "gender": "2", "birthDate": "1990-03-07", "phone": "13900000000", "residenceAddress": "北京市东城区和平里街道1号"]),
                as: "gongan").status == .created)
            // Day and month swapped, no phone: uncertain, so a review task.
            #expect(try await publish(client, f, local("j-1", "jiaoyu", "K-9", ["name": "李四", "gender": "2", "birthDate": "1990-07-03",
                                                                                 "education": "硕士"])).status == .created)
            let (_, queue) = try await get(client, f, "/v1/matches")
            #expect(queue["count"] == 1)
            let task = item(queue["matches"], 0)
            #expect(task?["record"] == "person/YD0000000001")
            #expect(task?["candidate"] == .string("person/\(Self.li)"))
            let (_, detail) = try await get(client, f, "/v1/matches/1")
            let birth = detail["comparisons"]?.arrayValue?.first { $0["attribute"] == "birthDate" }
            #expect(birth?["level"] == "day and month swapped")
            #expect(birth?["record"] == ["1990-07-03"])

            // Confirmed: merged into the record with a national identifier; the hub id is an alias.
            let (s1, confirmed) = try await post(client, f, "/v1/matches/1/confirm", ["note": "电话核实"])
            #expect(s1 == .ok)
            #expect(confirmed["status"] == "confirmed")
            #expect(confirmed["survivor"] == .string("person/\(Self.li)"))
            let (_, alias) = try await get(client, f, "/v1/persons/YD0000000001", as: "reader")
            #expect(alias["mergedInto"] == .string("person/\(Self.li)"))
            #expect(alias["attributes"]?["education"]?["value"] == "硕士")
            #expect(try await post(client, f, "/v1/matches/1/confirm", [:]).0 == .conflict)
            #expect(try await post(client, f, "/v1/matches/99/reject", [:]).0 == .notFound)

            // Unmerged: the department's record re-folds into a new golden record, and the
            // survivor re-folds without it.
            let (s2, unmerged) = try await post(client, f, "/v1/unmerges", ["source": "jiaoyu", "key": "K-9", "note": "误匹配"])
            #expect(s2 == .ok)
            #expect(unmerged["subject"] == "person/YD0000000002")
            let (_, li) = try await get(client, f, "/v1/persons/\(Self.li)", as: "reader")
            #expect(li["attributes"]?["education"] == nil)
            #expect(li["attributes"]?["birthDate"]?["value"] == "1990-03-07")
            let (_, separated) = try await get(client, f, "/v1/persons/YD0000000002", as: "reader")
            #expect(separated["attributes"]?["education"]?["value"] == "硕士")
            #expect(separated["crosswalks"] == [["source": "jiaoyu", "key": "K-9"]])

            // A merge by hand: the national identifier survives whichever way round it is named.
            let (s3, merged) = try await post(client, f, "/v1/merges", ["from": .string("person/\(Self.li)"), "into": "person/YD0000000002"])
            #expect(s3 == .ok)
            #expect(merged["survivor"] == .string("person/\(Self.li)"))
            #expect(merged["absorbed"] == "person/YD0000000002")

            // Refusals name the field.
            for (path, request, field) in [
                ("/v1/merges", ["from": .string("person/\(Self.li)"), "into": .string("person/\(Self.li)")] as JSONValue, "into"),
                ("/v1/merges", ["from": "person/YD0000000002", "into": .string("person/\(Self.li)")], "from"),
                ("/v1/merges", ["from": "person/110105194912310021", "into": .string("person/\(Self.li)")], "from"),
                ("/v1/merges", ["into": .string("person/\(Self.li)")], "from"),
                ("/v1/unmerges", ["source": "jiaoyu", "key": "NOPE"], "key"),
                ("/v1/unmerges", ["source": "nobody", "key": "K-9"], "source"),
                ("/v1/unmerges", ["source": "jiaoyu", "key": "bad key"], "key"),
            ] {
                let (status, problem) = try await post(client, f, path, request)
                #expect(status == .unprocessableContent, "\(request)")
                #expect(problem["field"]?.stringValue == field, "\(request)")
            }
            #expect(try await post(client, f, "/v1/merges", ["from": "person/YD0000000002", "into": .string("person/\(Self.li)")], as: "reader").0 == .forbidden)

            // Rejected: the two stay apart (a name read alike and a birth date, nothing else: uncertain).
            #expect(try await publish(client, f, local("t-1", "tongji", "T-1", ["name": "李肆", "gender": "2", "birthDate": "1990-03-07"])).status == .created)
            let (_, open) = try await get(client, f, "/v1/matches")
            let id = item(open["matches"], 0)?["id"]?.intValue ?? 0
            let (s4, rejected) = try await post(client, f, "/v1/matches/\(id)/reject", ["note": "同名不同人"])
            #expect(s4 == .ok)
            #expect(rejected["status"] == "rejected")
            let (_, decided) = try await get(client, f, "/v1/matches?status=all")
            #expect(decided["count"] == 2)
            #expect(try await get(client, f, "/v1/matches?status=maybe").0 == .badRequest)
        }
        // The change feed carries the merges and the unmerge.
        let kinds = try f.hub.reader.changes(after: 0, limit: 1000).map(\.kind)
        #expect(kinds.filter { $0 == .merged }.count == 2)
        #expect(kinds.filter { $0 == .unmerged }.count == 1)

        // A replay reproduces every cluster, alias and task.
        let report = try Verifier.verify(database: f.hub.database, configuration: f.hub.configuration, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }

    @Test func aRecordThatGainsEvidenceIsMatchedAgainUnlessAStewardSeparatedIt() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            #expect(try await publish(client, f, event("g-1", subject: "person/\(Self.li)", data: [
                "name": "王芳", "gender": "1", "birthDate": "1990-03-07", "phone": "13700001111"]), as: "gongan").status == .created)
            // A name and a gender say too little: a golden record of its own.
            #expect(try await publish(client, f, local("t-1", "tongji", "T-9", ["name": "王芳", "gender": "1"])).status == .created)
            let (_, first) = try await get(client, f, "/v1/crosswalks?source=tongji&key=T-9", as: "reader")
            #expect(item(first["crosswalks"], 0)?["subject"] == "person/YD0000000001")

            // The same record later gives a birth date and a phone: now it is the registry's 王芳.
            #expect(try await publish(client, f, local("t-2", "tongji", "T-9", ["birthDate": "1990-03-07", "phone": "13700001111"])).status == .created)
            let (_, second) = try await get(client, f, "/v1/crosswalks?source=tongji&key=T-9", as: "reader")
            #expect(item(second["crosswalks"], 0)?["subject"] == .string("person/\(Self.li)"))
            let (_, alias) = try await get(client, f, "/v1/persons/YD0000000001", as: "reader")
            #expect(alias["mergedInto"] == .string("person/\(Self.li)"))
            let (_, history) = try await get(client, f, "/v1/persons/\(Self.li)/history", as: "reader")
            let merge = (history["events"]?.arrayValue ?? []).first { $0["type"] == "identity.merge" }
            #expect(merge?["source"] == "matcher")
            #expect(merge?["data"]?["from"] == "person/YD0000000001")

            // A steward separates them; new values of the record no longer bring it back.
            let (s, unmerged) = try await post(client, f, "/v1/unmerges", ["source": "tongji", "key": "T-9", "note": "同名不同人"])
            #expect(s == .ok)
            let separated = unmerged["subject"]
            #expect(try await publish(client, f, local("t-3", "tongji", "T-9", ["phone": "13700001111", "residenceAddress": "宁波市海曙区中山西路1号"])).status == .created)
            let (_, third) = try await get(client, f, "/v1/crosswalks?source=tongji&key=T-9", as: "reader")
            #expect(item(third["crosswalks"], 0)?["subject"] == separated)
        }
        let kinds = try f.hub.reader.changes(after: 0, limit: 1000).map(\.kind)
        #expect(kinds.filter { $0 == .merged }.count == 1)
        #expect(kinds.filter { $0 == .unmerged }.count == 1)
        let report = try Verifier.verify(database: f.hub.database, configuration: f.hub.configuration, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }

    @Test func aValueManyRecordsShareWeighsLess() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            // Thirty people registered on one switchboard phone, 张三 among them; 李雷 on his own.
            let names = ["张三"] + ["赵", "钱", "孙", "周", "吴", "郑", "冯", "陈", "褚", "卫"].flatMap { s in ["一", "二", "五"].map { s + $0 } }.prefix(29)
            for (i, name) in names.enumerated() {
                let id = CitizenID.make(region: "110105", birth: "198001\(String(format: "%02d", i + 1))", sequence: 1)
                #expect(try await publish(client, f, event("g-\(i)", subject: "person/\(id)", data: [
                    "name": .string(name), "gender": "1", "birthDate": .string("1980-01-\(String(format: "%02d", i + 1))"),
                    "phone": "057487654321"]), as: "gongan").status == .created)
            }
            let lei = CitizenID.make(region: "110105", birth: "19900101", sequence: 3)
            #expect(try await publish(client, f, event("g-lei", subject: "person/\(lei)", data: [
                "name": "李雷", "gender": "1", "birthDate": "1990-01-01", "phone": "13912340000"]), as: "gongan").status == .created)

            // The same evidence twice (a homophone, the gender, the phone): on his own phone
            // 李蕾 is 李雷; on the switchboard 张叁 is not taken for 张三.
            #expect(try await publish(client, f, local("t-1", "tongji", "T-1", ["name": "李蕾", "gender": "1", "phone": "13912340000"])).status == .created)
            #expect(try await publish(client, f, local("t-2", "tongji", "T-2", ["name": "张叁", "gender": "1", "phone": "057487654321"])).status == .created)
            let (_, linked) = try await get(client, f, "/v1/crosswalks?source=tongji&key=T-1", as: "reader")
            #expect(item(linked["crosswalks"], 0)?["subject"] == .string("person/\(lei)"))
            let (_, apart) = try await get(client, f, "/v1/crosswalks?source=tongji&key=T-2", as: "reader")
            #expect(item(apart["crosswalks"], 0)?["subject"]?.stringValue?.hasPrefix("person/YD") == true)
            // The decision says why: the phone's weight is below what an exact phone weighs alone.
            let (_, history) = try await get(client, f, "/v1/persons/YD0000000001/history", as: "reader")
            let phone = (history["events"]?.arrayValue?.first?["data"]?["comparisons"]?.arrayValue ?? []).first { $0["attribute"] == "phone" }
            #expect(phone?["level"] == "exact")
            #expect((phone?["weight"]?.numberText.flatMap(Double.init) ?? 99) < 0)
        }
        // `matches show` weighs the pair the same way.
        let zhang = try Subject(reference: "person/" + CitizenID.make(region: "110105", birth: "19800101", sequence: 1))
        let pair = MatchTask(id: 99, record: .hub(kind: .person, number: 1), candidate: zhang, score: 0, openedPosition: 0, openedTime: 0)
        let detail = try f.hub.reader.matchDetail(pair, model: f.hub.matchModel(.person))
        let shown = (detail["comparisons"]?.arrayValue ?? []).first { $0["attribute"] == "phone" }
        #expect(shown?["level"] == "exact")
        #expect((shown?["weight"]?.numberText.flatMap(Double.init) ?? 99) < 0)
        let report = try Verifier.verify(database: f.hub.database, configuration: f.hub.configuration, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }
}
