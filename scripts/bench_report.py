#!/usr/bin/env python3
"""Parsing and reporting for scripts/bench.

  bench_report.py record LABEL WRK_OUTPUT PEAK_RSS_KIB   -> one JSON line on stdout
  bench_report.py table RESULTS_JSONL MACHINE [--write DOC --section NAME]

`record` reads the BENCH_RESULT line that scripts/bench.lua prints from wrk's done().
`table` renders every recorded row as a Markdown table with its ratio to the row labelled
"baseline", prints it, and with --write replaces the text between the section's markers in DOC:
<!-- bench:NAME:begin --> and <!-- bench:NAME:end -->.
"""

import json
import sys

# Statuses the benchmark provokes on purpose (out of tokens, throttled): not errors.
DELIBERATE = {402, 429}


def record(label, wrk_output, peak_rss_kib):
    with open(wrk_output, encoding="utf-8") as output:
        lines = [line for line in output if line.startswith("BENCH_RESULT ")]
    if not lines:
        sys.exit(f"bench_report: no BENCH_RESULT line in {wrk_output} (did wrk fail?)")
    result = json.loads(lines[-1][len("BENCH_RESULT "):])
    statuses = {int(status): count for status, count in result["statuses"].items()}
    bad_statuses = sum(
        count for status, count in statuses.items()
        if not 200 <= status < 300 and status not in DELIBERATE
    )
    seconds = result["duration_us"] / 1e6
    print(json.dumps({
        "label": label,
        "rps": result["requests"] / seconds if seconds else 0.0,
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "errors": bad_statuses + result["socket_errors"] + result["timeouts"],
        "deliberate": sum(statuses.get(status, 0) for status in DELIBERATE),
        "statuses": statuses,
        "peak_rss_mib": int(peak_rss_kib) / 1024,
    }))


def render(rows, machine):
    baseline = next((row["rps"] for row in rows if row["label"] == "baseline"), None)
    lines = [
        machine,
        "",
        "| row | requests/s | p50 | p99 | errors | 402/429 | peak RSS | ratio to baseline |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratio = f"{row['rps'] / baseline:.3g}" if baseline else "–"
        lines.append(
            f"| {row['label']} | {row['rps']:,.0f} | {row['p50_ms']:.2f} ms "
            f"| {row['p99_ms']:.2f} ms | {row['errors']} | {row['deliberate']} "
            f"| {row['peak_rss_mib']:.1f} MiB | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def write_section(doc, section, table):
    begin, end = f"<!-- bench:{section}:begin -->", f"<!-- bench:{section}:end -->"
    with open(doc, encoding="utf-8") as file:
        text = file.read()
    if begin not in text or end not in text:
        sys.exit(f"bench_report: {doc} has no {begin} … {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(doc, "w", encoding="utf-8") as file:
        file.write(f"{head}{begin}\n{table}{end}{tail}")


def table(results, machine, args):
    with open(results, encoding="utf-8") as file:
        rows = [json.loads(line) for line in file if line.strip()]
    rendered = render(rows, machine)
    print(rendered)
    if args[:1] == ["--write"] and args[2:3] == ["--section"]:
        write_section(args[1], args[3], rendered)
    elif args:
        sys.exit(f"bench_report: unexpected arguments {args}")


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "record":
        record(*arguments)
    elif command == "table":
        table(arguments[0], arguments[1], arguments[2:])
    else:
        sys.exit(f"bench_report: unknown command {command}")
