"""A real hub for the interop tests: the `yidang` binary serving a temporary data
directory on a loopback port, with one token per role, driven by the official client
libraries of each standard (CloudEvents SDK, Standard Webhooks, prometheus_client)."""
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
    def __init__(self):
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
        self.process = subprocess.Popen([BINARY, "serve", "--data", self.data, "--port", "0"],
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
