"""`qos_shared.activity`: one line per interval, figures added up across threads, the logging
setup of the local processes."""

from __future__ import annotations

import logging
import threading

import pytest

from qos_shared.activity import Figures, IntervalLog, configure_logging, every_s_from_env


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def render(f: Figures) -> str | None:
    if f.idle and not f.gauges.get("lag"):
        return None
    return (
        f"n={f.count('n'):.0f} rate={f.rate('n'):.1f} peak={f.peaks.get('slow', 0):.1f} "
        f"lag={f.gauges.get('lag', 0):.0f} s={f.seconds:.0f}"
    )


def test_one_line_per_interval_with_the_interval_s_figures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    report = IntervalLog(logging.getLogger("t.one"), render, 30.0, clock=clock)
    caplog.set_level(logging.INFO, "t.one")
    for step in range(120):  # two minutes, a tick every second
        clock.now += 1.0
        report.add(n=2)
        report.peak(slow=step % 7)
        report.gauge(lag=step)
        report.tick()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4  # 120 s of 1 s ticks: one line per 30 s
    assert lines[0] == "n=60 rate=2.0 peak=6.0 lag=29 s=30"
    assert lines[-1] == "n=60 rate=2.0 peak=6.0 lag=119 s=30"


def test_an_idle_interval_is_no_line_and_flush_logs_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    report = IntervalLog(logging.getLogger("t.idle"), render, 10.0, clock=clock)
    caplog.set_level(logging.INFO, "t.idle")
    clock.now += 11
    assert report.tick() is True  # the interval is over, but nothing happened: no line
    assert caplog.records == []
    report.add(n=5)
    clock.now += 2
    assert report.tick() is False
    report.flush()
    assert [r.getMessage() for r in caplog.records] == ["n=5 rate=2.5 peak=0.0 lag=0 s=2"]


def test_counts_from_many_threads_add_up() -> None:
    got: list[Figures] = []

    def keep(f: Figures) -> None:
        got.append(f)

    report = IntervalLog(logging.getLogger("t.threads"), keep, 3600.0)

    def work() -> None:
        for _ in range(10_000):
            report.add(n=1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report.flush()
    assert got[0].count("n") == 40_000


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QOS_LOG_EVERY_S", raising=False)
    assert every_s_from_env() == 30.0
    monkeypatch.setenv("QOS_LOG_EVERY_S", "2.5")
    assert every_s_from_env() == 2.5
    for bad in ("0", "-1", "soon", "nan"):
        monkeypatch.setenv("QOS_LOG_EVERY_S", bad)
        with pytest.raises(ValueError, match="QOS_LOG_EVERY_S"):
            every_s_from_env()
    monkeypatch.setenv("QOS_LOG_LEVEL", "loud")
    with pytest.raises(ValueError, match="QOS_LOG_LEVEL"):
        configure_logging()
    monkeypatch.setenv("QOS_LOG_LEVEL", "info")
    assert configure_logging() == logging.INFO
    assert logging.getLogger("urllib3").level == logging.ERROR
    assert logging.getLogger("opensearch").level == logging.ERROR
