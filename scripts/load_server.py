#!/usr/bin/env python3
"""Feeds for the load test (scripts/load.sh). Python 3 standard library only.

Every feed is RSS 2.0 with ENTRIES dated items spread evenly over the two years before
now (item 0 is the newest); four items in five are security advisories with a CVE id,
the fifth is a release note that classifies as nothing.

  load_server.py serve --feeds N --port-file FILE [--entries 50]
      Serve /v<V>/feed-<F>.xml on 127.0.0.1, port 0 (the kernel picks; the port is
      written to FILE once listening). Each feed has a strong ETag; a matching
      If-None-Match gets 304. GET /_stats answers with the counts of feed requests
      served (JSON; /_stats itself is not counted). Stops on SIGTERM/SIGINT.

      With --hosts H (scripts/bench.sh), listen instead on H loopback addresses,
      127.0.0.2, 127.0.0.3, ... (Linux routes all of 127.0.0.0/8 to lo), each on a port
      of its own, and write one "ADDR:PORT" line per host to --hosts-file; every host
      serves every feed, and /_stats on any of them counts the requests of all.

  load_server.py write --feeds N --dir DIR [--entries 50]
      Write the same feeds as files DIR/v<V>/feed-<F>.xml (for file:// sources).

Feed F belongs to vendor V = F // PER_VENDOR (100 feeds per vendor).
"""

import argparse
import datetime
import hashlib
import json
import os
import signal
import sys
import threading
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

PER_VENDOR = 100
SPREAD_DAYS = 730


def vendor_of(feed):
    return feed // PER_VENDOR


def feed_path(feed):
    return "v%02d/feed-%04d.xml" % (vendor_of(feed), feed)


def render(feed, entries, now):
    """One feed's bytes; dates relative to `now` (fixed when the generator starts)."""
    items = []
    step = datetime.timedelta(days=SPREAD_DAYS) / entries
    for i in range(entries):
        # A little per-feed offset so feeds do not share timestamps.
        published = now - step * i - datetime.timedelta(minutes=feed % 60)
        guid = "load-%04d-%03d" % (feed, i)
        link = "https://vendor%02d.example/security/%s" % (vendor_of(feed), guid)
        if i % 5 == 4:
            title = "Release notes %d.%d.%d" % (feed % 7, i, feed % 13)
            body = "Performance improvements and a new dashboard layout."
        else:
            cve = "CVE-%d-%05d" % (published.year, (feed * 50 + i) % 100000)
            title = "Security advisory %s: remote code execution in product %d" % (
                cve,
                feed,
            )
            body = (
                "A vulnerability in the management interface of product %d allows "
                "remote code execution. Update to the fixed release. Tracked as %s."
                % (feed, cve)
            )
        items.append(
            "<item><title>%s</title><link>%s</link><guid>%s</guid>"
            "<pubDate>%s</pubDate><description>%s</description></item>"
            % (
                escape(title),
                escape(link),
                escape(guid),
                format_datetime(published, usegmt=True),
                escape(body),
            )
        )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0"><channel><title>Vendor %02d feed %04d</title>'
        "<link>https://vendor%02d.example/security</link>"
        "<description>load test</description>%s</channel></rss>\n"
        % (vendor_of(feed), feed, vendor_of(feed), "".join(items))
    )
    return xml.encode("utf-8")


def build(feeds, entries):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    out = {}
    for f in range(feeds):
        body = render(f, entries, now)
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:32]
        out["/" + feed_path(f)] = (body, etag)
    return out


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {"requests": 0, "ok": 0, "not_modified": 0, "not_found": 0}

    def add(self, key):
        with self.lock:
            self.counts["requests"] += 1
            self.counts[key] += 1

    def snapshot(self):
        with self.lock:
            return dict(self.counts)


def serve(args):
    feeds = build(args.feeds, args.entries)
    stats = Stats()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def send(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):
            if self.path == "/_stats":
                body = json.dumps(stats.snapshot()).encode()
                self.send(200, body, [("Content-Type", "application/json")])
                return
            found = feeds.get(self.path)
            if found is None:
                stats.add("not_found")
                self.send(404)
                return
            body, etag = found
            if self.headers.get("If-None-Match") == etag:
                stats.add("not_modified")
                self.send(304, headers=[("ETag", etag)])
                return
            stats.add("ok")
            self.send(
                200,
                body,
                [("Content-Type", "application/rss+xml"), ("ETag", etag)],
            )

    addrs = ["127.0.0.1"] if args.hosts is None else [host_addr(k) for k in range(args.hosts)]
    servers = []
    for addr in addrs:
        server = ThreadingHTTPServer((addr, 0), Handler)
        server.daemon_threads = True
        servers.append(server)
    done = threading.Event()

    def stop(*_):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    if args.hosts_file:
        tmp = args.hosts_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as fh:
            for server in servers:
                fh.write("%s:%d\n" % server.server_address[:2])
        os.replace(tmp, args.hosts_file)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write("%d\n" % servers[0].server_address[1])
    os.replace(tmp, args.port_file)  # appears whole, only once listening
    first = threading.Thread(target=servers[0].serve_forever, daemon=True)
    first.start()
    done.wait()
    for server in servers:
        server.shutdown()
        server.server_close()


def host_addr(k):
    """The k-th loopback host of --hosts: 127.0.0.2, ..., 127.0.0.251, 127.0.1.2, ..."""
    return "127.0.%d.%d" % (k // 250, 2 + k % 250)


def write(args):
    for path, (body, _) in build(args.feeds, args.entries).items():
        full = os.path.join(args.dir, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(body)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--feeds", type=int, required=True)
    s.add_argument("--entries", type=int, default=50)
    s.add_argument("--port-file", required=True)
    s.add_argument("--hosts", type=int, help="listen on this many loopback addresses")
    s.add_argument("--hosts-file", help="where to write the hosts' ADDR:PORT lines")
    w = sub.add_parser("write")
    w.add_argument("--feeds", type=int, required=True)
    w.add_argument("--entries", type=int, default=50)
    w.add_argument("--dir", required=True)
    args = p.parse_args()
    if args.feeds < 1 or args.entries < 1:
        p.error("--feeds and --entries must be at least 1")
    if args.cmd == "serve" and args.hosts is not None and not 1 <= args.hosts <= 60000:
        p.error("--hosts must be between 1 and 60000")
    if args.cmd == "serve" and args.hosts is not None and not args.hosts_file:
        p.error("--hosts needs --hosts-file")
    if args.cmd == "serve":
        serve(args)
    else:
        write(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
