"""`python -m bench floor`: the floor app alone, driven by bench's load generator and, when installed, by wrk.

It answers one question about the bench itself: is the Python load generator
(bench/loadgen.py) what limits the rate it measures? Both generators drive the
same floor app, under the same gunicorn command as `make bench`, at the same
number of connections, taking turns; for each it prints requests/s and the
generator's own CPU time per request (from getrusage), which is what a
generator takes from the two cores it shares with the server.
"""
from __future__ import annotations

import os
import re
import resource
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import click

from bench.floor_app import setup_database
from bench.harness import (DEFAULT_PG, FLOOR_APP, FLOOR_ITEMS, ROOT, _create_database, _drop_database, _free_port,
                           _http_ok, gunicorn_command, run_load)

# One thread, sequential item ids: requests in flight at once never share an item (as with bench's clients).
WRK_SCRIPT = """\
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/items/" .. ((n %% %(items)d) + 1) .. "/transitions",
    {["Authorization"] = "Bearer %(token)s", ["Content-Type"] = "application/json"}, '{"event": "accept"}')
end
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(port: int, token: str, connections: int, seconds: float, workdir: Path) -> dict:
    script = workdir / "floor.lua"
    script.write_text(WRK_SCRIPT % {"items": FLOOR_ITEMS, "token": token})
    cpu = _children_cpu()
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "-s", str(script),
                          f"http://127.0.0.1:{port}"], capture_output=True, text=True, timeout=seconds + 60)
    cpu = _children_cpu() - cpu
    total = int(re.search(r"(\d+) requests in", out.stdout).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out.stdout).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    return {"rps": rps, "requests": total, "cpu_per_request": cpu / total if total else None,
            "errors": int(bad.group(1)) if bad else 0}


def run_ours(port: int, token: str, connections: int, seconds: float) -> dict:
    load = run_load(port, {}, 1_000_000, connections, seconds, scenario="floor", token=token, items=FLOOR_ITEMS)
    return {"rps": load["done"] / load["elapsed"], "requests": load["calls"],
            "cpu_per_request": load["cpu_seconds"] / load["calls"] if load["calls"] else None,
            "errors": len(load["errors"])}


@click.command("floor")
@click.option("--connections", default=16, show_default=True, type=click.IntRange(1, 256))
@click.option("--seconds", default=10.0, show_default=True, type=click.FloatRange(1, 120))
@click.option("--rounds", default=2, show_default=True, type=click.IntRange(1, 10),
              help="Turns of each generator, alternating.")
@click.option("--web-workers", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--gunicorn-args", default="", help="More gunicorn options, as for `bench`.")
@click.option("--pg-admin-url", default=lambda: os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG),
              show_default=DEFAULT_PG)
def floor_bench(connections: int, seconds: float, rounds: int, web_workers: int, gunicorn_args: str,
                pg_admin_url: str) -> None:
    """The floor app alone: bench's load generator against wrk (when installed), same server, same load."""
    has_wrk = shutil.which("wrk") is not None
    if not has_wrk:
        click.echo("wrk is not installed (apt-get install wrk): measuring bench's generator only")
    workdir = Path(tempfile.mkdtemp(prefix="interdept-floor-"))
    name, url = _create_database(pg_admin_url, "interdept_bench_floor")
    token = secrets.token_urlsafe(24)
    port = _free_port()
    proc = None
    try:
        setup_database(url, {1: token}, FLOOR_ITEMS)
        log = open(workdir / "floor.log", "wb")
        proc = subprocess.Popen(gunicorn_command(FLOOR_APP, port, web_workers, shlex.split(gunicorn_args)),
                                env={**os.environ, "FLOOR_DATABASE_URL": url}, stdout=log,
                                stderr=subprocess.STDOUT, cwd=str(ROOT))
        deadline = time.monotonic() + 30
        while not _http_ok(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise click.ClickException("the floor app did not start:\n"
                                           + (workdir / "floor.log").read_text(errors="replace")[-2000:])
            time.sleep(0.2)
        run_ours(port, token, web_workers, 2)  # warm every worker's imports and pool
        click.echo(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {connections} connections, "
                   f"{seconds:.0f} s a turn, gunicorn -w {web_workers} {gunicorn_args}".rstrip())
        click.echo("| generator | round | req/s | generator CPU ms/request | errors |")
        click.echo("|-----------|-------|-------|--------------------------|--------|")
        for i in range(1, rounds + 1):
            for label, measure in (("bench.loadgen", lambda: run_ours(port, token, connections, seconds)),
                                   *((("wrk", lambda: run_wrk(port, token, connections, seconds, workdir)),)
                                     if has_wrk else ())):
                r = measure()
                cpu = "—" if r["cpu_per_request"] is None else f"{r['cpu_per_request'] * 1000:.2f}"
                click.echo(f"| {label} | {i} | {r['rps']:.0f} | {cpu} | {r['errors']} |")
        click.echo(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(15)
        _drop_database(pg_admin_url, name)
        shutil.rmtree(workdir, ignore_errors=True)
