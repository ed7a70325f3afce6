"""map_in_order: results in order whatever finishes first, one torch thread per worker, clean stops."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
import torch

from core.image.workers import map_in_order


def test_results_come_in_order_when_later_items_finish_first() -> None:
    def slow_then_fast(item: int) -> tuple[int, int, str]:
        time.sleep(0.02 * (5 - item))
        return item, torch.get_num_threads(), threading.current_thread().name

    results = list(map_in_order(slow_then_fast, range(6), workers=3))
    assert [item for item, _, _ in results] == list(range(6))
    assert {threads for _, threads, _ in results} == {1}
    assert len({name for _, _, name in results}) > 1


def test_the_callers_torch_threads_are_restored_even_on_an_early_stop() -> None:
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        started: list[int] = []

        def record(item: int) -> int:
            started.append(item)
            time.sleep(0.01)
            return item

        with contextlib.closing(map_in_order(record, range(100), workers=2)) as results:
            assert next(results) == 0
        assert len(started) <= 5  # 2 × workers submitted, one more after the first result; the rest never ran
        assert torch.get_num_threads() == 3
        fresh: list[int] = []
        thread = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        assert fresh == [3]  # threads started later do not inherit the workers' single thread
    finally:
        torch.set_num_threads(previous)


def test_a_failing_item_raises_in_the_caller() -> None:
    def fail_on_two(item: int) -> int:
        if item == 2:
            raise OSError("cannot decode image 2")
        return item

    seen = []
    with pytest.raises(OSError, match="image 2"):
        for result in map_in_order(fail_on_two, range(5), workers=2):
            seen.append(result)
    assert seen == [0, 1]


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="workers"):
        list(map_in_order(str, range(3), workers=0))
