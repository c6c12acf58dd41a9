"""make bench: this assistant against a plain `rasa init` bot, same machine, same run.

    python scripts/bench.py [--skip-training] [--skip-pair] [--out results/bench.json]

1. Trains the reference bot (`rasa init --no-prompt` in a temp folder) and,
   for timing only, this project's model into a temp folder with an empty
   Rasa cache (models/botox-faq.tar.gz is used for serving, never replaced).
2. Serves them side by side on loopback and drives each over REST with the
   same closed-loop load: 1 conversation x 50 messages, then 20 concurrent
   conversations x 20 messages (each conversation waits for its reply before
   sending the next message). Five warm-up messages first, not counted.
   Every scenario runs --rounds times (default 2) per bot, alternating which
   bot goes first, so the background load of a shared machine hits both
   alike; figures are pooled over the rounds.
     ours:       make-run setup: SQLite tracker store, guarded REST channel,
                 action server (Rasa 5605, actions 5655)
     reference:  `rasa init` as generated: in-memory tracker store, Rasa's
                 REST channel, no custom action (Rasa 5606)
     ours-pg-x2: two Rasa instances (5607, 5608) on PostgreSQL (database
                 botox_prod_bench) + Redis lock store (db 2), one action
                 server (5657), behind nginx on 5609 if nginx is installed,
                 else the client alternates between the two; measured
                 interleaved with the reference bot again.
3. Prints p50/p95/p99 latency, messages/s, errors, peak RSS (VmHWM) of the
   Rasa and action-server processes, and the ratios ours/reference.

The rate limits (channels/guard.py) are off for the benchmark
(BOTOX_RATE_PER_MINUTE=0, BOTOX_RATE_PER_IP_PER_MINUTE=0,
BOTOX_RATE_GLOBAL_PER_SECOND=0): 50 messages in a few seconds from one sender,
or 400 from one IP, is exactly what they exist to refuse. An error is a failed request (HTTP
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
NO_RATE_LIMITS = {
    "BOTOX_RATE_PER_MINUTE": "0",
    "BOTOX_RATE_PER_IP_PER_MINUTE": "0",
    "BOTOX_RATE_GLOBAL_PER_SECOND": "0",
    "BOTOX_SIGNED_SENDERS": "0",  # the load names its conversations, as a trusted caller may
}

OUR_MESSAGES = [
    "is botox safe?",
    "what are the common side effects of botox?",
    "tell me more",
    "where does it say that?",
    "who should inject botox?",
    "hello",
    "what happens if botox is injected wrong?",
    "thanks",
    "can I stop botox?",
    "does cheap botox work?",
]
# Cycled in this order, so "yes"/"no" follow the bot's "Did that help you?".
REFERENCE_MESSAGES = [
    "hello",
    "I am sad",
    "yes",
    "are you a bot?",
    "goodbye",
    "hi",
    "I am very sad",
    "no",
    "I am great",
    "bye",
]
SCENARIOS = (("1 conversation x 50", 1, 50), ("20 conversations x 20", 20, 20))
FAILURE_MARK = "something went wrong on our side"


# ---- processes --------------------------------------------------------------


class Proc:
    def __init__(self, name: str, args: List[str], cwd: Path, env: Dict[str, str], logdir: Path):
        self.name = name
        self.log = logdir / f"{name}.log"
        self.process = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
        )

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
    return {
        **os.environ,
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
        **extra,
    }


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
    """One closed-loop run; raw figures (see summarise)."""
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
        await asyncio.gather(
            *[
                _conversation(
                    session,
                    urls[c % len(urls)],
                    f"bench-{tag}-{c}",
                    messages,
                    per_conversation,
                    latencies,
                    errors,
                    empty,
                )
                for c in range(conversations)
            ]
        )
        wall = time.perf_counter() - started
    return {"latencies": latencies, "errors": len(errors), "empty": len(empty), "wall": wall}


def summarise(runs: List[Dict]) -> Dict:
    """Pooled over the rounds: latency percentiles of all messages, messages / total time."""
    ordered = sorted(x for run in runs for x in run["latencies"])
    wall = sum(run["wall"] for run in runs)

    def pct(p):  # nearest rank
        return round(1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 1)

    return {
        "messages": len(ordered),
        "rounds": len(runs),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "msg_per_s": round(len(ordered) / wall, 2),
        "errors": sum(run["errors"] for run in runs),
        "empty_replies": sum(run["empty"] for run in runs),
        "wall_s": round(wall, 2),
        "msg_per_s_by_round": [round(len(run["latencies"]) / run["wall"], 2) for run in runs],
    }


def run_interleaved(targets: Dict[str, tuple], rounds: int) -> Dict[str, Dict]:
    """Each scenario, `rounds` times, alternating which bot goes first, so a
    change in the machine's background load hits both alike."""
    raw = {name: {scenario: [] for scenario, _, _ in SCENARIOS} for name in targets}
    names = list(targets)
    for scenario, conversations, per_conversation in SCENARIOS:
        for r in range(rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                urls, messages = targets[name]
                tag = f"{name}-{conversations}x{per_conversation}-{r}-{int(time.time())}"
                raw[name][scenario].append(asyncio.run(_load(urls, messages, conversations, per_conversation, tag)))
                print(
                    f"  {name:<12} {scenario:<24} round {r + 1}: "
                    f"{len(raw[name][scenario][-1]['latencies']) / raw[name][scenario][-1]['wall']:.1f} msg/s",
                    flush=True,
                )
    return {name: {scenario: summarise(runs) for scenario, runs in by.items()} for name, by in raw.items()}


# ---- setups ---------------------------------------------------------------------


def start_ours(workdir: Path) -> Dict[str, Proc]:
    """make-run setup: SQLite tracker store, guarded REST channel, action server."""
    (workdir / "endpoints.yml").write_text(
        yaml.safe_dump(
            {
                "action_endpoint": {"url": "http://127.0.0.1:5655/webhook"},
                "tracker_store": {"type": "SQL", "dialect": "sqlite", "db": str(workdir / "conversations.db")},
            }
        )
    )
    (workdir / "credentials.yml").write_text(yaml.safe_dump({"channels.rest.GuardedRestInput": None}))
    env = base_env(**NO_RATE_LIMITS)
    procs = {
        "actions": Proc(
            "ours-actions", [str(BIN / "rasa"), "run", "actions", "--port", "5655"], PROJECT_ROOT, env, workdir
        )
    }
    procs["rasa"] = Proc(
        "ours-rasa",
        [
            str(BIN / "rasa"),
            "run",
            "--model",
            str(MODEL),
            "--port",
            "5605",
            "--endpoints",
            str(workdir / "endpoints.yml"),
            "--credentials",
            str(workdir / "credentials.yml"),
        ],
        PROJECT_ROOT,
        env,
        workdir,
    )
    return procs


def start_reference(refdir: Path, workdir: Path) -> Dict[str, Proc]:
    model = sorted((refdir / "models").glob("*.tar.gz"))[-1]
    return {
        "rasa": Proc(
            "reference-rasa",
            [str(BIN / "rasa"), "run", "--model", str(model), "--port", "5606"],
            refdir,
            base_env(),
            workdir,
        )
    }


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


def start_pair(workdir: Path) -> Dict[str, Proc]:
    """Two Rasa instances on PostgreSQL + Redis lock store, one action server, nginx."""
    import sqlalchemy as sa

    admin = sa.create_engine("postgresql://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS botox_prod_bench"))
    admin.dispose()
    (workdir / "pair-endpoints.yml").write_text(
        yaml.safe_dump(
            {
                "action_endpoint": {"url": "http://127.0.0.1:5657/webhook"},
                "tracker_store": {
                    "type": "SQL",
                    "dialect": "postgresql",
                    "url": "127.0.0.1",
                    "port": 5432,
                    "username": "postgres",
                    "db": "botox_prod_bench",
                    "login_db": "test",
                },
                "lock_store": {
                    "type": "stores.redis_lock_store.AtomicRedisLockStore",
                    "url": "127.0.0.1",
                    "port": 6379,
                    "db": 2,
                    "key_prefix": "botoxbench",
                },
            }
        )
    )
    (workdir / "credentials.yml").write_text(yaml.safe_dump({"channels.rest.GuardedRestInput": None}))
    env = base_env(**NO_RATE_LIMITS)
    procs = {
        "actions": Proc(
            "pair-actions", [str(BIN / "rasa"), "run", "actions", "--port", "5657"], PROJECT_ROOT, env, workdir
        )
    }
    for port in (5607, 5608):
        procs[f"rasa-{port}"] = Proc(
            f"pair-rasa-{port}",
            [
                str(BIN / "rasa"),
                "run",
                "--model",
                str(MODEL),
                "--port",
                str(port),
                "--endpoints",
                str(workdir / "pair-endpoints.yml"),
                "--credentials",
                str(workdir / "credentials.yml"),
            ],
            PROJECT_ROOT,
            env,
            workdir,
        )
    return procs


def pair_front(workdir: Path, procs: Dict[str, Proc]) -> tuple:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx:
        (workdir / "nginx.conf").write_text(NGINX_CONF.format(dir=workdir))
        procs["nginx"] = Proc(
            "nginx", [nginx, "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"], workdir, base_env(), workdir
        )
        time.sleep(1)
        return ["http://127.0.0.1:5609/webhooks/rest/webhook"], "nginx round robin"
    return (
        [f"http://127.0.0.1:{p}/webhooks/rest/webhook" for p in (5607, 5608)],
        "client alternates between the two instances (nginx not installed)",
    )


def stop_all(*groups: Dict[str, Proc]):
    for group in groups:
        for proc in reversed(list(group.values())):
            proc.stop()


# ---- report ---------------------------------------------------------------------


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return round(a / b, 2) if a is not None and b else None


def _ratios(lines: List[str], ours_key: str, ref_key: str, results: Dict):
    lines.append(f"\nratios {ours_key}/reference, same time window (targets: p50 <= 1.0, msg/s >= 1.0)")
    for name, _, _ in SCENARIOS:
        ours, ref = results[ours_key][name], results[ref_key][name]
        lines.append(
            f"  {name:<24} p50 {ratio(ours['p50_ms'], ref['p50_ms'])}  "
            f"p95 {ratio(ours['p95_ms'], ref['p95_ms'])}  "
            f"msg/s {ratio(ours['msg_per_s'], ref['msg_per_s'])}"
        )
    lines.append(f"  rasa peak RSS {ratio(results[ours_key]['rss_mb']['rasa'], results[ref_key]['rss_mb']['rasa'])}")


def report(results: Dict) -> str:
    lines = []
    for key in ("ours", "reference", "ours-pg-x2", "reference (during ours-pg-x2)"):
        result = results.get(key)
        if not result:
            continue
        rss = result["rss_mb"]
        lines.append(
            f"\n{key}  (peak RSS MB: rasa {rss['rasa']}, actions {rss['actions']})"
            + (f"  [{result['front']}]" if "front" in result else "")
        )
        lines.append(
            f"  {'scenario':<24}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'msg/s':>9}{'errors':>8}"
            f"{'empty':>7}  msg/s by round"
        )
        for name, _, _ in SCENARIOS:
            r = result[name]
            lines.append(
                f"  {name:<24}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['p99_ms']:>9}"
                f"{r['msg_per_s']:>9}{r['errors']:>8}{r['empty_replies']:>7}  {r['msg_per_s_by_round']}"
            )
    if "ours" in results and "reference" in results:
        _ratios(lines, "ours", "reference", results)
    if "ours-pg-x2" in results:
        _ratios(lines, "ours-pg-x2", "reference (during ours-pg-x2)", results)
    lines.append(f"\ntraining (s, empty cache): {results['training_s']}")
    lines.append(f"machine: {results['machine']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--skip-training",
        action="store_true",
        help="don't time our training (the reference bot is still trained by rasa init)",
    )
    parser.add_argument("--skip-pair", action="store_true", help="no PostgreSQL two-instance run")
    parser.add_argument(
        "--reuse-reference",
        metavar="DIR",
        help="an already trained `rasa init` folder (development only: skips its training)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="runs of each scenario per bot (interleaved)")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "results" / "bench.json"))
    args = parser.parse_args(argv)
    if not MODEL.exists():
        print(f"{MODEL} missing: run `make train` first", file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="botox-bench-"))
    refdir = workdir / "reference"
    results: Dict = {
        "machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()},
        "workdir": str(workdir),
        "training_s": {},
    }
    refdir.mkdir()  # rasa init wants an existing folder
    print(f"bench: logs in {workdir}", flush=True)
    if args.reuse_reference:
        refdir = Path(args.reuse_reference).resolve()
    else:
        env = base_env(RASA_CACHE_DIRECTORY=str(workdir / "cache-ref"))
        results["training_s"]["reference (rasa init --no-prompt)"] = timed(
            [str(BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(refdir)],
            workdir,
            env,
            workdir / "train-reference.log",
        )
    print(f"reference trained: {results['training_s']}", flush=True)
    if not args.skip_training:
        env = base_env(RASA_CACHE_DIRECTORY=str(workdir / "cache-ours"))
        results["training_s"]["ours (rasa train, empty cache)"] = timed(
            [str(BIN / "rasa"), "train", "--out", str(workdir / "models-ours"), "--fixed-model-name", "bench"],
            PROJECT_ROOT,
            env,
            workdir / "train-ours.log",
        )
        print(f"ours trained: {results['training_s']}", flush=True)

    ours, reference, pair = {}, {}, {}
    try:
        ours, reference = start_ours(workdir), start_reference(refdir, workdir)
        ours["actions"].wait_up("http://127.0.0.1:5655/health")
        ours["rasa"].wait_up("http://127.0.0.1:5605/")
        reference["rasa"].wait_up("http://127.0.0.1:5606/")
        print("ours vs reference:", flush=True)
        measured = run_interleaved(
            {
                "ours": (["http://127.0.0.1:5605/webhooks/rest/webhook"], OUR_MESSAGES),
                "reference": (["http://127.0.0.1:5606/webhooks/rest/webhook"], REFERENCE_MESSAGES),
            },
            args.rounds,
        )
        results["ours"], results["reference"] = measured["ours"], measured["reference"]
        results["ours"]["rss_mb"] = {"rasa": ours["rasa"].peak_rss_mb(), "actions": ours["actions"].peak_rss_mb()}
        stop_all(ours)
        if not args.skip_pair:
            pair = start_pair(workdir)
            pair["actions"].wait_up("http://127.0.0.1:5657/health")
            for port in (5607, 5608):
                pair[f"rasa-{port}"].wait_up(f"http://127.0.0.1:{port}/")
            urls, front = pair_front(workdir, pair)
            print("ours-pg-x2 vs reference:", flush=True)
            measured = run_interleaved(
                {
                    "ours-pg-x2": (urls, OUR_MESSAGES),
                    "reference": (["http://127.0.0.1:5606/webhooks/rest/webhook"], REFERENCE_MESSAGES),
                },
                args.rounds,
            )
            results["ours-pg-x2"] = measured["ours-pg-x2"]
            results["reference (during ours-pg-x2)"] = measured["reference"]
            results["ours-pg-x2"]["front"] = front
            results["ours-pg-x2"]["rss_mb"] = {
                "rasa": max(pair[f"rasa-{p}"].peak_rss_mb() for p in (5607, 5608)),
                "actions": pair["actions"].peak_rss_mb(),
            }
        results["reference"]["rss_mb"] = {"rasa": reference["rasa"].peak_rss_mb(), "actions": None}
        if "reference (during ours-pg-x2)" in results:
            results["reference (during ours-pg-x2)"]["rss_mb"] = results["reference"]["rss_mb"]
    finally:
        stop_all(ours, pair, reference)
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
