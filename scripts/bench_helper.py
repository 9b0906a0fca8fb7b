#!/usr/bin/env python3
"""Helpers for scripts/bench.sh. Python 3 standard library only (feedparser, for the
`feedparser` command, comes from the venv bench.sh makes).

  bench_helper.py payload --dir DIR --files N --size BYTES
      Write N incompressible files DIR/bin/part-<i>.bin (os.urandom) and
      DIR/manifest.json listing their SHA-256 (CONTRACT §3).

  bench_helper.py zip --dir DIR --out PACKAGE.zip
      Zip every file under DIR (deflated, level 1: random data does not shrink, so a
      higher level would only cost time), names relative to DIR.

  bench_helper.py run --out RESULTS.jsonl --name NAME --side ours|theirs
                      [--repeat N] [--fresh DIR] [--expect-rc 0] -- COMMAND...
      Run COMMAND N times in a row (default 1); record one JSON line: wall seconds per
      invocation (perf_counter around the whole batch, divided by N) and the peak RSS
      of the largest invocation. The RSS is /usr/bin/time -v's "Maximum resident set
      size" when /usr/bin/time works, else the child's ru_maxrss from wait4 (the same
      kernel figure). --fresh removes DIR before each invocation (not timed). A wrong
      exit code fails loudly with the command's stderr.

  bench_helper.py feedparser --urls FILE
      The comparison for `poll --once`: fetch every URL in FILE in order (file:// read
      from disk, http:// with urllib, sequentially as `poll --once` polls) and parse it
      with feedparser. Prints "documents entries" to stdout.

  bench_helper.py report RESULTS.jsonl
      Medians per comparison, ratio ours/theirs, peak RSS, target and whether it is met.
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

# name -> (what it compares, target as text, test on (ours, theirs, ours_peak_kib))
TARGETS = {
    "big-package": (
        "verify 256 MiB package vs openssl dgst -sha256",
        "ours/theirs <= 1.0, peak < 64 MiB",
        lambda o, t, rss: o / t <= 1.0 and rss < 64 * 1024,
    ),
    "small-package": (
        "verify ~100 kB package vs openssl cms -verify",
        "ours/theirs <= 1.0",
        lambda o, t, rss: o / t <= 1.0,
    ),
    "poll-file": (
        "poll --once file:// vs feedparser",
        ">= 10x faster, peak < 150 MiB",
        lambda o, t, rss: t / o >= 10 and rss < 150 * 1024,
    ),
    "poll-http": (
        "poll --once http vs feedparser+urllib",
        ">= 10x faster, peak < 150 MiB",
        lambda o, t, rss: t / o >= 10 and rss < 150 * 1024,
    ),
}


def payload(args):
    files = []
    os.makedirs(os.path.join(args.dir, "bin"), exist_ok=True)
    chunk = 1 << 20
    for i in range(args.files):
        rel = "bin/part-%d.bin" % i
        h = hashlib.sha256()
        with open(os.path.join(args.dir, rel), "wb") as fh:
            left = args.size
            while left > 0:
                data = os.urandom(min(chunk, left))
                h.update(data)
                fh.write(data)
                left -= len(data)
        files.append({"path": rel, "sha256": h.hexdigest()})
    manifest = {"name": "bench-package", "version": "1.0.0", "reboot": "none", "files": files}
    with open(os.path.join(args.dir, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")


def make_zip(args):
    with zipfile.ZipFile(args.out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for top, _, names in sorted(os.walk(args.dir)):
            for name in sorted(names):
                full = os.path.join(top, name)
                z.write(full, os.path.relpath(full, args.dir))


def gnu_time():
    try:
        ok = subprocess.run(
            ["/usr/bin/time", "-v", "true"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return ok.returncode == 0
    except OSError:
        return False


def run(args):
    cmd = args.command
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        sys.exit("run: no command")
    use_time = gnu_time()
    peak = 0
    wall = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        tfile = os.path.join(tmp, "time")
        errfile = os.path.join(tmp, "stderr")
        for _ in range(args.repeat):
            if args.fresh:
                shutil.rmtree(args.fresh, ignore_errors=True)
            full = ["/usr/bin/time", "-v", "-o", tfile] + cmd if use_time else cmd
            with open(errfile, "wb") as err:
                start = time.perf_counter()
                proc = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=err)
                _, status, usage = os.wait4(proc.pid, 0)
                wall += time.perf_counter() - start
            rc = os.waitstatus_to_exitcode(status)
            if rc != args.expect_rc:
                with open(errfile, "rb") as err:
                    tail = err.read()[-4000:].decode("utf-8", "replace")
                sys.exit(
                    "%s (%s) exited %d, expected %d:\n%s"
                    % (args.name, args.side, rc, args.expect_rc, tail)
                )
            kib = usage.ru_maxrss
            if use_time:
                with open(tfile, encoding="utf-8", errors="replace") as fh:
                    for line in fh:
                        if "Maximum resident set size" in line:
                            kib = int(line.rsplit(":", 1)[1])
            peak = max(peak, kib)
    row = {
        "name": args.name,
        "side": args.side,
        "seconds": wall / args.repeat,
        "peak_kib": peak,
        "repeat": args.repeat,
    }
    with open(args.out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    print(
        "  %-14s %-6s %10.4f s  peak %7.1f MiB"
        % (args.name, args.side, row["seconds"], peak / 1024),
        file=sys.stderr,
    )


def run_feedparser(args):
    import urllib.request

    import feedparser  # from the bench venv

    docs = entries = 0
    with open(args.urls, encoding="utf-8") as fh:
        urls = [line.strip() for line in fh if line.strip()]
    for url in urls:
        if url.startswith("file://"):
            with open(url[len("file://") :], "rb") as f:
                body = f.read()
        else:
            with urllib.request.urlopen(url, timeout=30) as resp:
                body = resp.read()
        parsed = feedparser.parse(body)
        if parsed.bozo and not parsed.entries:
            sys.exit("feedparser could not read %s: %s" % (url, parsed.bozo_exception))
        docs += 1
        entries += len(parsed.entries)
    print(docs, entries)


def fmt_secs(s):
    return "%.3f s" % s if s >= 1 else "%.1f ms" % (s * 1000)


def report(args):
    rows = [json.loads(l) for l in open(args.results, encoding="utf-8") if l.strip()]
    names = []
    for r in rows:
        if r["name"] not in names:
            names.append(r["name"])
    header = ("comparison", "ours median", "theirs median", "ours/theirs", "peak RSS ours (theirs)", "target", "met")
    table = [header]
    for name in names:
        side = {
            s: [r for r in rows if r["name"] == name and r["side"] == s] for s in ("ours", "theirs")
        }
        if not side["ours"] or not side["theirs"]:
            continue
        o = statistics.median(r["seconds"] for r in side["ours"])
        t = statistics.median(r["seconds"] for r in side["theirs"])
        o_rss = max(r["peak_kib"] for r in side["ours"])
        t_rss = max(r["peak_kib"] for r in side["theirs"])
        what, target, test = TARGETS.get(name, (name, "-", lambda *_: None))
        met = test(o, t, o_rss)
        ratio = o / t
        table.append(
            (
                "%s (%s, n=%d/%d)" % (name, what, len(side["ours"]), len(side["theirs"])),
                fmt_secs(o),
                fmt_secs(t),
                "%.2fx%s" % (ratio, " (%.1fx faster)" % (1 / ratio) if ratio < 1 else ""),
                "%.1f MiB (%.1f MiB)" % (o_rss / 1024, t_rss / 1024),
                target,
                "-" if met is None else ("met" if met else "NOT met"),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for k, row in enumerate(table):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("payload")
    s.add_argument("--dir", required=True)
    s.add_argument("--files", type=int, required=True)
    s.add_argument("--size", type=int, required=True)
    s = sub.add_parser("zip")
    s.add_argument("--dir", required=True)
    s.add_argument("--out", required=True)
    s = sub.add_parser("run")
    s.add_argument("--out", required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--side", choices=("ours", "theirs"), required=True)
    s.add_argument("--repeat", type=int, default=1)
    s.add_argument("--fresh")
    s.add_argument("--expect-rc", type=int, default=0)
    s.add_argument("command", nargs=argparse.REMAINDER)
    s = sub.add_parser("feedparser")
    s.add_argument("--urls", required=True)
    s = sub.add_parser("report")
    s.add_argument("results")
    args = p.parse_args()
    {
        "payload": payload,
        "zip": make_zip,
        "run": run,
        "feedparser": run_feedparser,
        "report": report,
    }[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
