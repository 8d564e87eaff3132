"""Benchmarks (``make bench``): results as tables, with ratios against a
baseline measured in the same run, because this machine is shared and noisy."""
