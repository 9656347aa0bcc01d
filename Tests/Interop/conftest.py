"""A real hub for the interop tests: the `yidang` binary serving a temporary data
directory on a loopback port, with one token per role, driven by the official client
libraries of each standard (CloudEvents SDK, Standard Webhooks, prometheus_client)."""
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("YIDANG_BIN", os.path.join(ROOT, ".build", "debug", "yidang"))


class Hub:
    def __init__(self, serve_args=()):
        self.dir = tempfile.mkdtemp(prefix="yidang-interop-")
        self.data = os.path.join(self.dir, "data")
        self.tokens = {}
        for key, args in {
            "gongan": ["--role", "publisher", "--source", "gongan"],
            "zhujian": ["--role", "publisher", "--source", "zhujian"],
            "steward": ["--role", "steward"],
            "subscriber": ["--role", "subscriber", "--clearance", "L2"],
            "admin": ["--role", "admin"],
        }.items():
            out = subprocess.run([BINARY, "tokens", "create", *args, "--name", key, "--data", self.data],
                                 check=True, capture_output=True, text=True)
            self.tokens[key] = out.stdout.strip()
        self.process = subprocess.Popen([BINARY, "serve", "--data", self.data, "--port", "0", *serve_args],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        assert line.startswith("yidang serving "), line
        self.url = line.split()[2]
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)

    def auth(self, who, **headers):
        return {"Authorization": "Bearer " + self.tokens[who], **headers}

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def hub():
    h = Hub()
    yield h
    h.close()


class NatsServer:
    """A real nats-server with JetStream on a loopback port it picks, its store in a temp dir."""

    def __init__(self, config=None):
        self.dir = tempfile.mkdtemp(prefix="yidang-nats-")
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        args = [binary, "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", self.dir]
        if config:   # its own JetStream block, with the store moved here
            with open(config, encoding="utf-8") as f:
                text = f.read().replace("/var/lib/nats/jetstream", os.path.join(self.dir, "store"))
            with open(os.path.join(self.dir, "nats.conf"), "w", encoding="utf-8") as f:
                f.write(text)
            args += ["-c", os.path.join(self.dir, "nats.conf")]
        else:
            args += ["-js", "-sd", os.path.join(self.dir, "store")]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ports = os.path.join(self.dir, f"nats-server_{self.process.pid}.ports")
        deadline = time.time() + 20
        self.url = None
        while time.time() < deadline and self.url is None:
            try:
                with open(ports) as f:
                    self.url = json.load(f)["nats"][0]
                    self.port = int(self.url.rsplit(":", 1)[1])
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)
        assert self.url, "nats-server did not report its port"

    def close(self):
        self.process.kill()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def nats_server():
    n = NatsServer()
    yield n
    n.close()


@pytest.fixture
def streaming_hub(nats_server):
    h = Hub(serve_args=["--change-stream", nats_server.url])
    yield h
    h.close()
