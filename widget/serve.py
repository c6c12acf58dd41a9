"""Serves the demo clinic page with the chat widget (make run, browser tests).

    python widget/serve.py --port 8080 --server http://localhost:5005

/ is widget/demo/index.html, /botox-chat.js the widget; nothing else (GET or
HEAD): the folder also holds this file. --server rewrites the page's
data-server attribute so the demo talks to the given Rasa server.
`pages` (serve_in_thread) adds more host pages, path -> HTML: the browser tests
embed the widget with other data- attributes on real pages of this origin
(chromium lets only pages served from a local address call the local Rasa).

It is what a clinic's own site should send too, so every answer carries the
security headers (docs/production.md, section 4):
- Content-Security-Policy: scripts and styles from this origin only, plus the
  page's own inline <style> and onclick by hash (no 'unsafe-inline'); the
  widget may only connect to the Rasa server; no framing (frame-ancestors),
  no <base>, no form posts, no plugins;
- X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer
  (the chat's server never learns the page a patient was reading),
  X-Frame-Options: DENY for old browsers;
- a Server header without the Python version.
"""

import argparse
import base64
import hashlib
import http.server
import re
import threading
from pathlib import Path
from typing import Dict, Optional
from urllib.parse import urlsplit

WIDGET_DIR = Path(__file__).resolve().parent
DEMO_PAGE = WIDGET_DIR / "demo" / "index.html"
WIDGET = WIDGET_DIR / "botox-chat.js"
PAGE_PATHS = ("/", "/index.html")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _hashes(sources) -> str:
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in sources)


def content_security_policy(page: str) -> str:
    """The policy the page (as served) and the widget satisfy: its inline
    <style> blocks and onclick attributes by hash, its data-server origin
    for the widget's requests."""
    styles = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    handlers = re.findall(r'\son\w+="([^"]*)"', page)
    server = re.search(r'data-server="([^"]*)"', page)
    parts = urlsplit(server.group(1)) if server else None
    connect = f"{parts.scheme}://{parts.netloc}" if parts and parts.netloc else "'self'"
    script = f"'self' 'unsafe-hashes' {_hashes(handlers)}" if handlers else "'self'"
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {script}",
            f"style-src 'self' {_hashes(styles)}".rstrip(),
            f"connect-src {connect}",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ]
    )


def demo_page(rasa_url: Optional[str]) -> str:
    page = DEMO_PAGE.read_text(encoding="utf-8")
    if rasa_url:
        page = re.sub(r'data-server="[^"]*"', f'data-server="{rasa_url}"', page, count=1)
    return page


class Handler(http.server.BaseHTTPRequestHandler):
    rasa_url: Optional[str] = None
    pages: Dict[str, str] = {}

    def version_string(self) -> str:
        return "botox-demo"  # not "SimpleHTTP/0.6 Python/3.10.x"

    def _answer(self, with_body: bool) -> None:
        path = self.path.split("?")[0]
        page = self.pages.get(path) or demo_page(self.rasa_url)
        if path in PAGE_PATHS or path in self.pages:
            body, kind = page.encode(), "text/html; charset=utf-8"
        elif path == "/botox-chat.js":
            body, kind = WIDGET.read_bytes(), "text/javascript; charset=utf-8"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", content_security_policy(page))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format, *args):  # quiet unless asked
        if self.server.verbose:
            super().log_message(format, *args)


def make_server(
    port: int,
    rasa_url: Optional[str] = None,
    host: str = "127.0.0.1",
    verbose: bool = False,
    pages: Optional[Dict[str, str]] = None,
):
    handler = type("DemoHandler", (Handler,), {"rasa_url": rasa_url, "pages": {} if pages is None else pages})
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.verbose = verbose
    return server


def serve_in_thread(
    port: int, rasa_url: Optional[str] = None, host: str = "127.0.0.1", pages: Optional[Dict[str, str]] = None
):
    server = make_server(port, rasa_url, host, pages=pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--server", default=None, help="Rasa server URL for the widget (default: the page's own)")
    args = parser.parse_args()
    server = make_server(args.port, args.server, args.host, verbose=True)
    print(f"Demo clinic page with the chat widget: http://localhost:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
