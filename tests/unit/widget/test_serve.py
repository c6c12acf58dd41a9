"""The demo page server (widget/serve.py) over real HTTP: only its two files,
GET or HEAD, with the security headers and no Python version banner."""

import base64
import hashlib
import re
import urllib.error
import urllib.request

import pytest

from widget.serve import serve_in_thread

RASA = "http://127.0.0.1:5999"


@pytest.fixture(scope="module")
def base_url():
    server = serve_in_thread(0, RASA)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def fetch(url, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize("path", ["/serve.py", "/__init__.py", "/demo/index.html", "/../faq/settings.py", "/demo/"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_nothing_but_the_page_and_the_widget_is_served(base_url, path, method):
    status, headers, _ = fetch(base_url + path, method)
    assert status == 404 and headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path, kind", [("/", "text/html"), ("/botox-chat.js", "text/javascript")])
def test_head_answers_like_get_without_a_body(base_url, path, kind):
    got, head = fetch(base_url + path), fetch(base_url + path, "HEAD")
    assert got[0] == head[0] == 200 and head[2] == b"" and got[2]
    assert head[1]["Content-Length"] == got[1]["Content-Length"] == str(len(got[2]))
    assert got[1]["Content-Type"].startswith(kind)


def test_security_headers_and_no_python_banner(base_url):
    _, headers, page = fetch(base_url + "/")
    assert "Python" not in headers["Server"] and "SimpleHTTP" not in headers["Server"]
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
    policy = dict(part.split(" ", 1) for part in headers["Content-Security-Policy"].split("; "))
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == RASA and "unsafe-inline" not in headers["Content-Security-Policy"]
    # The page's own inline style is allowed by its hash, nothing else inline.
    [style] = re.findall(rb"<style>(.*?)</style>", page, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style).digest()).decode()
    assert f"'sha256-{digest}'" in policy["style-src"]
