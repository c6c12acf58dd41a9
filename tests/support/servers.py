"""Starts the real action server and Rasa server for end-to-end tests.

    with RasaStack(rasa_port=5105, action_port=5155) as stack:
        items = stack.send("patient-1", "is botox safe?")

Each stack writes its own endpoints file (action server URL, tracker store) in
a temporary folder, so tests never touch the project's conversations.db.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_DATA = PROJECT_ROOT / "tests" / "data"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
# Debian's chromium (scripts/install_browser.sh), driven by playwright.
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# axe-core (scripts/install_browser.sh), injected into pages the browser tests check.
AXE = PROJECT_ROOT / "build" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 860}
BIN = Path(sys.executable).parent
MODEL = PROJECT_ROOT / "models" / "botox-faq.tar.gz"
START_TIMEOUT_S = 180
# Every test client is 127.0.0.1, standing for many patients: the per-IP and
# global limits (channels/guard.py) are off unless a test asks for them
# (env={"BOTOX_RATE_PER_IP_PER_MINUTE": None} restores the default). The
# tests name their conversations ("alice"), as a trusted caller may; the
# widget's and the hardening tests use the signed ids (channels/sender_ids.py).
TEST_LIMITS = {"BOTOX_RATE_PER_IP_PER_MINUTE": "0", "BOTOX_RATE_GLOBAL_PER_SECOND": "0", "BOTOX_SIGNED_SENDERS": "0"}


def http_json(url: str, body: Optional[Dict] = None, timeout: float = 30, headers=None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def assert_port_free(port: int):
    """A server left over from another run would answer for ours."""
    import socket

    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is already in use: stop the process listening there")


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = START_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.5)
    raise RuntimeError(f"{url} not up after {timeout}s:\n{log.read_text()[-3000:]}")


class RasaStack:
    """An action server and a Rasa server (REST channel) on the given ports."""

    def __init__(
        self,
        rasa_port: int,
        action_port: int,
        tracker_store: Optional[Dict] = None,
        lock_store: Optional[Dict] = None,
        credentials: Optional[Dict] = None,
        extra_args: List[str] = (),
        env: Optional[Dict[str, str]] = None,
        start_actions: bool = True,
    ):
        self.rasa_port, self.action_port = rasa_port, action_port
        self.workdir = Path(tempfile.mkdtemp(prefix=f"rasa-{rasa_port}-"))
        self.tracker_store = tracker_store or {
            "type": "SQL",
            "dialect": "sqlite",
            "db": str(self.workdir / "conversations.db"),
        }
        self.lock_store = lock_store
        # Default: the project's own channels, as `make run` serves them.
        self.credentials = credentials or yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text())
        self.extra_args = list(extra_args)
        merged = {
            **os.environ,
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            **TEST_LIMITS,
            **(env or {}),
        }
        self.env = {name: value for name, value in merged.items() if value is not None}  # None: unset
        self.issued: Dict[str, str] = {}  # conversation name -> the id the server issued (send)
        self.start_actions = start_actions
        self.processes: Dict[str, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def _spawn(self, name: str, args: List[str], env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
        log = self.workdir / f"{name}.log"
        process = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env={**self.env, **(env or {})},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def start_action_server(self):
        assert_port_free(self.action_port)
        args = [str(BIN / "rasa"), "run", "actions", "--port", str(self.action_port)]
        process = self._spawn("actions", args, env={"SANIC_HOST": "127.0.0.1"})  # loopback, as scripts/run.sh
        wait_until_up(f"http://127.0.0.1:{self.action_port}/health", process, self.workdir / "actions.log")

    def start_rasa(self):
        assert_port_free(self.rasa_port)
        endpoints = {
            "action_endpoint": {"url": f"http://127.0.0.1:{self.action_port}/webhook"},
            "tracker_store": self.tracker_store,
        }
        if self.lock_store:
            endpoints["lock_store"] = self.lock_store
        (self.workdir / "endpoints.yml").write_text(yaml.safe_dump(endpoints))
        (self.workdir / "credentials.yml").write_text(yaml.safe_dump(self.credentials))
        process = self._spawn(
            "rasa",
            [
                str(BIN / "rasa"),
                "run",
                "--model",
                str(MODEL),
                "--port",
                str(self.rasa_port),
                "--endpoints",
                str(self.workdir / "endpoints.yml"),
                "--credentials",
                str(self.workdir / "credentials.yml"),
                *self.extra_args,
            ],
        )
        wait_until_up(self.url + "/", process, self.workdir / "rasa.log")

    def start(self) -> "RasaStack":
        if self.start_actions:
            self.start_action_server()
        self.start_rasa()
        return self

    def stop(self, name: Optional[str] = None, sig: int = signal.SIGTERM):
        for key in [name] if name else list(self.processes):
            process = self.processes.pop(key, None)
            if process and process.poll() is None:
                os.killpg(process.pid, sig)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text()

    def send(self, sender: str, message: str, timeout: float = 60) -> List[Dict]:
        """POSTs to the REST channel and returns its list of bot items. With
        signed ids (channels/sender_ids.py) `sender` is the test's name for a
        conversation whose id the server issued on its first message."""
        if self.env.get("BOTOX_SIGNED_SENDERS") == "0":
            return http_json(f"{self.url}/webhooks/rest/webhook", {"sender": sender, "message": message}, timeout)
        body = {"message": message, "sender": self.issued.get(sender)}
        status, headers, items = self.post(json.dumps(body).encode(), timeout=timeout)
        assert status == 200, (status, items)
        self.issued[sender] = headers["X-Botox-Sender"]
        return items

    def post(
        self, body: bytes, headers: Optional[Dict[str, str]] = None, timeout: float = 60
    ) -> Tuple[int, Dict, object]:
        """POSTs raw bytes to the REST channel: (status, headers, parsed JSON body or None), errors included."""
        request = urllib.request.Request(
            f"{self.url}/webhooks/rest/webhook",
            data=body,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, got, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, got, raw = error.code, dict(error.headers), error.read()
        try:
            return status, got, json.loads(raw or b"null")
        except ValueError:
            return status, got, None

    def __enter__(self) -> "RasaStack":
        try:
            return self.start()
        except Exception:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


def fresh_postgres_store(database: str) -> Dict:
    """A tracker store in a new, empty PostgreSQL database (127.0.0.1:5432, user postgres;
    scripts/services.sh, run by make test, starts one when none is running)."""
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=5)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {database}")
    connection.close()
    return {
        "type": "SQL",
        "dialect": "postgresql",
        "url": "127.0.0.1",
        "port": 5432,
        "db": database,
        "username": "postgres",
    }


def payloads(items: List[Dict]) -> List[Dict]:
    """The custom payloads of a REST reply, in order (docs/payload.md)."""
    return [item["custom"] for item in items if "custom" in item]
