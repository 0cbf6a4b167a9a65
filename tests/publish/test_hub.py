"""The in-process hub: fan-out, bounded queues, replay and shutdown."""

from __future__ import annotations

from gateway.publish.hub import Hub
from gateway.publish.pg_relay import MAX_PAYLOAD_BYTES, asyncpg_dsn, pack


class TestHub:
    async def test_fan_out_to_every_subscriber(self) -> None:
        """Each subscriber receives each change, in order."""
        hub = Hub()
        a, b = hub.subscribe(), hub.subscribe()
        hub.publish("notification.created", {"id": 1})
        hub.publish("notification.read", {"id": 1})
        for sub in (a, b):
            kinds = [sub.queue.get_nowait().kind for _ in range(2)]  # type: ignore[union-attr]
            assert kinds == ["notification.created", "notification.read"]

    async def test_slow_subscriber_is_marked_lagged_not_waited_on(self) -> None:
        """A full queue never blocks the publisher; the subscriber is flagged to resync."""
        hub = Hub(queue_size=2)
        sub = hub.subscribe()
        for i in range(5):
            hub.publish("notification.created", {"id": i})
        assert sub.lagged
        assert sub.queue.qsize() == 2

    async def test_replay_after_returns_missed_changes(self) -> None:
        """Changes after a known id are replayed while buffered; older gaps return None."""
        hub = Hub(replay_size=3)
        for i in range(5):
            hub.publish("alert.incremented", {"id": i})
        assert [c.id for c in hub.replay_after(3) or []] == [4, 5]
        assert hub.replay_after(5) == []
        assert hub.replay_after(1) is None

    async def test_close_ends_every_stream(self) -> None:
        """Closing wakes every subscriber with end-of-stream, even with a full queue."""
        hub = Hub(queue_size=1)
        sub = hub.subscribe()
        hub.publish("x", {})
        hub.close()
        assert sub.queue.get_nowait() is None
        assert hub.subscriber_count == 0
        assert hub.subscribe().queue.get_nowait() is None

    async def test_only_local_changes_reach_local_listeners(self) -> None:
        """Relayed changes (with an origin) are not sent back out."""
        hub = Hub()
        local: list[str] = []
        every: list[str] = []
        hub.on_local_change(lambda c: local.append(c.kind))
        hub.on_change(lambda c: every.append(c.kind))
        hub.publish("mine", {})
        hub.publish("theirs", {}, origin="other")
        assert local == ["mine"]
        assert every == ["mine", "theirs"]


class TestRelayPacking:
    def test_payloads_stay_under_the_notify_limit(self) -> None:
        """Many changes are split into payloads PostgreSQL accepts."""
        hub = Hub()
        changes = [
            hub.publish("notification.created", {"id": i, "t": "x" * 200}) for i in range(200)
        ]
        payloads = pack("me", changes)
        assert len(payloads) > 1
        assert all(len(p.encode()) < MAX_PAYLOAD_BYTES for p in payloads)

    def test_oversized_change_is_cut_to_its_id(self) -> None:
        """A single change too large for NOTIFY still goes out, reduced to kind and id."""
        hub = Hub()
        [payload] = pack("me", [hub.publish("alert.created", {"id": 7, "x": "y" * 20_000})])
        assert '"truncated":true' in payload and '"id":7' in payload

    def test_dsn_drops_the_driver(self) -> None:
        """The SQLAlchemy URL becomes a libpq DSN, password kept for the connection."""
        dsn = asyncpg_dsn("postgresql+asyncpg://u:p@127.0.0.1:5432/db")
        assert dsn == "postgresql://u:p@127.0.0.1:5432/db"
