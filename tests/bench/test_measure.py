"""The benchmark's wrk parser, on output captured from wrk 4.1."""

import os

import pytest

from bench.measure import cpu_seconds, parse_wrk, table

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:18777/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.65ms  806.31us   7.01ms   70.39%
    Req/Sec     1.47k    24.10     1.52k    60.00%
  Latency Distribution
     50%  812.00us
     75%    3.13ms
     90%    3.68ms
     99%    4.78ms
  2936 requests in 2.00s, 3.16MB read
  Non-2xx or 3xx responses: 7
Requests/sec:   1466.61
Transfer/sec:      1.58MB
"""


def test_parse_wrk_reads_counts_and_percentiles() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests == 2936
    assert result.seconds == 2.0
    assert result.p50_ms == pytest.approx(0.812)
    assert result.p99_ms == pytest.approx(4.78)
    assert result.errors == 7
    assert result.rate == pytest.approx(1468.0)


def test_parse_wrk_refuses_output_without_latency() -> None:
    with pytest.raises(ValueError, match="50%"):
        parse_wrk("  10 requests in 1.00s, 1KB read\n")


def test_cpu_seconds_of_this_process_grows() -> None:
    before = cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))
    assert cpu_seconds(os.getpid()) > before


def test_table_aligns_columns() -> None:
    text = table(["a", "bbb"], [["1", "2"], ["333", "4"]])
    assert text.splitlines()[0] == "a    bbb"
    assert text.splitlines()[3] == "333    4"
