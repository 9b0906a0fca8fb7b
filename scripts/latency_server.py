#!/usr/bin/env python3
"""Latency harness server (scripts/latency.sh): one advisory feed and one webhook receiver
on 127.0.0.1, standard library only.

  GET  /feed.xml     an RSS feed of the advisories published so far (ETag, 304)
  POST /publish      publish a new advisory now; answers its title, remembers the time
  POST /hook         the webhook sink trustwatch delivers to; remembers arrival times
  GET  /_stats       JSON: published titles with publish and arrival times, polls seen

Times are time.time() on this host, the same clock for publishing and arrival.
"""

import argparse
import email.utils
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
PUBLISHED = []  # [(title, published_at)]
ARRIVED = {}  # title -> first arrival time
POLLS = []  # request times of /feed.xml


def feed_xml():
    items = []
    for title, at in PUBLISHED:
        items.append(
            "<item><title>%s</title><link>https://vendor.example/a/%s</link>"
            "<guid>%s</guid><pubDate>%s</pubDate><description>%s</description></item>"
            % (title, hashlib.sha1(title.encode()).hexdigest(), title,
               email.utils.formatdate(at, usegmt=True), title)
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Latency vendor</title><link>https://vendor.example/</link>"
        "<description>latency</description>%s</channel></rss>" % "".join(items)
    ).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/feed.xml":
            with LOCK:
                POLLS.append(time.time())
                body = feed_xml()
            etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
            if self.headers.get("If-None-Match") == etag:
                return self.reply(304, headers=[("ETag", etag)])
            return self.reply(200, body, [("ETag", etag), ("Content-Type", "application/rss+xml")])
        if self.path == "/_stats":
            with LOCK:
                stats = {
                    "published": [
                        {"title": t, "published": at, "arrived": ARRIVED.get(t)}
                        for t, at in PUBLISHED
                    ],
                    "polls": len(POLLS),
                }
            return self.reply(200, json.dumps(stats).encode(), [("Content-Type", "application/json")])
        self.reply(404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1 << 20))
        if self.path == "/publish":
            with LOCK:
                title = "Security advisory CVE-2026-%05d: latency probe" % (len(PUBLISHED) + 1)
                PUBLISHED.append((title, time.time()))
            return self.reply(200, title.encode())
        if self.path == "/hook":
            now = time.time()
            text = body.decode("utf-8", "replace")
            with LOCK:
                for title, _ in PUBLISHED:
                    if title in text and title not in ARRIVED:
                        ARRIVED[title] = now
            return self.reply(200, b"ok")
        self.reply(404)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os

    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
