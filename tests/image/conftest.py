"""What the QEMU image tests share: the host's broker the guest reports to, and a
subscriber to everything the box publishes from before it boots (what a fleet operator
watches). Module-scoped: each test module boots its own guest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .mqtt import TOPIC_BASE, Broker, Subscriber


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with Broker(tmp_path_factory.mktemp("mosquitto")) as server:
        yield server


@pytest.fixture(scope="module")
def mqtt(broker: Broker) -> Iterator[Subscriber]:
    subscriber = Subscriber(broker.port, f"{TOPIC_BASE}/#")
    yield subscriber
    subscriber.close()
