"""Acknowledgements leave in receive order, whatever order messages are settled in."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from collector.ingest.acks import AckOrder


class Message:
    def __init__(self, number: int) -> None:
        self.number = number


def test_a_message_waits_for_every_earlier_one() -> None:
    acked: list[int] = []
    order: AckOrder[Message] = AckOrder(lambda m: acked.append(m.number))
    first, second, third = Message(1), Message(2), Message(3)
    for message in (first, second, third):
        order.add(message)
    assert order.settle([third]) == 0  # quarantined at once, but 1 and 2 are still being written
    assert order.settle([second]) == 0
    assert acked == []
    assert order.settle([first]) == 3
    assert acked == [1, 2, 3]
    assert len(order) == 0


@given(st.integers(min_value=1, max_value=60), st.randoms(use_true_random=False))
def test_any_settling_order_acknowledges_each_once_in_receive_order(
    count: int, rng: random.Random
) -> None:
    acked: list[int] = []
    order: AckOrder[Message] = AckOrder(lambda m: acked.append(m.number))
    messages = [Message(n) for n in range(count)]
    for message in messages:
        order.add(message)
    shuffled = messages[:]
    rng.shuffle(shuffled)
    while shuffled:  # settled in random groups, as batches and quarantines are
        take = rng.randint(1, len(shuffled))
        group, shuffled = shuffled[:take], shuffled[take:]
        settled_so_far = len(acked)
        order.settle(group)
        assert acked == list(range(len(acked)))
        assert len(acked) >= settled_so_far
    assert acked == list(range(count))
    assert len(order) == 0
