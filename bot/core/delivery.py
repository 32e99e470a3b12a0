"""Carry out queued deliveries (award roles and badges) through the platforms' Messengers.

Deliveries are rows in the store until a platform confirms them, so a crash, a restart or a
platform outage loses nothing: `deliver_pending` is simply run again (by the scheduler, or at
start-up). A "retry" answer (429, 5xx, timeout) leaves the row pending with one more attempt;
after `max_attempts` tries, or on "unreachable" (403, blocked, unknown user), the row is marked
unreachable and listed for admins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.core.ports import Messenger, SendResult
from bot.core.records import DeliveryRecord, MasteryStore

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    unreachable: int = 0
    skipped: int = 0  # no messenger for the platform in this process


async def _send(messenger: Messenger, d: DeliveryRecord) -> SendResult:
    payload = d.payload
    if d.kind in ("award-grant", "award-revoke"):
        return await messenger.apply_award(
            d.external_id, str(payload["stage"]), str(payload["title"]), d.kind == "award-grant"
        )
    if d.kind == "text":
        return await messenger.send_text(d.external_id, str(payload["text"]))
    return SendResult("unreachable", f"unknown delivery kind {d.kind!r}")


async def deliver_pending(
    store: MasteryStore,
    messengers: Mapping[str, Messenger],
    clock: Callable[[], datetime],
    *,
    max_attempts: int = MAX_ATTEMPTS,
    limit: int = 100,
) -> DeliveryReport:
    """Try every pending delivery (up to `limit`) whose platform has a messenger here."""
    delivered = retrying = unreachable = 0
    pending = await store.deliveries("pending")
    # The limit counts sends: a backlog for a platform served by another process must not starve this one.
    mine = [d for d in pending if d.platform in messengers]
    skipped = len(pending) - len(mine)
    for d in mine[:limit]:
        messenger = messengers[d.platform]
        try:
            result = await _send(messenger, d)
        except Exception as exc:  # a platform adapter bug must not stop the other deliveries
            result = SendResult("retry", f"{type(exc).__name__}: {exc}")
        if result.status == "sent":
            await store.mark_delivery(d.id, "delivered", clock())
            delivered += 1
        elif result.status == "unreachable" or d.attempts + 1 >= max_attempts:
            await store.mark_delivery(d.id, "unreachable", clock(), result.error)
            unreachable += 1
        else:
            await store.mark_delivery(d.id, "pending", clock(), result.error)
            retrying += 1
    return DeliveryReport(delivered, retrying, unreachable, skipped)
