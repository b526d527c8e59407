"""The arithmetic behind the benchmark figures: percentiles, merged repeats, changes in %."""
import os

from bench.common import CpuProbe, Result, change, closed_loop, comparison, merge, percentile


def result(per_second: float, latencies_ms: list[float], label: str = "0 stored", cpu=None) -> Result:
    latencies = sorted(x / 1000 for x in latencies_ms)
    return Result("create cin", 32, len(latencies), 0, 1.0, per_second,
                  percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000,
                  label=label, cse_cpu_us=cpu, latencies=latencies)


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0         # rank round(0.5 * 99) = 50 (0-based)
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) != percentile([], 0.5)   # nan


def test_merge_takes_the_best_pass_and_pools_latencies():
    runs = [result(1000, [1] * 99 + [40], cpu=100), result(3000, [2] * 100, cpu=120),
            result(2000, [3] * 100, cpu=110)]
    merged = merge(runs)
    assert merged.per_second == 3000            # best pass: interference only slows a pass down
    assert merged.per_second_median == 2000
    assert merged.cse_cpu_us == 100
    assert merged.requests == 300 and merged.runs == 3
    assert merged.per_second_runs == [1000, 3000, 2000]
    assert merged.p50_ms == 2.0
    assert merged.p99_ms == 3.0                  # the single 40 ms outlier is under the 99th rank
    assert "latencies" not in merged.summary()


def test_change_is_signed_percent_from_the_baseline():
    assert change(2000, 1500) == "-25.0%"
    assert change(100, 120) == "+20.0%"
    assert change(None, 5) == "-" and change(0, 5) == "-"


def test_comparison_pairs_rows_of_both_labels():
    text = comparison([result(2000, [1, 2], label="0 stored")], [result(1500, [1, 2], label="100,000 stored")])
    assert "0 stored" in text and "100,000 stored" in text and "-25.0%" in text


async def test_closed_loop_counts_failures_and_exceptions_without_stopping():
    async def operation(i: int):
        if i == 3:
            raise ConnectionResetError("peer went away")
        return True if i % 2 == 0 else f"odd {i}"

    outcome = await closed_loop("x", 4, 10, operation)
    assert outcome.requests == 10
    assert outcome.errors == 5                    # 1, 3 (exception), 5, 7, 9
    assert outcome.first_error in ("odd 1", "ConnectionResetError: peer went away")
    assert len(outcome.latencies) == 10


def test_cpu_probe_reads_this_process_and_tolerates_a_missing_one():
    assert CpuProbe(os.getpid()).seconds() >= 0
    assert CpuProbe(None).seconds() is None
    assert CpuProbe(2 ** 22 + 12345).seconds() is None
