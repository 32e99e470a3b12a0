"""deliver_pending: queued award roles/badges reach the platforms, retry, or end as unreachable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.core.delivery import MAX_ATTEMPTS, DeliveryReport, deliver_pending
from bot.core.ports import Button, Messenger, SendResult
from bot.memory_store import MemoryStore
from tests.unit.test_progress import Clock, make_harness

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


class ScriptedMessenger:
    """A Messenger that answers from a script per external id and records every call.

    Script entries: "sent", "retry", "unreachable", or "raise" (the adapter itself fails). The
    last entry repeats once the script is used up.
    """

    def __init__(self, platform: str, script: dict[str, list[str]] | None = None) -> None:
        self.platform = platform
        self.script = script or {}
        self.calls: list[tuple[object, ...]] = []

    def _answer(self, external_id: str) -> SendResult:
        steps = self.script.get(external_id, ["sent"])
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        if step == "raise":
            raise ConnectionResetError("connection reset by peer")
        if step == "retry":
            return SendResult("retry", "429 Too Many Requests", retry_after=2.0)
        if step == "unreachable":
            return SendResult("unreachable", "403 Forbidden: bot was blocked by the user")
        return SendResult("sent")

    async def send_text(self, external_id: str, text: str) -> SendResult:
        self.calls.append(("text", external_id, text))
        return self._answer(external_id)

    async def send_buttons(self, external_id: str, text: str, buttons: Sequence[Button]) -> SendResult:
        self.calls.append(("buttons", external_id, text, tuple(buttons)))
        return self._answer(external_id)

    async def send_image(self, external_id: str, png: bytes, caption: str) -> SendResult:
        self.calls.append(("image", external_id, caption))
        return self._answer(external_id)

    async def apply_award(self, external_id: str, stage: str, title: str, grant: bool) -> SendResult:
        self.calls.append(("award", external_id, stage, title, grant))
        return self._answer(external_id)


def _messengers(*messengers: ScriptedMessenger) -> dict[str, Messenger]:
    return {m.platform: m for m in messengers}


async def _queue(
    store: MemoryStore, platform: str, external_id: str, kind: str = "award-grant", **payload: object
) -> int:
    learner = await store.learner_for(platform, external_id, T0)
    body = {"stage": "mlops", "title": "MLOps & Production Deployment", **payload}
    return await store.queue_delivery(
        learner, platform, external_id, kind, body, f"{kind}:{platform}:{external_id}", T0
    )


async def test_sent_deliveries_are_marked_delivered() -> None:
    store, clock = MemoryStore(), Clock(T0)
    grant = await _queue(store, "discord", "d1")
    revoke = await _queue(store, "telegram", "t1", kind="award-revoke")
    text = await _queue(store, "telegram", "t2", kind="text", text="Your re-check opens tomorrow")
    discord, telegram = ScriptedMessenger("discord"), ScriptedMessenger("telegram")
    clock.advance(timedelta(minutes=5))
    report = await deliver_pending(store, _messengers(discord, telegram), clock)
    assert report == DeliveryReport(delivered=3)
    assert discord.calls == [("award", "d1", "mlops", "MLOps & Production Deployment", True)]
    assert telegram.calls == [
        ("award", "t1", "mlops", "MLOps & Production Deployment", False),
        ("text", "t2", "Your re-check opens tomorrow"),
    ]
    delivered = await store.deliveries("delivered")
    assert [d.id for d in delivered] == [grant, revoke, text]
    assert {d.delivered_at for d in delivered} == {T0 + timedelta(minutes=5)}
    assert await store.deliveries("pending") == []
    assert await deliver_pending(store, _messengers(discord, telegram), clock) == DeliveryReport()
    assert len(discord.calls) == 1  # delivered rows are not sent again


async def test_retry_keeps_the_row_pending_until_max_attempts_then_unreachable() -> None:
    store, clock = MemoryStore(), Clock(T0)
    delivery = await _queue(store, "discord", "d1")
    discord = ScriptedMessenger("discord", {"d1": ["retry"]})
    for attempt in (1, 2):
        report = await deliver_pending(store, _messengers(discord), clock, max_attempts=3)
        assert report == DeliveryReport(retrying=1)
        (pending,) = await store.deliveries("pending")
        assert (pending.id, pending.attempts, pending.last_error) == (delivery, attempt, "429 Too Many Requests")
    report = await deliver_pending(store, _messengers(discord), clock, max_attempts=3)
    assert report == DeliveryReport(unreachable=1)
    (gone,) = await store.deliveries("unreachable")
    assert (gone.id, gone.attempts) == (delivery, 3)
    assert await store.deliveries("pending") == []
    assert len(discord.calls) == 3


async def test_the_default_is_five_tries_and_a_later_success_counts() -> None:
    store, clock = MemoryStore(), Clock(T0)
    await _queue(store, "telegram", "t1")
    await _queue(store, "telegram", "t2")
    telegram = ScriptedMessenger("telegram", {"t1": ["retry", "retry", "sent"], "t2": ["retry"]})
    reports = [await deliver_pending(store, _messengers(telegram), clock) for _ in range(MAX_ATTEMPTS)]
    assert MAX_ATTEMPTS == 5
    assert reports[:3] == [
        DeliveryReport(retrying=2),
        DeliveryReport(retrying=2),
        DeliveryReport(delivered=1, retrying=1),
    ]
    assert reports[3:] == [DeliveryReport(retrying=1), DeliveryReport(unreachable=1)]
    (done,) = await store.deliveries("delivered")
    (dead,) = await store.deliveries("unreachable")
    assert (done.external_id, done.attempts, dead.external_id, dead.attempts) == ("t1", 2, "t2", 5)


async def test_unreachable_is_final_at_once() -> None:
    store, clock = MemoryStore(), Clock(T0)
    delivery = await _queue(store, "telegram", "t1")
    telegram = ScriptedMessenger("telegram", {"t1": ["unreachable", "sent"]})
    assert await deliver_pending(store, _messengers(telegram), clock) == DeliveryReport(unreachable=1)
    (row,) = await store.deliveries("unreachable")
    assert (row.id, row.attempts, row.last_error) == (delivery, 1, "403 Forbidden: bot was blocked by the user")
    assert await deliver_pending(store, _messengers(telegram), clock) == DeliveryReport()
    assert len(telegram.calls) == 1


async def test_a_messenger_that_raises_is_retried_and_does_not_stop_the_others() -> None:
    store, clock = MemoryStore(), Clock(T0)
    broken = await _queue(store, "discord", "d1")
    await _queue(store, "discord", "d2")
    discord = ScriptedMessenger("discord", {"d1": ["raise", "sent"]})
    assert await deliver_pending(store, _messengers(discord), clock) == DeliveryReport(delivered=1, retrying=1)
    (pending,) = await store.deliveries("pending")
    assert pending.id == broken and pending.attempts == 1
    assert pending.last_error == "ConnectionResetError: connection reset by peer"
    assert await deliver_pending(store, _messengers(discord), clock) == DeliveryReport(delivered=1)
    assert await store.deliveries("pending") == []


async def test_platforms_without_a_messenger_are_skipped_and_left_pending() -> None:
    store, clock = MemoryStore(), Clock(T0)
    await _queue(store, "discord", "d1")
    telegram_row = await _queue(store, "telegram", "t1")
    telegram = ScriptedMessenger("telegram")
    assert await deliver_pending(store, _messengers(telegram), clock) == DeliveryReport(delivered=1, skipped=1)
    (left,) = await store.deliveries("pending")
    assert left.platform == "discord" and left.attempts == 0
    assert [d.id for d in await store.deliveries("delivered")] == [telegram_row]


async def test_a_backlog_for_another_platform_does_not_starve_this_one() -> None:
    """One process per platform: the Telegram process must reach its rows behind a Discord backlog."""
    store, clock = MemoryStore(), Clock(T0)
    for n in range(3):
        await _queue(store, "discord", f"d{n}")
    telegram_row = await _queue(store, "telegram", "t1")
    telegram = ScriptedMessenger("telegram")
    report = await deliver_pending(store, _messengers(telegram), clock, limit=2)
    assert report.delivered == 1
    assert [d.id for d in await store.deliveries("delivered")] == [telegram_row]
    assert len(await store.deliveries("pending", platform="discord")) == 3


async def test_limit_caps_the_sends_per_run() -> None:
    store, clock = MemoryStore(), Clock(T0)
    for n in range(3):
        await _queue(store, "telegram", f"t{n}")
    telegram = ScriptedMessenger("telegram")
    assert await deliver_pending(store, _messengers(telegram), clock, limit=2) == DeliveryReport(delivered=2)
    assert [c[1] for c in telegram.calls] == ["t0", "t1"]
    assert await deliver_pending(store, _messengers(telegram), clock, limit=2) == DeliveryReport(delivered=1)


async def test_an_unknown_delivery_kind_is_unreachable() -> None:
    store, clock = MemoryStore(), Clock(T0)
    await _queue(store, "telegram", "t1", kind="carrier-pigeon")
    telegram = ScriptedMessenger("telegram")
    assert await deliver_pending(store, _messengers(telegram), clock) == DeliveryReport(unreachable=1)
    (row,) = await store.deliveries("unreachable")
    assert row.last_error == "unknown delivery kind 'carrier-pigeon'" and telegram.calls == []


async def test_admin_grant_and_revoke_reach_every_linked_platform() -> None:
    store = MemoryStore()
    h = make_harness(store, store, store.learner_for)
    owner = await h.learner("discord", "d1")
    other = await h.learner("telegram", "t1")
    await h.service.redeem_link_code(other, await h.service.create_link_code(owner))
    grant = await h.service.grant(owner, "mlops", "root", "ran the MLOps workshop")
    discord, telegram = ScriptedMessenger("discord"), ScriptedMessenger("telegram")
    assert await deliver_pending(store, _messengers(discord, telegram), h.clock) == DeliveryReport(delivered=2)
    assert discord.calls == [("award", "d1", "mlops", grant.stage_title, True)]
    assert telegram.calls == [("award", "t1", "mlops", grant.stage_title, True)]
    h.clock.advance(timedelta(days=1))
    await h.service.revoke(owner, "mlops", "root", "wrong learner")
    assert await deliver_pending(store, _messengers(discord, telegram), h.clock) == DeliveryReport(delivered=2)
    assert discord.calls[-1] == ("award", "d1", "mlops", grant.stage_title, False)
    assert telegram.calls[-1] == ("award", "t1", "mlops", grant.stage_title, False)
