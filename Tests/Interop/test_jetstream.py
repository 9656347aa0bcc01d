"""The change feed on JetStream as a NATS client meets it: nats-py (the official Python
client) with a durable pull consumer filtered to one county receives every change of that
county, masked for the clearance in the subject, and nothing else."""
import asyncio

import nats
import requests

from test_standards import citizen_id, person_event, publish_structured


def test_a_durable_consumer_of_one_county_receives_its_changes_masked(nats_server, streaming_hub):
    hub = streaming_hub
    haishu = [citizen_id(i, region="330203") for i in range(5)]
    jiangbei = [citizen_id(i, region="330205") for i in range(3)]
    for n, person in enumerate(haishu):
        r = publish_structured(hub, person_event(f"hs-{n}", subject="person/" + person,
                                                 data={"name": f"海曙{n}", "regionCode": "330203", "residenceAddress": f"中山西路{n}号"}))
        assert r.status_code == 201, r.text
    for n, person in enumerate(jiangbei):
        r = publish_structured(hub, person_event(f"jb-{n}", subject="person/" + person, data={"name": f"江北{n}", "regionCode": "330205"}))
        assert r.status_code == 201, r.text

    async def consume():
        nc = await nats.connect(nats_server.url)
        try:
            js = nc.jetstream()
            sub = await js.pull_subscribe("yidang.changes.L2.person.33.3302.330203", durable="haishu-grid", stream="YIDANG_CHANGES")
            got = []
            deadline = asyncio.get_running_loop().time() + 30
            while len(got) < len(haishu) and asyncio.get_running_loop().time() < deadline:
                try:
                    for m in await sub.fetch(10, timeout=1):
                        got.append(m)
                        await m.ack()
                except nats.errors.TimeoutError:
                    pass
            info = await js.consumer_info("YIDANG_CHANGES", "haishu-grid")
            return got, info
        finally:
            await nc.close()

    messages, info = asyncio.run(consume())
    import json
    events = [json.loads(m.data) for m in messages]
    assert len(events) == len(haishu)
    assert all(m.subject == "yidang.changes.L2.person.33.3302.330203" for m in messages)
    assert sorted(e["data"]["regionCode"] for e in events) == ["330203"] * len(haishu)
    for e, person in zip(sorted(events, key=lambda e: e["position"]), haishu):
        assert e["type"] == "golden.changed" and e["source"] == "yidang"
        assert e["subject"] == "person/" + person[:6] + "*" * 8 + person[-4:]     # masked for L2
        assert "residenceAddress" not in json.dumps(e["data"])                    # an L3 attribute
    assert info.config.durable_name == "haishu-grid" and info.num_pending == 0
    assert [m.header.get("Nats-Msg-Id") for m in messages][0].endswith("-L2")


def test_the_example_nats_configuration_lets_each_user_read_only_its_subjects():
    """config/nats-server.example.conf: the hub publishes as `hub`; 海曙区网格 may consume its
    county at L2 and nothing else (another county, L3); the subjects are NATS's to guard."""
    import os
    from conftest import ROOT, Hub, NatsServer
    server = NatsServer(config=os.path.join(ROOT, "config", "nats-server.example.conf"))
    hub = None
    try:
        hub = Hub(serve_args=["--change-stream", f"nats://hub:change-me-hub@127.0.0.1:{server.port}"])
        for n in range(3):
            publish_structured(hub, person_event(f"hs-{n}", subject="person/" + citizen_id(n, region="330203"),
                                                 data={"name": f"海曙{n}", "regionCode": "330203"}))
        publish_structured(hub, person_event("jb-0", subject="person/" + citizen_id(0, region="330205"),
                                             data={"name": "江北0", "regionCode": "330205"}))

        async def attempt(filter_subject):
            nc = await nats.connect(f"nats://haishu-grid:change-me-haishu@127.0.0.1:{server.port}")
            try:
                js = nc.jetstream(timeout=2)
                sub = await js.pull_subscribe(filter_subject, durable="haishu-grid", stream="YIDANG_CHANGES")
                got = []
                for _ in range(20):
                    try:
                        got += await sub.fetch(10, timeout=1)
                    except nats.errors.TimeoutError:
                        pass
                    if len(got) >= 3:
                        break
                for m in got:
                    await m.ack()
                return [m.subject for m in got]
            finally:
                await nc.close()

        # Before its consumer exists: one filtered to another county or clearance is refused.
        for forbidden in ["yidang.changes.L2.person.33.3302.330205", "yidang.changes.L3.person.33.3302.330203", "yidang.changes.>"]:
            try:
                got = asyncio.run(attempt(forbidden))
            except Exception as e:     # the server refuses to create it: seen as a permissions error or a timeout
                assert "ermission" in str(e) or "imeout" in type(e).__name__, repr(e)
            else:
                raise AssertionError(f"haishu-grid could consume {forbidden}: {got}")
        subjects = asyncio.run(attempt("yidang.changes.L2.person.33.3302.330203"))
        assert subjects == ["yidang.changes.L2.person.33.3302.330203"] * 3
    finally:
        if hub:
            hub.close()
        server.close()


def test_a_department_publishes_over_nats_as_its_subject_says():
    """With the example configuration: 公安's system publishes with nats-py to
    yidang.events.gongan and hears each result on yidang.results.gongan; it may not publish
    as another department; the hub stores what it accepted once."""
    import json
    import os
    from conftest import ROOT, Hub, NatsServer
    server = NatsServer(config=os.path.join(ROOT, "config", "nats-server.example.conf"))
    hub = None
    try:
        url = f"nats://hub:change-me-hub@127.0.0.1:{server.port}"
        hub = Hub(serve_args=["--event-stream", url])

        async def department():
            nc = await nats.connect(f"nats://gongan:change-me-gongan@127.0.0.1:{server.port}")
            try:
                results = await nc.subscribe("yidang.results.gongan")
                js = nc.jetstream(timeout=5)
                good = person_event("nats-1", data={"name": "张三", "gender": "1"})
                from cloudevents.core.bindings import http as ce_http
                body = ce_http.to_structured_event(good).body
                ack = await js.publish("yidang.events.gongan", body, headers={"Nats-Msg-Id": "gongan-nats-1"})
                assert ack.stream == "YIDANG_EVENTS"
                bad = json.dumps({"specversion": "1.0", "id": "nats-2", "source": "gongan", "type": "person.updated",
                                  "subject": "person/11010519491231002X", "time": "2026-11-20T08:00:00+08:00",
                                  "data": {"birthDate": "1949-02-30"}}).encode()
                await js.publish("yidang.events.gongan", bad, headers={"Nats-Msg-Id": "gongan-nats-2"})
                answers = [json.loads((await results.next_msg(timeout=20)).data) for _ in range(2)]
                denied = None
                try:
                    await js.publish("yidang.events.renshe", body, headers={"Nats-Msg-Id": "x"}, timeout=2)
                except Exception as e:   # a permissions violation: no acknowledgement comes
                    denied = e
                return answers, denied
            finally:
                await nc.close()

        answers, denied = asyncio.run(department())
        by_id = {a["id"]: a for a in answers}
        assert by_id["nats-1"]["status"] == "accepted" and by_id["nats-1"]["position"] == 1
        assert by_id["nats-2"]["status"] == "rejected"
        assert by_id["nats-2"]["problem"]["field"] == "data.birthDate"
        assert denied is not None
        record = requests.get(hub.url + "/v1/persons/11010519491231002X", headers=hub.auth("steward"))
        assert record.json()["attributes"]["name"]["value"] == "张三"
        assert requests.get(hub.url + "/readyz").json()["position"] == 1
    finally:
        if hub:
            hub.close()
        server.close()
