"""Benchmark harness: the same load sent straight to the mock upstream, through Bastion and through peers.

Run with ``python -m bench`` (``make bench``); see ``bench/README.md``.
"""
