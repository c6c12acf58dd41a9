"""Serves the demo clinic page with the chat widget (make run, browser tests).

    python widget/serve.py --port 8080 --server http://localhost:5005

/ is widget/demo/index.html, /botox-chat.js the widget. --server rewrites the
page's data-server attribute so the demo talks to the given Rasa server.
`pages` (serve_in_thread) adds more host pages, path -> HTML: the browser tests
embed the widget with other data- attributes on real pages of this origin
(chromium lets only pages served from a local address call the local Rasa).
"""

import argparse
import functools
import http.server
import re
import threading
from pathlib import Path
from typing import Dict

WIDGET_DIR = Path(__file__).resolve().parent
DEMO_PAGE = WIDGET_DIR / "demo" / "index.html"


class Handler(http.server.SimpleHTTPRequestHandler):
    rasa_url = None
    pages: Dict[str, str] = {}

    def do_GET(self):
        path = self.path.split("?")[0]
        if path in ("/", "/index.html") or path in self.pages:
            page = self.pages.get(path)
            if page is None:
                page = DEMO_PAGE.read_text(encoding="utf-8")
                if self.rasa_url:
                    page = re.sub(r'data-server="[^"]*"', f'data-server="{self.rasa_url}"', page, count=1)
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if path != "/botox-chat.js":
            self.send_error(404)
            return
        super().do_GET()

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format, *args):  # quiet unless asked
        if self.server.verbose:
            super().log_message(format, *args)


def make_server(
    port: int, rasa_url: str = None, host: str = "127.0.0.1", verbose: bool = False, pages: Dict[str, str] = None
):
    handler = type("DemoHandler", (Handler,), {"rasa_url": rasa_url, "pages": {} if pages is None else pages})
    server = http.server.ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(WIDGET_DIR)))
    server.verbose = verbose
    return server


def serve_in_thread(port: int, rasa_url: str = None, host: str = "127.0.0.1", pages: Dict[str, str] = None):
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
