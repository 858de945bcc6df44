"""Webhook throughput: `loa serve` (signature check + durable SQLite inbox) against a bare aiohttp handler.

Both servers get the same pre-signed user_send_text events from wrk in a second process, each pinned to its
own core where the machine allows. Prints events/s, p50/p99 per run, the medians and the ratio, checks that
every acknowledged event is in the inbox, and ends with one JSON line.

    .venv/bin/python bench/webhook.py [--duration 10] [--connections 32] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.signing import signed, text_event  # noqa: E402

LUA = r"""
local lines = {}
local counter = 0
local acked = 0
local threads = {}
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
function init(args)
  local path = args[1] .. "." .. tostring(id)
  for line in io.lines(path) do
    local sig, body = line:match("^([^\t]*)\t(.*)$")
    table.insert(lines, wrk.format("POST", "/zalo/webhook",
      {["Content-Type"] = "application/json", ["X-ZEvent-Signature"] = sig}, body))
  end
  idx = 0
  ok = 0
end
function request()
  idx = idx + 1
  return lines[((idx - 1) % #lines) + 1]
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 end
end
function done(summary, latency, requests)
  local total_ok = 0
  for _, t in ipairs(threads) do total_ok = total_ok + t:get("ok") end
  io.write(string.format('RESULT {"requests": %d, "ok": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, "errors": %d}\n',
    summary.requests, total_ok, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


def pinned(cmd: list[str], cpu: int | None) -> list[str]:
    if cpu is not None and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu), *cmd]
    return cmd


def write_events(base: Path, tag: str, threads: int, per_thread: int) -> list[str]:
    """One file per wrk thread of `signature<TAB>body` lines, every msg_id unique."""
    keys = []
    for t in range(1, threads + 1):
        with open(f"{base}.{t}", "w", encoding="utf-8") as f:
            for i in range(per_thread):
                msg_id = f"{tag}-{t}-{i}"
                body, headers = signed(
                    text_event(
                        f"40000{i % 997:05d}",
                        msg_id,
                        f"nhà tôi hộ cận nghèo vay vốn được không {i}",
                    )
                )
                f.write(headers["X-ZEvent-Signature"] + "\t" + body.decode() + "\n")
                keys.append(f"user_send_text:{msg_id}")
    return keys


def run_wrk(
    port: int, events: Path, args: argparse.Namespace, lua: Path, cpu: int | None
) -> dict[str, float]:
    cmd = pinned(
        [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{args.duration}s",
            "--timeout",
            "5s",
            "-s",
            str(lua),
            f"http://127.0.0.1:{port}/zalo/webhook",
            "--",
            str(events),
        ],
        cpu,
    )
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["events_per_s"] = result["ok"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu, load_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    work = Path(tempfile.mkdtemp(prefix="loa-bench-"))
    lua = work / "events.lua"
    lua.write_text(LUA)
    per_thread = 200_000 // args.threads
    python = sys.executable
    results: dict[str, list[dict[str, float]]] = {"bare": [], "loa": []}
    missing_total = 0
    stored_total = 0
    acked_total = 0
    try:
        for run in range(args.runs):
            # Baseline: the bare handler.
            port = free_port()
            events = work / f"bare{run}"
            write_events(events, f"bare{run}", args.threads, per_thread)
            bare = subprocess.Popen(
                pinned(
                    [python, str(REPO / "bench" / "bare_webhook.py"), "--port", str(port)],
                    server_cpu,
                ),
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_port(port)
                results["bare"].append(run_wrk(port, events, args, lua, load_cpu))
            finally:
                bare.terminate()
                bare.wait()
            # Loa Ấp: `loa serve` on a fresh SQLite file.
            port = free_port()
            events = work / f"loa{run}"
            keys = write_events(events, f"loa{run}", args.threads, per_thread)
            db = work / f"loa{run}.db"
            env = {
                **os.environ,
                "LOA_PORT": str(port),
                "LOA_DATABASE_URL": f"sqlite:///{db}",
                "LOA_LOG_LEVEL": "WARNING",
            }
            for key in ("ZALO_APP_ID", "ZALO_API_BASE", "ZALO_OAUTH_BASE"):
                env.pop(key, None)
            log = open(work / f"serve{run}.log", "wb")
            serve = subprocess.Popen(
                pinned([python, "-m", "bot", "serve"], server_cpu),
                cwd=work,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                try:
                    wait_http(f"http://127.0.0.1:{port}/healthz")
                except RuntimeError:
                    sys.exit((work / f"serve{run}.log").read_text()[-3000:])
                result = run_wrk(port, events, args, lua, load_cpu)
            finally:
                serve.terminate()
                serve.wait(timeout=60)
            with sqlite3.connect(db) as conn:
                stored = {
                    k
                    for (k,) in conn.execute(
                        "select dedupe_key from inbox_events where event_name = 'user_send_text'"
                    )
                }
            sent_keys = set(keys)
            stored_ours = len(stored & sent_keys)
            # wrk counts only answers it read; every one of them must be in the inbox.
            missing = max(0, int(result["ok"]) - stored_ours)
            result["stored"] = stored_ours
            result["missing"] = missing
            missing_total += missing
            stored_total += stored_ours
            acked_total += int(result["ok"])
            results["loa"].append(result)
            for name in ("bare", "loa"):
                r = results[name][-1]
                print(
                    f"run {run + 1} {name:4s}: {r['events_per_s']:8.0f} events/s  p50 {r['p50_ms']:6.2f} ms  "
                    f"p99 {r['p99_ms']:6.2f} ms  errors {r['errors']}"
                    + (f"  stored {r['stored']} missing {r['missing']}" if name == "loa" else "")
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    figures = {
        "bench": "webhook",
        "runs": args.runs,
        "duration_s": args.duration,
        "connections": args.connections,
        "bare_events_per_s": round(med("bare", "events_per_s")),
        "bare_p50_ms": round(med("bare", "p50_ms"), 2),
        "bare_p99_ms": round(med("bare", "p99_ms"), 2),
        "loa_events_per_s": round(med("loa", "events_per_s")),
        "loa_p50_ms": round(med("loa", "p50_ms"), 2),
        "loa_p99_ms": round(med("loa", "p99_ms"), 2),
        "ratio": round(med("loa", "events_per_s") / med("bare", "events_per_s"), 3),
        "acknowledged": acked_total,
        "stored": stored_total,
        "missing": missing_total,
    }
    print(
        f"median: loa {figures['loa_events_per_s']} events/s vs bare {figures['bare_events_per_s']} "
        f"-> ratio {figures['ratio']}; loa p99 {figures['loa_p99_ms']} ms; missing {missing_total}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
