"""Loads in threads: ordered per stream, and every failure named when they are awaited."""

from __future__ import annotations

import threading
import time

import pytest

from target_postgres_batch.loads import Loads, LoadsFailedError


def failing(message: str):
    def load() -> None:
        raise ValueError(message)

    return load


def test_every_failed_load_is_named_and_the_first_is_the_cause():
    loads = Loads(3)
    loads.submit("orders", failing("bad order"))
    loads.submit("fine", lambda: None)
    loads.submit("users", failing("bad user"))
    with pytest.raises(LoadsFailedError) as raised:
        loads.wait()
    said = str(raised.value)
    assert said.startswith("BATCH loads of 2 streams failed: ")
    assert "orders: ValueError: bad order" in said
    assert "users: ValueError: bad user" in said
    assert isinstance(raised.value.__cause__, ValueError)
    loads.wait()  # nothing is left pending: a later wait does not raise them again


def test_one_failed_load_raises_its_own_error():
    loads = Loads(2)
    loads.submit("orders", failing("bad order"))
    with pytest.raises(ValueError, match="bad order"):
        loads.wait({"orders"})


def test_a_streams_loads_run_in_order_and_others_beside_them():
    loads = Loads(2)
    done: list[str] = []
    slow_started = threading.Event()

    def slow() -> None:
        slow_started.set()
        time.sleep(0.2)
        done.append("a1")

    loads.submit("a", slow)
    slow_started.wait()
    loads.submit("b", lambda: done.append("b1"))  # another stream: not behind a1
    loads.submit("a", lambda: done.append("a2"))  # the same stream: after a1
    loads.wait()
    assert done.index("a1") < done.index("a2")
    assert done.index("b1") < done.index("a1")


def test_one_worker_loads_inline():
    loads = Loads(1)
    assert not loads.threaded
    done = []
    loads.submit("a", lambda: done.append(threading.current_thread().name))
    assert done == [threading.current_thread().name]
