"""Build the docs site offline and read every page in headless Chromium, as a reader would: equations typeset,
internal links resolve, no error output, nothing blank."""
import http.server
import re
import shutil
import socket
import subprocess
import sys
import threading
from functools import partial
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--hide-scrollbars"]
PAGES = [p.removesuffix(".ipynb") for p in yaml.safe_load((ROOT / "nbs" / "sidebar.yml").read_text())["website"]["sidebar"]["contents"]]
pytestmark = pytest.mark.skipif(CHROMIUM is None or shutil.which("npm") is None,
                                reason="needs Debian's chromium (apt-get install chromium) and npm")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "tools/build_docs.py", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def server(site):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None
    t = threading.Thread(target=httpd.serve_forever, daemon=True); t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__(); self.hrefs, self.text = [], []
    def handle_starttag(self, tag, attrs):
        if tag in ("a", "link", "script", "img"):
            for k, v in attrs:
                if k in ("href", "src") and v: self.hrefs.append(v)
    def handle_data(self, data): self.text.append(data)


def _chromium(*args, timeout=120):
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=timeout)


def test_one_page_per_notebook(site):
    built = {p.stem for p in site.glob("*.html")} - {"404"}
    assert built == set(PAGES)
    assert set(PAGES) >= {p.stem for p in (ROOT / "nbs").glob("[0-9]*.ipynb")} | {"index", "train"}


@pytest.mark.parametrize("page", PAGES)
def test_page_reads_well_in_a_browser(site, server, page, tmp_path):
    dom = _chromium("--virtual-time-budget=15000", "--dump-dom", f"{server}/{page}.html").stdout
    assert "<body" in dom, f"{page}: chromium returned no DOM"
    p = _Links(); p.feed(dom)
    text = "".join(p.text)
    # equations typeset: KaTeX replaced every arithmatex span, nothing raw is left
    assert "$$" not in text and "\\(" not in text and "\\[" not in text, f"{page}: raw TeX left on the page"
    assert "katex-error" not in dom
    if page in ("00_theory", "01_losses", "index"): assert 'class="katex' in dom, f"{page}: no typeset math"
    # no error output cells
    assert "Traceback (most recent call last)" not in text and "Error in notebook" not in text
    # internal links resolve to files of the site
    for href in p.hrefs:
        if re.match(r"^(https?:|mailto:|#|data:|javascript:)", href): continue
        target = (site / href.split("#")[0].split("?")[0]).resolve()
        assert target.exists(), f"{page}: broken link {href}"
    # a screenshot that is not blank
    shot = tmp_path / f"{page}.png"
    _chromium("--virtual-time-budget=15000", "--window-size=1280,1600", f"--screenshot={shot}", f"{server}/{page}.html")
    from PIL import Image
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.std() > 10 and (img < 128).mean() > 0.005, f"{page}: screenshot looks blank"


def test_show_doc_signatures_rendered(site):
    html = (site / "01_losses.html").read_text()
    assert "soft_value" in html and "q_logits" in html and "critic Q-values" in html   # signature + parameter comments
