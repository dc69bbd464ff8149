"""Benchmarks: ferstream beside the `fer` package on the same frames and cores (issue 6).

Each script runs on its own (``python bench/throughput.py --help``); ``bench/run_all.py``
runs them all and prints one Markdown table.
"""
