"""make bench: this assistant against a plain `rasa init` bot, same machine, same run.

    python scripts/bench.py [--skip-training] [--skip-pair] [--out results/bench.json]

1. Trains the reference bot (`rasa init --no-prompt` in a temp folder) and,
   for timing only, this project's model into a temp folder with an empty
   Rasa cache (models/botox-faq.tar.gz is used for serving, never replaced).
2. Serves each in turn on loopback and drives it over REST with the same
   closed-loop load: 1 conversation x 50 messages, then 20 concurrent
   conversations x 20 messages (each conversation waits for its reply before
   sending the next message). Five warm-up messages first, not counted.
     ours:       make-run setup: SQLite tracker store, guarded REST channel,
                 action server (Rasa 5605, actions 5655)
     reference:  `rasa init` as generated: in-memory tracker store, Rasa's
                 REST channel, no custom action (Rasa 5606)
     ours-pg-x2: two Rasa instances (5607, 5608) on PostgreSQL (database
                 botox_prod_bench) + Redis lock store (db 2), one action
                 server (5657), behind nginx on 5609 if nginx is installed,
                 else the client alternates between the two.
3. Prints p50/p95/p99 latency, messages/s, errors, peak RSS (VmHWM) of the
   Rasa and action-server processes, and the ratios ours/reference.

The per-sender rate limit (channels/guard.py) is off for the benchmark
(BOTOX_RATE_PER_MINUTE=0): 50 messages in a few seconds from one sender is
exactly what it exists to refuse. An error is a failed request (HTTP
error, timeout, not a list) or our "something went wrong" safe reply. An empty reply (the bot
chose to say nothing, e.g. the reference bot out of its stories) is counted
separately ("empty").
"""
import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import aiohttp
import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODEL = PROJECT_ROOT / "models" / "botox-faq.tar.gz"

OUR_MESSAGES = [
    "is botox safe?", "what are the common side effects of botox?", "tell me more",
    "where does it say that?", "who should inject botox?", "hello",
    "what happens if botox is injected wrong?", "thanks", "can I stop botox?",
    "does cheap botox work?",
]
# Cycled in this order, so "yes"/"no" follow the bot's "Did that help you?".
REFERENCE_MESSAGES = [
    "hello", "I am sad", "yes", "are you a bot?", "goodbye", "hi", "I am very sad",
    "no", "I am great", "bye",
]
SCENARIOS = (("1 conversation x 50", 1, 50), ("20 conversations x 20", 20, 20))
FAILURE_MARK = "something went wrong on our side"


# ---- processes --------------------------------------------------------------

class Proc:
    def __init__(self, name: str, args: List[str], cwd: Path, env: Dict[str, str], logdir: Path):
        self.name = name
        self.log = logdir / f"{name}.log"
        self.process = subprocess.Popen(args, cwd=cwd, env=env, stdout=self.log.open("w"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_up(self, url: str, timeout: float = 240):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(url, timeout=2)
                return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"{self.name} not up after {timeout}s")

    def peak_rss_mb(self) -> float:
        """VmHWM of the process and its children (MB)."""
        pids = [self.process.pid]
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
            pids += [int(p) for p in children.split()]
        except OSError:
            pass
        total = 0.0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) / 1024
            except OSError:
                pass
        return round(total, 1)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def base_env(**extra) -> Dict[str, str]:
    return {**os.environ, "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
            "RASA_TELEMETRY_ENABLED": "false", **extra}


def timed(args: List[str], cwd: Path, env: Dict[str, str], log: Path) -> float:
    started = time.monotonic()
    with log.open("w") as out:
        subprocess.run(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)
    return round(time.monotonic() - started, 1)


# ---- load ---------------------------------------------------------------------

async def _conversation(session, url, sender, messages, count, latencies, errors, empty):
    for i in range(count):
        text = messages[i % len(messages)]
        started = time.perf_counter()
        try:
            async with session.post(url, json={"sender": sender, "message": text}) as response:
                body = await response.json(content_type=None)
                ok = response.status == 200 and isinstance(body, list)
                if ok and not body:
                    empty.append(i)  # the bot chose not to answer (reference bot: out of story)
                if ok and any(FAILURE_MARK in (item.get("text") or "") for item in body):
                    ok = False
        except Exception:  # noqa: BLE001 - counted as an error
            ok = False
        latencies.append(time.perf_counter() - started)
        if not ok:
            errors.append(i)


async def _load(urls: Sequence[str], messages, conversations: int, per_conversation: int, tag: str) -> Dict:
    latencies: List[float] = []
    errors: List[int] = []
    empty: List[int] = []
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        # warm-up (not counted)
        for i in range(5):
            await _conversation(session, urls[i % len(urls)], f"warmup-{tag}-{i}", messages, 1, [], [], [])
        started = time.perf_counter()
        await asyncio.gather(*[
            _conversation(session, urls[c % len(urls)], f"bench-{tag}-{c}", messages, per_conversation,
                          latencies, errors, empty)
            for c in range(conversations)
        ])
        wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p):  # nearest rank
        return round(1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 1)

    return {"messages": len(latencies), "p50_ms": round(1000 * statistics.median(ordered), 1),
            "p95_ms": pct(95), "p99_ms": pct(99), "msg_per_s": round(len(latencies) / wall, 2),
            "errors": len(errors), "empty_replies": len(empty), "wall_s": round(wall, 2)}


def run_load(urls, messages, tag) -> Dict[str, Dict]:
    return {name: asyncio.run(_load(urls, messages, n, k, f"{tag}-{n}x{k}-{int(time.time())}"))
            for name, n, k in SCENARIOS}


# ---- setups ---------------------------------------------------------------------

def serve_ours(workdir: Path) -> Dict:
    (workdir / "endpoints.yml").write_text(yaml.safe_dump({
        "action_endpoint": {"url": "http://127.0.0.1:5655/webhook"},
        "tracker_store": {"type": "SQL", "dialect": "sqlite", "db": str(workdir / "conversations.db")},
    }))
    (workdir / "credentials.yml").write_text(yaml.safe_dump({"channels.rest.GuardedRestInput": None}))
    env = base_env(BOTOX_RATE_PER_MINUTE="0")
    actions = Proc("ours-actions", [str(BIN / "rasa"), "run", "actions", "--port", "5655"],
                   PROJECT_ROOT, env, workdir).wait_up("http://127.0.0.1:5655/health")
    rasa = Proc("ours-rasa", [str(BIN / "rasa"), "run", "--model", str(MODEL), "--port", "5605",
                              "--endpoints", str(workdir / "endpoints.yml"),
                              "--credentials", str(workdir / "credentials.yml")],
                PROJECT_ROOT, env, workdir)
    try:
        rasa.wait_up("http://127.0.0.1:5605/")
        result = run_load(["http://127.0.0.1:5605/webhooks/rest/webhook"], OUR_MESSAGES, "ours")
        result["rss_mb"] = {"rasa": rasa.peak_rss_mb(), "actions": actions.peak_rss_mb()}
        return result
    finally:
        rasa.stop()
        actions.stop()


def serve_reference(refdir: Path, workdir: Path) -> Dict:
    model = sorted((refdir / "models").glob("*.tar.gz"))[-1]
    rasa = Proc("reference-rasa", [str(BIN / "rasa"), "run", "--model", str(model), "--port", "5606"],
                refdir, base_env(), workdir)
    try:
        rasa.wait_up("http://127.0.0.1:5606/")
        result = run_load(["http://127.0.0.1:5606/webhooks/rest/webhook"], REFERENCE_MESSAGES, "ref")
        result["rss_mb"] = {"rasa": rasa.peak_rss_mb(), "actions": None}
        return result
    finally:
        rasa.stop()


NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/nginx-body;
    proxy_temp_path {dir}/nginx-proxy;
    fastcgi_temp_path {dir}/nginx-fastcgi;
    uwsgi_temp_path {dir}/nginx-uwsgi;
    scgi_temp_path {dir}/nginx-scgi;
    upstream rasa {{
        server 127.0.0.1:5607 max_fails=1 fail_timeout=10s;
        server 127.0.0.1:5608 max_fails=1 fail_timeout=10s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:5609;
        client_max_body_size 16k;
        location /webhooks/ {{
            proxy_pass http://rasa;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout;
            proxy_read_timeout 30s;
        }}
        location / {{ return 404; }}
    }}
}}
"""


def serve_pair(workdir: Path) -> Dict:
    import sqlalchemy as sa

    admin = sa.create_engine("postgresql://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS botox_prod_bench"))
    admin.dispose()
    (workdir / "pair-endpoints.yml").write_text(yaml.safe_dump({
        "action_endpoint": {"url": "http://127.0.0.1:5657/webhook"},
        "tracker_store": {"type": "SQL", "dialect": "postgresql", "url": "127.0.0.1", "port": 5432,
                          "username": "postgres", "db": "botox_prod_bench", "login_db": "test"},
        "lock_store": {"type": "redis", "url": "127.0.0.1", "port": 6379, "db": 2, "key_prefix": "botoxbench"},
    }))
    (workdir / "credentials.yml").write_text(yaml.safe_dump({"channels.rest.GuardedRestInput": None}))
    env = base_env(BOTOX_RATE_PER_MINUTE="0")
    procs = [Proc("pair-actions", [str(BIN / "rasa"), "run", "actions", "--port", "5657"],
                  PROJECT_ROOT, env, workdir).wait_up("http://127.0.0.1:5657/health")]
    try:
        rasas = [Proc(f"pair-rasa-{port}", [str(BIN / "rasa"), "run", "--model", str(MODEL), "--port", str(port),
                                            "--endpoints", str(workdir / "pair-endpoints.yml"),
                                            "--credentials", str(workdir / "credentials.yml")],
                      PROJECT_ROOT, env, workdir) for port in (5607, 5608)]
        procs += rasas
        for rasa, port in zip(rasas, (5607, 5608)):
            rasa.wait_up(f"http://127.0.0.1:{port}/")
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if nginx:
            (workdir / "nginx.conf").write_text(NGINX_CONF.format(dir=workdir))
            procs.append(Proc("nginx", [nginx, "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
                              workdir, base_env(), workdir))
            time.sleep(1)
            urls, front = ["http://127.0.0.1:5609/webhooks/rest/webhook"], "nginx round robin"
        else:
            urls = [f"http://127.0.0.1:{p}/webhooks/rest/webhook" for p in (5607, 5608)]
            front = "client alternates between the two instances (nginx not installed)"
        result = run_load(urls, OUR_MESSAGES, "pair")
        result["front"] = front
        result["rss_mb"] = {"rasa": max(r.peak_rss_mb() for r in rasas), "actions": procs[0].peak_rss_mb()}
        return result
    finally:
        for proc in reversed(procs):
            proc.stop()


# ---- report ---------------------------------------------------------------------

def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return round(a / b, 2) if a is not None and b else None


def report(results: Dict) -> str:
    lines = []
    for key in ("ours", "reference", "ours-pg-x2"):
        result = results.get(key)
        if not result:
            continue
        rss = result["rss_mb"]
        lines.append(f"\n{key}  (peak RSS MB: rasa {rss['rasa']}, actions {rss['actions']})"
                     + (f"  [{result['front']}]" if "front" in result else ""))
        lines.append(f"  {'scenario':<24}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'msg/s':>9}{'errors':>8}"
                     f"{'empty':>7}")
        for name, _, _ in SCENARIOS:
            r = result[name]
            lines.append(f"  {name:<24}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['p99_ms']:>9}"
                         f"{r['msg_per_s']:>9}{r['errors']:>8}{r['empty_replies']:>7}")
    if "ours" in results and "reference" in results:
        lines.append("\nratios ours/reference (p50: <= 1.0 is the target; msg/s: >= 1.0)")
        for name, _, _ in SCENARIOS:
            ours, ref = results["ours"][name], results["reference"][name]
            lines.append(f"  {name:<24} p50 {ratio(ours['p50_ms'], ref['p50_ms'])}  "
                         f"p95 {ratio(ours['p95_ms'], ref['p95_ms'])}  "
                         f"msg/s {ratio(ours['msg_per_s'], ref['msg_per_s'])}")
        lines.append(f"  rasa peak RSS {ratio(results['ours']['rss_mb']['rasa'], results['reference']['rss_mb']['rasa'])}")
    if "training_s" in results:
        lines.append(f"\ntraining (s, empty cache): {results['training_s']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-training", action="store_true",
                        help="don't time our training (the reference bot is still trained by rasa init)")
    parser.add_argument("--skip-pair", action="store_true", help="no PostgreSQL two-instance run")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "results" / "bench.json"))
    args = parser.parse_args(argv)
    if not MODEL.exists():
        print(f"{MODEL} missing: run `make train` first", file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="botox-bench-"))
    refdir = workdir / "reference"
    results: Dict = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()},
                     "workdir": str(workdir), "training_s": {}}
    refdir.mkdir()
    print(f"bench: logs in {workdir}", flush=True)
    env = base_env(RASA_CACHE_DIRECTORY=str(workdir / "cache-ref"))
    results["training_s"]["reference (rasa init --no-prompt)"] = timed(
        [str(BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(refdir)], workdir, env,
        workdir / "train-reference.log")
    print(f"reference trained: {results['training_s']}", flush=True)
    if not args.skip_training:
        env = base_env(RASA_CACHE_DIRECTORY=str(workdir / "cache-ours"))
        results["training_s"]["ours (rasa train, empty cache)"] = timed(
            [str(BIN / "rasa"), "train", "--out", str(workdir / "models-ours"), "--fixed-model-name", "bench"],
            PROJECT_ROOT, env, workdir / "train-ours.log")
        print(f"ours trained: {results['training_s']}", flush=True)

    results["ours"] = serve_ours(workdir)
    print("ours done", flush=True)
    results["reference"] = serve_reference(refdir, workdir)
    print("reference done", flush=True)
    if not args.skip_pair:
        results["ours-pg-x2"] = serve_pair(workdir)
        print("ours-pg-x2 done", flush=True)
    results["machine"]["load_after"] = os.getloadavg()

    text = report(results)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    out.with_suffix(".txt").write_text(text + "\n")
    print(f"\nwritten: {out} and {out.with_suffix('.txt')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
