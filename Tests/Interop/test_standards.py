"""The hub as integrating systems meet it, through each standard's official client library:
departments publishing with the CloudEvents SDK (binary and structured mode), subscribers
reading the change feed as CloudEvents and receiving webhooks verified and de-duplicated
with Standard Webhooks, and operators scraping /metrics with prometheus_client's parser."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks import Webhook

from conftest import BINARY

PERSON = "person/11010519491231002X"
TIME = datetime(2026, 11, 20, 8, 0, tzinfo=timezone(timedelta(hours=8)))


def person_event(id, source="gongan", data=None, subject=PERSON):
    return CloudEvent(attributes={"id": id, "source": source, "type": "person.updated",
                                  "subject": subject, "time": TIME},
                      data=data if data is not None else {"name": "张三"})


def publish_binary(hub, event, who="gongan"):
    message = ce_http.to_binary_event(event)
    return requests.post(hub.url + "/v1/events", data=message.body, headers=hub.auth(who, **message.headers))


def publish_structured(hub, event, who="gongan"):
    message = ce_http.to_structured_event(event)
    return requests.post(hub.url + "/v1/events", data=message.body, headers=hub.auth(who, **message.headers))


def test_the_sdks_binary_mode_is_accepted_and_validated_as_structured_mode(hub):
    r = publish_binary(hub, person_event("gongan-1"))
    assert r.status_code == 201, r.text
    assert r.json()["position"] == 1
    # The same event in structured mode is the same event.
    r = publish_structured(hub, person_event("gongan-1"))
    assert r.status_code == 200 and r.json()["status"] == "duplicate", r.text
    # Non-ASCII attribute values travel percent-encoded, and come back decoded.
    r = publish_binary(hub, person_event("公安-2"))
    assert r.status_code == 201 and r.json()["id"] == "公安-2", r.text
    # The same validation and errors as structured mode.
    r = publish_binary(hub, person_event("gongan-3", data={"birthDate": "1949-02-30"}))
    assert r.status_code == 422 and r.json()["field"] == "data.birthDate", r.text
    r = publish_binary(hub, person_event("gongan-4", subject="person/110105194912310021"))
    assert r.status_code == 422 and r.json()["field"] == "subject", r.text
    r = publish_binary(hub, person_event("gongan-5"), who="zhujian")
    assert r.status_code == 403, r.text
    history = requests.get(hub.url + "/v1/persons/11010519491231002X/history", headers=hub.auth("steward")).json()
    events = history["events"] if isinstance(history, dict) else history
    assert len(events) == 2


def test_an_id_reused_with_other_content_is_a_409_naming_the_original(hub):
    assert publish_binary(hub, person_event("gongan-1")).status_code == 201
    r = publish_binary(hub, person_event("gongan-1", data={"name": "李四"}))
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/id-reused") and r.json()["position"] == 1
    record = requests.get(hub.url + "/v1/persons/11010519491231002X", headers=hub.auth("steward")).json()
    assert record["attributes"]["name"]["value"] == "张三"


def read_sse(response, count):
    """The first `count` events of an SSE stream: (id, event, data)."""
    out, frame = [], {}
    for raw in response.iter_lines(chunk_size=1, decode_unicode=True):
        if raw == "":
            if "data" in frame:
                out.append(frame)
                if len(out) == count:
                    return out
            frame = {}
        elif not raw.startswith(":"):
            name, _, value = raw.partition(": ")
            frame[name] = value
    return out


def test_the_change_feed_is_cloudevents_for_the_sdk(hub):
    sub = requests.post(hub.url + "/v1/subscriptions", json={"name": "feed"}, headers=hub.auth("subscriber")).json()
    assert publish_structured(hub, person_event("gongan-1")).status_code == 201
    assert publish_structured(hub, person_event("gongan-2", data={"gender": "1"})).status_code == 201
    with requests.get(hub.url + "/v1/changes", params={"subscription": sub["id"], "after": 0},
                      headers=hub.auth("subscriber", Accept="text/event-stream"), stream=True, timeout=10) as stream:
        frames = read_sse(stream, 2)
    assert [f["id"] for f in frames] == ["1", "2"]
    ids = set()
    for frame in frames:
        event = ce_http.from_structured_event(ce_http.HTTPMessage(headers={"content-type": "application/cloudevents+json"},
                                                                  body=frame["data"].encode()))
        assert event.get_type() == "golden.changed" == frame["event"]
        assert event.get_source() == "yidang"
        assert event.get_subject() == "person/110105********002X"   # L2 masks the identifier
        assert event.get_extension("position") == int(frame["id"])
        assert event.get_data()["subject"] == event.get_subject()
        ids.add(event.get_id())
    assert len(ids) == 2
    # The long-poll page carries the same CloudEvents.
    page = requests.get(hub.url + "/v1/changes", params={"subscription": sub["id"], "after": 0},
                        headers=hub.auth("subscriber")).json()
    for item in page["changes"]:
        event = JSONFormat().read(None, json.dumps(item).encode())
        assert event.get_id() in ids


class Receiver(BaseHTTPRequestHandler):
    """Verifies each message with Standard Webhooks and processes each webhook-id once."""
    secret = None
    seen = set()
    changes = []
    failures = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        try:
            Webhook(Receiver.secret).verify(body, {k.lower(): v for k, v in self.headers.items()})
        except Exception:
            Receiver.failures += 1
            self.send_response(400)
            self.end_headers()
            return
        if self.headers["webhook-id"] not in Receiver.seen:
            Receiver.seen.add(self.headers["webhook-id"])
            Receiver.changes += json.loads(body)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhooks_verify_with_standard_webhooks_and_carry_cloudevents(hub):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sub = requests.post(hub.url + "/v1/subscriptions", headers=hub.auth("subscriber"),
                            json={"name": "hook", "webhook": {"url": f"http://127.0.0.1:{server.server_port}/hook"}}).json()
        Receiver.secret = sub["secret"]
        for i in range(5):
            assert publish_structured(hub, person_event(f"gongan-{i}", subject=f"person/{citizen_id(i)}")).status_code == 201
        deadline = datetime.now() + timedelta(seconds=15)
        while len(Receiver.changes) < 5 and datetime.now() < deadline:
            threading.Event().wait(0.05)
        assert Receiver.failures == 0
        events = [JSONFormat().read(None, json.dumps(c).encode()) for c in Receiver.changes]
        assert [e.get_extension("position") for e in events] == [1, 2, 3, 4, 5]
        assert all(e.get_type() == "golden.changed" for e in events)
    finally:
        server.shutdown()


def test_metrics_parse_and_every_family_has_one_label_set(hub):
    publish_structured(hub, person_event("gongan-1"))
    publish_structured(hub, person_event("gongan-2", data={"nickname": "x"}))
    publish_structured(hub, person_event("gongan-3"), who="zhujian")
    requests.get(hub.url + "/v1/nowhere", headers=hub.auth("steward"))
    text = requests.get(hub.url + "/metrics").text
    statuses = set()
    for family in text_string_to_metric_families(text):
        label_sets = {tuple(sorted(k for k in s.labels if k not in ("le", "quantile"))) for s in family.samples}
        assert len(label_sets) <= 1, (family.name, label_sets)
        if family.name == "yidang_http_request_duration_seconds":
            statuses |= {(s.labels["route"], s.labels["status"]) for s in family.samples}
    assert {("/v1/events", "201"), ("/v1/events", "422"), ("/v1/events", "403"), ("unmatched", "404")} <= statuses


def citizen_id(i, region="330203"):
    body = f"{region}1960{1 + i // 28 % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]


def test_metrics_pass_promtool_with_help_and_process_figures(hub):
    """An operator's linter: `promtool check metrics` (Prometheus's own tool) finds nothing,
    every family has its HELP text, and the process figures an alert needs are there."""
    publish_structured(hub, person_event("gongan-help-1"))
    publish_structured(hub, person_event("gongan-help-2", data={"nickname": "x"}))
    requests.get(hub.url + "/metrics")     # a second scrape moves the CPU counter
    text = requests.get(hub.url + "/metrics").text
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.strip() == "" and check.stderr.strip() == "", check.stdout + check.stderr
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for family in families.values():
        assert family.documentation and not family.documentation.startswith("undocumented"), family.name
    for name in ["process_resident_memory_bytes", "process_open_fds", "process_max_fds", "process_cpu_seconds",
                 "process_start_time_seconds", "yidang_log_position", "yidang_events"]:
        assert name in families, name
    assert families["process_resident_memory_bytes"].samples[0].value > 10 << 20
    assert families["process_open_fds"].samples[0].value >= 3


def test_the_api_description_is_valid_openapi_3_1():
    """A strict validator (openapi-spec-validator) accepts Schemas/openapi.yaml as OpenAPI 3.1."""
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    spec, base = read_from_filename(os.path.join(root, "Schemas", "openapi.yaml"))
    assert spec["openapi"].startswith("3.1")
    validate(spec, base_uri=base)


def test_schemathesis_finds_nothing(hub):
    """Schemathesis fuzzes every operation of Schemas/openapi.yaml against the running hub
    with every check (status codes, content types, response schemas, schema-valid requests
    accepted, schema-violating ones rejected, methods, auth); the rules no schema can state
    (check digits, configured names) are declared in Schemas/schemathesis.toml. Revoking
    tokens runs last, on its own: the fuzzer must not revoke the token it fuzzes with."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    base = ["schemathesis", "--config-file", os.path.join(root, "Schemas", "schemathesis.toml"), "run",
            os.path.join(root, "Schemas", "openapi.yaml"), "--url", hub.url, "--checks", "all",
            "-H", "Authorization: Bearer " + hub.tokens["admin"], "--workers", "1", "--seed", "20261202",
            "--max-examples", "15", "--no-color"]
    import re
    tested = 0
    for selection in (["--exclude-path", "/v1/tokens/{id}"], ["--include-path", "/v1/tokens/{id}"]):
        run = subprocess.run(base + selection, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
        tested += int(re.search(r"Tested: (\d+)", run.stdout).group(1))
        generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", run.stdout).groups())
        assert generated == passed > 0, run.stdout[-2000:]
    assert tested == len(yaml_operations(os.path.join(root, "Schemas", "openapi.yaml")))


def yaml_operations(path):
    import yaml
    with open(path, encoding="utf-8") as f:
        paths = yaml.safe_load(f)["paths"]
    return [(m, p) for p, item in paths.items() for m in item if m in ("get", "post", "put", "delete", "patch")]


def test_sigterm_with_a_long_poll_and_an_sse_stream_open_stops_cleanly():
    """An operator's SIGTERM while subscribers wait on a long-poll and an SSE stream: the
    hub answers them, stops with status 0, and logs no failed service."""
    work = tempfile.mkdtemp(prefix="yidang-sigterm-")
    try:
        data = os.path.join(work, "data")
        token = subprocess.run([BINARY, "tokens", "create", "--role", "subscriber", "--name", "grid", "--data", data],
                               check=True, capture_output=True, text=True).stdout.strip()
        stderr = open(os.path.join(work, "stderr"), "w+")
        server = subprocess.Popen([BINARY, "serve", "--data", data, "--port", "0"], stdout=subprocess.PIPE, stderr=stderr, text=True)
        url = server.stdout.readline().split()[2]
        auth = {"Authorization": "Bearer " + token}
        sub = requests.post(url + "/v1/subscriptions", json={"name": "grid"}, headers=auth).json()
        answers = []

        def long_poll():
            answers.append(requests.get(url + "/v1/changes", params={"subscription": sub["id"], "wait": 30}, headers=auth, timeout=40).status_code)

        def sse():
            with requests.get(url + "/v1/changes", params={"subscription": sub["id"]}, headers={**auth, "Accept": "text/event-stream"},
                              stream=True, timeout=40) as r:
                for _ in r.iter_lines():
                    pass
            answers.append(r.status_code)

        waiting = [threading.Thread(target=long_poll), threading.Thread(target=sse)]
        for t in waiting:
            t.start()
        time.sleep(1)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        for t in waiting:
            t.join(timeout=30)
        assert sorted(answers) == [200, 200], answers
        stderr.seek(0)
        log = stderr.read()
        assert "ServiceGroupError" not in log and "finished unexpectedly" not in log, log
    finally:
        shutil.rmtree(work, ignore_errors=True)
