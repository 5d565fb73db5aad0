"""`python -m bench` (`make bench`): the benchmarks, kept out of the installed service."""
from bench.floor import floor_bench
from bench.harness import bench
from bench.lists import lists_bench
from bench.profile_path import profile_path
from bench.soak import soak
from bench.sweep import sweep_bench

bench.add_command(sweep_bench)
bench.add_command(floor_bench)
bench.add_command(lists_bench)
bench.add_command(profile_path)
bench.add_command(soak)
bench()
