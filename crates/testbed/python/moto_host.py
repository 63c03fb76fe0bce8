"""Runs the real moto server (`moto_server`) on 127.0.0.1:PORT for one
process (a test process, the demo) and stops it when that process goes away:
the owner holds this script's stdin open, so end-of-file (the owner exited,
however it ended) stops the server. Prints "ready" once the server answers.

While it runs, each line on stdin is a command, answered with one line
("ok", or "error: " and why):
  reset      forget everything (POST /moto-api/reset)
  auth on    check request signatures and IAM policies (POST /moto-api/reset-auth 0)
  auth off   accept every request again (POST /moto-api/reset-auth inf)"""

import subprocess
import sys
import time
import urllib.request

port = sys.argv[1]
base = f"http://127.0.0.1:{port}"
# `python -m moto.server` is what the `moto_server` script runs; the venv is
# built aside and renamed, so its scripts' interpreter paths are stale.
server = subprocess.Popen(
    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", port],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)

COMMANDS = {
    "reset": ("/moto-api/reset", b""),
    "auth on": ("/moto-api/reset-auth", b"0"),
    "auth off": ("/moto-api/reset-auth", b"inf"),
}


def run(command):
    if command not in COMMANDS:
        return f"error: unknown command {command!r}"
    path, body = COMMANDS[command]
    try:
        # Not urllib's default form type: Flask would parse the body as a
        # form and moto would read an empty number.
        request = urllib.request.Request(base + path, data=body, method="POST", headers={"Content-Type": "text/plain"})
        answer = urllib.request.urlopen(request, timeout=30).read()
    except OSError as e:
        return f"error: {e}"
    return "ok" if b"ok" in answer else f"error: moto answered {answer[:200]!r}"


try:
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/moto-api/data.json", timeout=1).read()
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                print("moto_server did not start", flush=True)
                sys.exit(1)
            time.sleep(0.1)
    print("ready", flush=True)
    for line in sys.stdin:
        print(run(line.strip()), flush=True)
finally:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
