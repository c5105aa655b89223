#!/usr/bin/env python3
"""Where the server's CPU time goes, from a profile that `BENCH_PERF=1 scripts/bench` recorded.

  perf script -i target/bench/perf-chat.data -F ip,sym,dso | scripts/bench_profile.py
  perf script ... | scripts/bench_profile.py 'sqlite3Reprepare'   # who calls a frame

Without a pattern, each sample is put in the category of the innermost frame of its stack that
names one (so a futex wait inside r2d2's checkout counts as r2d2; inside SQLite, parsing, WAL I/O
or the busy handler anywhere on the stack wins over executing), and the share of each category
is printed with the part spent in the kernel. With a pattern, the commonest call chains above
the first frame matching it are printed.
"""

import collections
import re
import sys

# First match wins, tried on each frame from the innermost outwards.
CATEGORIES = [
    ("bcrypt", r"bcrypt|blowfish"),
    ("SQLite: WAL, pager, file I/O", r"^(wal|pager|sqlite3Pager|sqlite3Wal|unix(Write|Sync|Read)|sqlite3Os(Write|Sync|Read))"),
    ("SQLite: busy-handler sleeps, file locks", r"sqliteDefaultBusyCallback|BusyHandler|unixSleep|unixLock|unixUnlock|posixUnlock"),
    ("SQLite: parsing and preparing SQL", r"sqlite3RunParser|yy_reduce|sqlite3Prepare|sqlite3LockAndPrepare|sqlite3Reprepare"),
    ("SQLite: executing", r"sqlite3|^vdbe|^btree|^Vdbe"),
    ("r2d2: connection checkout and return", r"r2d2::"),
    ("diesel: query building, binding, row mapping", r"diesel::"),
    ("tokio spawn_blocking hand-off", r"tokio::runtime::blocking|spawn_blocking"),
    ("SQLite writer and reader threads: queue hand-off, wake-ups", r"adapters::storage::sqlite::|std::sync::mpmc|tokio::sync::oneshot"),
    ("JWT: HMAC-SHA256, base64, claims", r"jsonwebtoken|sha2::|hmac::|base64::"),
    ("JSON: serde_json", r"serde_json"),
    ("tracing", r"tracing"),
    ("actix-web: HTTP parsing, routing, writing", r"actix_"),
    ("tokio: event loop, task scheduling", r"tokio::|mio::"),
]
SKIP = re.compile(r"\[k\]$|^(syscall|__GI|__libc|futex|pthread|core::|std::sys|<alloc|alloc::)")
FRAME = re.compile(r"\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)$")


def samples(lines):
    frames = []
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = []
            continue
        match = FRAME.match(line.rstrip("\n"))
        if match:
            symbol = re.sub(r"\+0x[0-9a-f]+$", "", match.group(1))
            frames.append(symbol + (" [k]" if "kernel" in match.group(2) else ""))
    if frames:
        yield frames


def categories(stacks):
    shares, kernel, total = collections.Counter(), collections.Counter(), 0
    for frames in stacks:
        total += 1
        name = next(
            (name for frame in frames for name, pattern in CATEGORIES if re.search(pattern, frame)),
            "other",
        )
        if name.startswith("SQLite"):
            # Inside SQLite, the purpose is further out than the leaf (a malloc while parsing).
            name = next(
                (name for name, pattern in CATEGORIES[1:4]
                 if any(re.search(pattern, frame) for frame in frames)),
                name,
            )
        shares[name] += 1
        kernel[name] += frames[0].endswith("[k]")
    print(f"{total} samples")
    for name, count in shares.most_common():
        print(f"{100 * count / total:5.1f}%  (in the kernel {100 * kernel[name] / total:4.1f}%)  {name}")


def callers(stacks, pattern):
    chains, total = collections.Counter(), 0
    for frames in stacks:
        total += 1
        for index, frame in enumerate(frames):
            if pattern.search(frame):
                above = [f for f in frames[index + 1:] if not SKIP.search(f)][:4]
                chains[" < ".join(f[:70] for f in [frame] + above)] += 1
                break
    for chain, count in chains.most_common(10):
        print(f"{100 * count / total:5.1f}%  {chain}")


if __name__ == "__main__":
    stacks = samples(sys.stdin)
    if len(sys.argv) > 1:
        callers(stacks, re.compile(sys.argv[1]))
    else:
        categories(stacks)
