"""The README's first steps and its subscriber walkthrough, run as written (with the
binary under test for `$BIN`), on a fresh directory: a new user gets from an empty hub to
a settled conflict and a received change without an error."""
import os
import re
import socket
import subprocess
import tempfile

from conftest import BINARY, ROOT


def readme_block(heading):
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text.split(heading, 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_the_readme_walkthrough_works_as_written():
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", 8080)) != 0, "the README's walkthrough needs 127.0.0.1:8080 free"
    script = readme_block("## First steps with curl") + readme_block("## Subscriber systems")
    lines = script.splitlines()
    assert lines[0].startswith("BIN=$PWD/.build/release/yidang") and lines[1].startswith("export PATH=")
    lines[0] = f"BIN={BINARY}"
    lines[1] = f'export PATH="{os.path.dirname(BINARY)}:$PATH"'
    body = "set -euo pipefail\ntrap 'kill %1 2>/dev/null; wait' EXIT\n" + "\n".join(lines) + "\necho; echo \"NEXT=$NEXT\"\n"
    with tempfile.TemporaryDirectory(prefix="yidang-readme-") as work:
        run = subprocess.run(["bash", "-c", body], cwd=work, capture_output=True, text=True, timeout=120)
        out = run.stdout
        assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
        errors = [l for l in run.stderr.splitlines() if l.startswith("yidang: ") or " error " in l]
        assert not errors, run.stderr                             # no CLI error line, no error logged
        assert '"status":"resolved"' in out                      # the steward's decision settled the conflict
        assert '"type":"golden.changed"' in out                  # the subscriber received a change
        assert '"type":"correction.requested"' in out            # and, as 住建, the correction notice
        assert '"position":' in out and "id: " in out            # JSON page and SSE frames
        next_position = int(re.search(r"NEXT=(\d+)", out).group(1))
        assert next_position >= 2
        assert f'"cursor":{next_position}' in out                # the ack stored the change position
