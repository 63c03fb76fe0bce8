"""Runs the real moto server (`moto_server`) on 127.0.0.1:PORT for one test process and
stops it when that process goes away: the test holds this script's stdin
open, so end-of-file (the test exited, however it ended) stops the server.
Prints "ready" once the server answers."""

import subprocess
import sys
import time
import urllib.request

port = sys.argv[1]
# `python -m moto.server` is what the `moto_server` script runs; the venv is
# built aside and renamed, so its scripts' interpreter paths are stale.
server = subprocess.Popen(
    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", port],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
try:
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=1).read()
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                print("moto_server did not start", flush=True)
                sys.exit(1)
            time.sleep(0.1)
    print("ready", flush=True)
    sys.stdin.read()
finally:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
