"""bench --cluster scaling: requests/s of ``bulkload bench`` against nginx answering
``return 204`` with 1 and then 2 local Dask workers (``--cluster local:N``), and the ratio.

    python benchmarks/cluster_scaling.py [--level 64] [--duration 5]

nginx (``/usr/sbin/nginx``) is started on 127.0.0.1 with a throwaway configuration.
On a 2-core machine shared with nginx, 2 workers cannot double the rate: the ratio
says how much of the second core the second worker turned into requests.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BULKLOAD = [sys.executable, "-m", "bulkload"]
NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp};
    server {{ listen 127.0.0.1:{port}; location / {{ return 204; }} }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def requests_per_s(url: str, workers: int, level: int, duration: float, out: Path) -> float:
    subprocess.run(
        [*BULKLOAD, "bench", "--to", url, "--synthetic", "rows=100000,columns=3",
         "--batch-size", "1", "--sweep", str(level), "--warmup", "1", "--duration",
         str(duration), "--cluster", f"local:{workers}", "--progress", "off", "--quiet",
         "--json", str(out)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    level_result = json.loads(out.read_text())["levels"][0]
    return float(level_result["batches_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", type=int, default=64, help="writes in flight, all workers")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured")
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
        server = subprocess.Popen([nginx, "-c", str(conf), "-g", "daemon off;"])
        try:
            time.sleep(0.5)
            url = f"http://127.0.0.1:{port}/ingest"
            one = requests_per_s(url, 1, args.level, args.duration, Path(tmp) / "one.json")
            two = requests_per_s(url, 2, args.level, args.duration, Path(tmp) / "two.json")
        finally:
            server.terminate()
            server.wait()
    print(f"1 worker : {one:>10,.0f} requests/s")
    print(f"2 workers: {two:>10,.0f} requests/s")
    print(f"ratio    : {two / one:>10.2f}x")


if __name__ == "__main__":
    main()
