"""Benchmarks: scale, incremental cost, backfill, the raw-engine floor and a peer baseline."""
