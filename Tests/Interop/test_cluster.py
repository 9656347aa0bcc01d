"""The hub cluster on NATS JetStream as operators and subscribers meet it: three clustered
nats-servers, three hub nodes (`yidang serve --nats … --node …`), publishes spread over the
nodes while one hub node and the log stream's leader are SIGKILLed and restarted. Every
acknowledged event is on every node afterwards, the nodes' `verify --json` digests are
equal, and nats-py (the official client) with a durable consumer filtered to one county
receives every change of that county, masked for its clearance."""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import nats
import requests
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from standardwebhooks import Webhook

from conftest import BINARY
from test_standards import citizen_id, person_event
from cloudevents.core.bindings import http as ce_http


def free_ports(n):
    """n distinct free loopback ports. Each socket stays bound until all are chosen: a port
    released at once could be handed out again by the next call (a route port once equalled a
    client port, and that nats-server could not listen)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            sockets.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class NatsCluster:
    """Three nats-servers with JetStream, routed into one cluster on loopback ports."""

    def __init__(self, size=3):
        self.dir = tempfile.mkdtemp(prefix="yidang-natscluster-")
        ports = free_ports(2 * size)
        self.client_ports, self.route_ports = ports[:size], ports[size:]
        self.processes = [None] * size
        for i in range(size):
            self.start(i)
        self.urls = [f"nats://127.0.0.1:{p}" for p in self.client_ports]
        self.wait_for_meta_leader()

    def start(self, i):
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in self.route_ports)
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        log = open(os.path.join(self.dir, f"n{i}.log"), "a")
        self.processes[i] = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(self.client_ports[i]), "-js", "-sd", os.path.join(self.dir, f"store{i}"),
             "--server_name", f"n{i}", "--cluster_name", "yidang", "--cluster", f"nats://127.0.0.1:{self.route_ports[i]}",
             "--routes", routes], stdout=log, stderr=log)

    def kill(self, i):
        self.processes[i].send_signal(signal.SIGKILL)
        self.processes[i].wait(timeout=10)

    def wait_for_meta_leader(self):
        async def ready():
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    nc = await nats.connect(self.urls[0])
                    try:
                        await nc.jetstream().account_info()
                        return
                    finally:
                        await nc.close()
                except Exception:
                    await asyncio.sleep(0.2)
            raise AssertionError("the JetStream cluster elected no leader")
        asyncio.run(ready())

    def stream_leader(self, stream):
        async def leader():
            nc = await nats.connect(self.urls[0])
            try:
                return (await nc.jetstream().stream_info(stream)).cluster.leader
            finally:
                await nc.close()
        return int(asyncio.run(leader())[1:])

    def close(self):
        for p in self.processes:
            if p and p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Node:
    """`yidang serve` as a cluster node with its own data directory."""

    def __init__(self, name, servers, root, *options):
        self.name = name
        self.servers = ",".join(servers)
        self.data = os.path.join(root, name)
        self.options = list(options)
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen([BINARY, "serve", "--data", self.data, "--port", "0", "--nats", self.servers, "--node", self.name,
                                         *self.options],
                                        stdout=subprocess.PIPE, stderr=open(self.data + ".log", "a"), text=True)
        line = self.process.stdout.readline()
        if not line.startswith("yidang serving "):
            with open(self.data + ".log") as f:
                raise AssertionError(f"{self.name} did not start: {f.read()[:3000]}")
        self.url = line.split()[2]

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)

    def readiness(self):
        return requests.get(self.url + "/readyz", timeout=5).json()


def structured(event):
    message = ce_http.to_structured_event(event)
    return message.body, message.headers


def cluster_token(cluster, *args):
    """A token made with no hub running, through the cluster's log."""
    return subprocess.run([BINARY, "tokens", "create", *args, "--nats", ",".join(cluster.urls)],
                          check=True, capture_output=True, text=True).stdout.strip()


def assert_equal_digests(nodes):
    """Stops the nodes and checks that `verify --json` gives each store the same digest."""
    for node in nodes:
        node.stop()
    digests = []
    for node in nodes:
        v = json.loads(subprocess.run([BINARY, "verify", "--json", "--data", node.data], check=True,
                                      capture_output=True, text=True).stdout)
        assert v["ok"], v
        digests.append(v["digest"])
    assert len(set(digests)) == 1, digests


def tear_down(nodes, cluster, root):
    # Called from a `finally:`: a test failing on its way here is the exception in flight.
    failing = sys.exc_info()[0] is not None
    for node in nodes:
        if node.process and node.process.poll() is None:
            node.process.kill()
    if failing:
        # The directories go below; what the nodes and servers said is shown with the failure.
        logs = [node.data + ".log" for node in nodes] + \
               [os.path.join(cluster.dir, f"n{i}.log") for i in range(len(cluster.processes))]
        for path in logs:
            try:
                with open(path, errors="replace") as f:
                    tail = f.readlines()[-200:]
            except OSError as error:
                tail = [f"(cannot read: {error})\n"]
            print(f"==== the last {len(tail)} lines of {os.path.basename(path)}\n" + "".join(tail))
    cluster.close()
    if not os.environ.get("YIDANG_KEEP_CLUSTER"):
        shutil.rmtree(root, ignore_errors=True)


def test_three_nodes_lose_nothing_when_a_node_and_the_stream_leader_die():
    root = tempfile.mkdtemp(prefix="yidang-cluster-")
    cluster = NatsCluster()
    nodes = []
    try:
        publisher = cluster_token(cluster, "--role", "publisher", "--source", "gongan", "--name", "公安接口")
        reader = cluster_token(cluster, "--role", "reader", "--name", "检查")
        nodes = [Node(f"hub{i}", cluster.urls, root) for i in range(3)]

        # Two counties; every event gives its person a new name, so each accepted event is
        # one change of that person's golden record.
        people = [(citizen_id(i, region="330203"), "330203") for i in range(40)] + \
                 [(citizen_id(i, region="330205"), "330205") for i in range(20)]
        acknowledged = {}        # event id -> (person, county)
        lock = threading.Lock()
        stop = threading.Event()
        refusals = []

        def publish_loop(worker):
            n = 0
            while not stop.is_set():
                person, county = people[(worker * 7 + n) % len(people)]
                event_id = f"w{worker}-{n}"
                body, headers = structured(person_event(event_id, subject="person/" + person,
                                                        data={"name": f"名{worker}x{n}", "regionCode": county,
                                                              "residenceAddress": f"中山路{n}号"}))
                headers["Authorization"] = "Bearer " + publisher
                # A publisher whose node does not answer tries the next one with the same
                # event: the retry is stored once.
                for attempt in range(60):
                    node = nodes[(worker + n + attempt) % len(nodes)]
                    try:
                        r = requests.post(node.url + "/v1/events", data=body, headers=headers, timeout=15)
                    except requests.RequestException:
                        time.sleep(0.2)
                        continue
                    if r.status_code in (200, 201):
                        assert r.json()["status"] in ("accepted", "duplicate"), r.text
                        with lock:
                            acknowledged[event_id] = (person, county)
                        break
                    if r.status_code < 500:
                        refusals.append(r.text)
                        break
                    time.sleep(0.2)
                n += 1

        workers = [threading.Thread(target=publish_loop, args=(w,)) for w in range(6)]
        for w in workers:
            w.start()
        time.sleep(3)
        nodes[1].kill()                                        # a hub node, mid-load
        leader = cluster.stream_leader("YIDANG_LOG")
        cluster.kill(leader)                                   # the log stream's leader
        time.sleep(4)
        cluster.start(leader)
        nodes[1].start()
        time.sleep(4)
        stop.set()
        for w in workers:
            w.join(timeout=120)
        assert not refusals, refusals[:3]
        assert len(acknowledged) > 100, len(acknowledged)

        # Every node applies the whole stream.
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                logs = [n.readiness().get("log", {}) for n in nodes]
            except requests.RequestException:
                logs = []
            if logs and all(l.get("applied") == l.get("stream") == logs[0]["stream"] for l in logs):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"nodes did not catch up: {logs}")

        # Every acknowledged event is on every node.
        by_person = {}
        for event_id, (person, _) in acknowledged.items():
            by_person.setdefault(person, set()).add(event_id)
        for node in nodes:
            for person, ids in by_person.items():
                r = requests.get(f"{node.url}/v1/persons/{person}/history", headers={"Authorization": "Bearer " + reader}, timeout=10)
                assert r.status_code == 200, r.text
                held = {e["id"] for e in r.json()["events"]}
                assert ids <= held, (node.name, person, sorted(ids - held)[:5])

        # The replicas are identical.
        assert_equal_digests(nodes)

        # A grid system of 海曙区 with a durable consumer of its county at L2.
        haishu = {eid for eid, (_, county) in acknowledged.items() if county == "330203"}

        async def consume():
            nc = await nats.connect(servers=cluster.urls)
            try:
                js = nc.jetstream(timeout=10)
                sub = await js.pull_subscribe("yidang.changes.L2.person.33.3302.330203", durable="haishu-grid", stream="YIDANG_CHANGES")
                got = []
                idle = 0
                while idle < 5:
                    try:
                        batch = await sub.fetch(200, timeout=1)
                        idle = 0
                    except (nats.errors.TimeoutError, asyncio.TimeoutError):
                        idle += 1
                        continue
                    for m in batch:
                        got.append(m)
                        await m.ack()
                return got
            finally:
                await nc.close()

        # The feed was published by the nodes while they ran; restart them to be sure the
        # stream has caught up with every change (a node resumes after the stream's last).
        for node in nodes:
            node.start()
        deadline = time.time() + 60
        messages = []
        while time.time() < deadline:
            messages += asyncio.run(consume())
            if len(messages) >= len(haishu):
                break
        changes = [json.loads(m.data) for m in messages]
        positions = [c["position"] for c in changes]
        assert len(positions) == len(set(positions)), "a change was delivered twice"
        assert len(changes) == len(haishu), (len(changes), len(haishu), "positions", sorted(positions), "root", root)
        assert all(m.subject == "yidang.changes.L2.person.33.3302.330203" for m in messages)
        for c in changes:
            assert c["data"]["regionCode"] == "330203"
            assert "*" in c["subject"]                                 # masked for L2
            assert "residenceAddress" not in json.dumps(c["data"])      # an L3 attribute
    finally:
        tear_down(nodes, cluster, root)


def test_a_retry_racing_its_original_on_other_nodes_is_answered_as_a_duplicate():
    """A publisher that gives up on one node and sends the same event to the others while
    the first is still in flight: JetStream holds the id before the entry is stored, and
    must not make the hub call the retry refused. One is accepted, the others duplicates of
    it, the event stored once."""
    cluster = NatsCluster()
    root = tempfile.mkdtemp(prefix="yidang-cluster-race-")
    nodes = []
    try:
        publisher = cluster_token(cluster, "--role", "publisher", "--source", "gongan", "--name", "公安接口",
                                  "--log-storage", "memory", "--log-duplicate-window", "1s")
        # The log in memory with a one-second duplicate window (the settings reach JetStream).
        nodes = [Node(f"hub{i}", cluster.urls, root, "--log-storage", "memory", "--log-duplicate-window", "1s") for i in range(3)]

        async def log_config():
            nc = await nats.connect(cluster.urls[0])
            try:
                return (await nc.jetstream().stream_info("YIDANG_LOG")).config
            finally:
                await nc.close()
        config = asyncio.run(log_config())
        assert (config.storage, config.duplicate_window, config.num_replicas) == ("memory", 1.0, 3), config
        person = citizen_id(7, region="330203")
        answers = {}

        def send(node, event_id, body, headers):
            r = requests.post(node.url + "/v1/events", data=body, headers=headers, timeout=30)
            answers.setdefault(event_id, []).append((r.status_code, r.json()))

        for n in range(40):
            event_id = f"race-{n}"
            body, headers = structured(person_event(event_id, subject="person/" + person, data={"name": f"名{n}"}))
            headers["Authorization"] = "Bearer " + publisher
            threads = [threading.Thread(target=send, args=(node, event_id, body, headers)) for node in nodes]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        for event_id, got in answers.items():
            statuses = sorted(a["status"] if code < 300 else f"{code} {a}" for code, a in got)
            assert statuses == ["accepted", "duplicate", "duplicate"], (event_id, statuses)
            assert len({a["position"] for _, a in got}) == 1, (event_id, got)
    finally:
        tear_down(nodes, cluster, root)


def lease_holder(cluster, name):
    """The node whose claim is the last on the lease's subject."""
    async def holder():
        nc = await nats.connect(cluster.urls[0])
        try:
            last = await nc.jetstream().get_last_msg("YIDANG_LEASES", f"yidang.lease.{name}")
            return last.headers["Yidang-Node"]
        finally:
            await nc.close()
    return asyncio.run(holder())


def test_subscriptions_and_cursors_are_the_clusters_and_one_node_pushes():
    """Subscriptions and their cursors go through the log: made on one node, read, acked and
    deleted on any other; the webhook push runs on one node at a time, and when that node
    is SIGKILLed another goes on from the replicated cursor: every change reaches the
    receiver (verified with Standard Webhooks), none is lost."""
    cluster = NatsCluster()
    root = tempfile.mkdtemp(prefix="yidang-cluster-subs-")
    nodes = []
    received = {}            # change position -> times received
    failures = []

    class Receiver(BaseHTTPRequestHandler):
        secret = None

        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            try:
                Webhook(Receiver.secret).verify(body, {k.lower(): v for k, v in self.headers.items()})
            except Exception as e:
                failures.append(str(e))
                self.send_response(400)
                self.end_headers()
                return
            for change in json.loads(body):
                received[change["position"]] = received.get(change["position"], 0) + 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        publisher = {"Authorization": "Bearer " + cluster_token(cluster, "--role", "publisher", "--source", "gongan", "--name", "公安接口")}
        grid = {"Authorization": "Bearer " + cluster_token(cluster, "--role", "subscriber", "--name", "网格")}
        nodes = [Node(f"hub{i}", cluster.urls, root) for i in range(3)]

        hook = requests.post(nodes[0].url + "/v1/subscriptions", headers=grid, timeout=15,
                             json={"name": "hook", "webhook": {"url": f"http://127.0.0.1:{server.server_port}/hook"}})
        assert hook.status_code == 201, hook.text
        hook = hook.json()
        Receiver.secret = hook["secret"]
        pull = requests.post(nodes[1].url + "/v1/subscriptions", headers=grid, timeout=15, json={"name": "pull", "regions": ["330203"]})
        assert pull.status_code == 201, pull.text
        pull = pull.json()
        for node in nodes:
            for sub in (hook, pull):
                r = requests.get(f"{node.url}/v1/subscriptions/{sub['id']}", headers=grid, timeout=10)
                assert r.status_code == 200 and r.json()["name"] == sub["name"], (node.name, r.text)

        def publish(n, via):
            body, headers = structured(person_event(f"s{n}", subject="person/" + citizen_id(n, region="330203"),
                                                    data={"name": f"名{n}", "regionCode": "330203"}))
            r = requests.post(via.url + "/v1/events", data=body, headers={**headers, **publisher}, timeout=15)
            assert r.status_code == 201, r.text
            return r.json()["position"]

        for n in range(30):
            publish(n, nodes[n % 3])
        deadline = time.time() + 20
        while len(received) < 10 and time.time() < deadline:
            time.sleep(0.1)
        assert received, "no change was pushed"
        # The node that pushes dies; the others go on taking events, and one takes over.
        holder = int(lease_holder(cluster, "push")[3:])
        nodes[holder].kill()
        others = [node for i, node in enumerate(nodes) if i != holder]
        for n in range(30, 60):
            publish(n, others[n % 2])
        deadline = time.time() + 60
        while len(received) < 60 and time.time() < deadline:
            time.sleep(0.2)
        assert not failures, failures[:3]
        assert sorted(received) == list(range(1, 61)), sorted(set(range(1, 61)) - set(received))
        # The lease itself has moved: another node's claim is the stream's last within two
        # terms. Two nodes may both take a dead holder's lease in the same round (JetStream 2.9
        # checks a claim's expected sequence before it replicates it, nats-server#4320); the
        # next round leaves one.
        deadline = time.time() + 12
        while int(lease_holder(cluster, "push")[3:]) == holder and time.time() < deadline:
            time.sleep(0.5)
        assert int(lease_holder(cluster, "push")[3:]) != holder
        nodes[holder].start()
        # Whatever a take-over sends again is at most what was in flight, not the feed.
        assert sum(received.values()) - 60 <= 100, sum(received.values())

        # The pull subscription's cursor: paged on one node, acked on another, seen on all;
        # an older ack on a third does not move it back.
        page = requests.get(nodes[2].url + "/v1/changes", params={"subscription": pull["id"], "after": 0, "limit": 20},
                            headers=grid, timeout=10).json()
        assert len(page["changes"]) == 20
        r = requests.post(f"{nodes[2].url}/v1/subscriptions/{pull['id']}/ack", json={"position": page["next"]}, headers=grid, timeout=15)
        assert r.status_code == 200 and r.json()["cursor"] == page["next"], r.text
        r = requests.post(f"{nodes[0].url}/v1/subscriptions/{pull['id']}/ack", json={"position": 5}, headers=grid, timeout=15)
        assert r.status_code == 200 and r.json()["cursor"] == page["next"], r.text
        for node in nodes:
            r = requests.get(f"{node.url}/v1/subscriptions/{pull['id']}", headers=grid, timeout=10)
            assert r.json()["cursor"] == page["next"], (node.name, r.text)

        # Deleted on one node, gone from every node.
        assert requests.delete(f"{nodes[1].url}/v1/subscriptions/{pull['id']}", headers=grid, timeout=15).status_code == 204
        for node in nodes:
            assert requests.get(f"{node.url}/v1/subscriptions/{pull['id']}", headers=grid, timeout=10).status_code == 404, node.name

        # The replicas, subscriptions included, are identical.
        head = max(n.readiness()["log"]["stream"] for n in nodes)
        deadline = time.time() + 30
        while time.time() < deadline and any(n.readiness()["log"]["applied"] < head for n in nodes):
            time.sleep(0.2)
        assert_equal_digests(nodes)
    finally:
        server.shutdown()
        tear_down(nodes, cluster, root)


def test_a_node_far_behind_catches_up_while_a_follower_nats_server_dies():
    """A node stopped while thousands of entries go into the log (and a NATS server that
    does not lead the log stream is SIGKILLed and restarted meanwhile) catches up when it
    starts again: a publish through it is answered once it has applied everything before,
    it holds every acknowledged event, and its digest equals the others'."""
    cluster = NatsCluster()
    root = tempfile.mkdtemp(prefix="yidang-cluster-behind-")
    nodes = []
    try:
        publisher = {"Authorization": "Bearer " + cluster_token(cluster, "--role", "publisher", "--source", "gongan", "--name", "公安接口")}
        reader = {"Authorization": "Bearer " + cluster_token(cluster, "--role", "reader", "--name", "检查")}
        nodes = [Node(f"hub{i}", cluster.urls, root) for i in range(3)]
        nodes[2].stop()
        people = [citizen_id(i, region="330205") for i in range(20)]
        acknowledged = {}
        lock = threading.Lock()

        def send(event_id, person, worker):
            body, headers = structured(person_event(event_id, subject="person/" + person, data={"name": f"名{event_id}"}))
            for attempt in range(100):
                node = nodes[(worker + attempt) % 2]
                try:
                    r = requests.post(node.url + "/v1/events", data=body, headers={**headers, **publisher}, timeout=15)
                except requests.RequestException:
                    time.sleep(0.2)
                    continue
                if r.status_code in (200, 201):
                    with lock:
                        acknowledged[event_id] = person
                    return r.json()
                assert r.status_code >= 500, r.text
                time.sleep(0.2)
            raise AssertionError(f"{event_id} was never acknowledged")

        def worker(w):
            for n in range(700):
                send(f"b{w}-{n}", people[(w * 3 + n) % len(people)], w)

        workers = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
        for t in workers:
            t.start()
        time.sleep(1.5)
        follower = (cluster.stream_leader("YIDANG_LOG") + 1) % 3
        cluster.kill(follower)
        time.sleep(3)
        cluster.start(follower)
        for t in workers:
            t.join(timeout=300)
        assert len(acknowledged) == 2800, len(acknowledged)
        stream = nodes[0].readiness()["log"]["stream"]

        # Started again, 2,800 entries behind: its first answer comes after all of them.
        nodes[2].start()
        body, headers = structured(person_event("after", subject="person/" + people[0], data={"name": "最后"}))
        r = requests.post(nodes[2].url + "/v1/events", data=body, headers={**headers, **publisher}, timeout=60)
        assert r.status_code == 201, r.text
        assert nodes[2].readiness()["log"]["applied"] > stream
        for person in people:
            held = {e["id"] for e in requests.get(f"{nodes[2].url}/v1/persons/{person}/history", headers=reader, timeout=10).json()["events"]}
            assert {eid for eid, p in acknowledged.items() if p == person} <= held, person

        deadline = time.time() + 30
        while time.time() < deadline and len({(l["applied"], l["stream"]) for l in (n.readiness()["log"] for n in nodes)}) > 1:
            time.sleep(0.2)
        assert_equal_digests(nodes)
    finally:
        tear_down(nodes, cluster, root)
