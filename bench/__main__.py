"""`python -m bench` (`make bench`): the benchmarks, kept out of the installed service."""
from bench.harness import bench
from bench.soak import soak
from bench.sweep import sweep_bench

bench.add_command(sweep_bench)
bench.add_command(soak)
bench()
