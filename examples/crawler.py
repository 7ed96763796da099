"""A crawler: blocking fetches run in threads while tasks follow the links they find.

``urllib`` blocks, so each fetch runs in coop's thread pool with ``coop.to_thread``; each page
found is crawled by a task of its own, and all of them wait at once. The "web" is a small site
served on 127.0.0.1 by ``http.server`` in a background thread, with a delay per page to play
the network, so 12 pages take about the time of the longest chain of links, not their sum.
"""

import re
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import coop

DELAY = 0.2  # seconds per page, the "network"
SITE = {  # path -> the paths it links to
    "/": ["/news", "/blog", "/about"],
    "/news": ["/news/1", "/news/2", "/news/3"],
    "/blog": ["/blog/1", "/blog/2", "/news/1"],
    "/about": ["/", "/contact"],
    "/news/1": [], "/news/2": ["/news/1"], "/news/3": [],
    "/blog/1": ["/blog/2"], "/blog/2": ["/blog/3"], "/blog/3": [],
    "/contact": ["/contact/map"], "/contact/map": [],
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        links = SITE.get(self.path)
        if links is None:
            self.send_error(404)
            return
        time.sleep(DELAY)
        body = f"<title>{self.path}</title>" + "".join(f'<a href="{p}">{p}</a>' for p in links)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass  # keep the example's output to the crawl


def fetch(url):
    """Blocking: this is what runs in a thread."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def crawl(base, path, seen, found):
    html = yield coop.to_thread(fetch, base + path)
    found[path] = re.search(r"<title>(.*?)</title>", html).group(1)
    children = []
    for link in re.findall(r'href="([^"]+)"', html):
        if link not in seen:
            seen.add(link)
            children.append((yield coop.spawn(crawl(base, link, seen, found))))
    for child in children:
        yield coop.join(child)


def main(base):
    found = {}
    started = time.perf_counter()
    yield from crawl(base, "/", {"/"}, found)
    took = time.perf_counter() - started
    width = max(map(len, found))  # the longest path sets the column
    for path in sorted(found):
        print(f"  {path:<{width}}  title {found[path]!r}")
    print(f"fetched {len(found)} pages in {took:.2f} s "
          f"(one after the other: {len(found) * DELAY:.1f} s)")


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        coop.run(main(f"http://127.0.0.1:{server.server_address[1]}"))
    finally:
        server.shutdown()
