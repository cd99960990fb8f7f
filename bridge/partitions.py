"""A bridge for every partition, always: the partitions' leases, and one Bridge per partition held.

Every `renew_s` this process, in one transaction, says it is alive (bridge_instances), renews the
leases it holds (recording whether each partition's bridge is connected to the broker) and reads
the table; livecomments.leases.plan then says which free partitions to claim and which one to
hand over (its fair share changed: a bridge joined). For each partition held, one
bridge.service.Bridge runs, with the partition's own MQTT client id, so the broker's persistent
session of that partition (what arrived while nobody held it) carries over to its new holder,
and connecting with that id sends a stale old holder off the broker.

A partition is handed over gracefully: its Bridge stops once its batch in flight has committed
and been acked, then the lease is released, and another instance claims it at its next round.
A partition is lost when its renewal finds the row changed, when the database cannot be reached
for nearly a lease's lifetime, or when a batch's fence (infra.leases.holds, in the batch's own
transaction) fails: its Bridge is stopped at once and commits nothing more. A Bridge that stops
on an error releases its lease, and this process leaves that partition to the others for a
moment. A SIGKILLed process renews nothing: its leases expire after `ttl_s` and the others claim
them at their next round (docs/operations.md, "Bridges and partitions").
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bridge.deps import Fence, LeaseLost, MetricsServer
from bridge.metrics import BridgeMetrics
from bridge.service import Bridge
from infra import leases as table
from livecomments.config import Partition, Settings
from livecomments.leases import View, plan

log = logging.getLogger("livecomments.bridge.partitions")

BridgeFactory = Callable[[Partition, Fence], Bridge]  # a Bridge for this partition, checking this fence, not started
AVOID_AFTER_FAILURE_S = 5.0  # a partition whose bridge failed here is left to the others this long
WARN_EVERY_S = 10.0  # the database unreachable: said at most this often


def instance_id() -> str:
    """Unique to this process (a restarted bridge is a new holder), readable in the table."""
    host = socket.gethostname().split(".")[0][:32] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


@dataclass
class Held:
    partition: Partition
    epoch: int
    bridge: Bridge


class PartitionBridges:
    """A Service (livecomments.service): the lease rounds on a thread of their own, and the
    Bridges of the partitions held. start() returns after the first round (the partitions free
    then are running); stop() hands every partition back."""

    name = "bridge"

    def __init__(self, settings: Settings, engine: Engine, make_bridge: BridgeFactory, metrics: BridgeMetrics,
                 serve_metrics: MetricsServer | None = None, me: str | None = None) -> None:
        fixed = settings.fixed_partition
        self.count = fixed.count if fixed is not None else settings.bridge_partitions
        self.only = fixed.index if fixed is not None else None  # a fixed partition: that one only
        self.me = me or instance_id()
        self.metrics = metrics
        self._ttl_s = settings.bridge_lease_ttl_s
        self._ttl_ms = int(settings.bridge_lease_ttl_s * 1000)
        self._interval_s = settings.bridge_lease_renew_s
        self._sessions = sessionmaker(engine)
        self._make_bridge = make_bridge
        self._serve_metrics = serve_metrics
        self._stop_metrics: Callable[[], None] | None = None
        self._held: dict[int, Held] = {}
        self._stopping: list[threading.Thread] = []  # Bridges of lost partitions, stopping
        self._avoid: dict[int, float] = {}  # partition -> monotonic time until which it is not taken
        self._renewed_at = float("-inf")  # monotonic time at the start of the last renewal that went through
        self._conflict: str | None = None
        self._warned_at = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None

    # -- the Service -----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the partition leases start once")
        self._stop.clear()
        if self._serve_metrics is not None:
            self._stop_metrics = self._serve_metrics(self.metrics.registry)
        try:
            with self._sessions.begin() as session:
                table.ensure_partitions(session, self.count)
            self._round()
        except SQLAlchemyError as exc:
            self._shutdown()
            raise RuntimeError(f"the bridge cannot reach the database: {exc}") from exc
        log.info("bridge instance %s: %s", self.me,
                 f"partition {self.only}/{self.count} only" if self.only is not None
                 else f"a fair share of {self.count} partition{'s' if self.count != 1 else ''}")
        self._thread = threading.Thread(target=self._main, name="bridge-leases", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join()
        elif self._thread is None:
            self._shutdown()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def held(self) -> dict[int, int]:
        """The partitions held now whose bridge runs, and their epochs."""
        return {p: h.epoch for p, h in list(self._held.items()) if h.bridge.is_alive()}

    def _main(self) -> None:
        try:
            next_round = time.monotonic() + self._interval_s
            while not self._stop.wait(max(0.0, next_round - time.monotonic())):
                next_round = time.monotonic() + self._interval_s
                self._round()
        except BaseException as exc:  # noqa: BLE001 - kept for is_alive(); the supervisor stops the process
            self.failure = exc
            log.exception("the bridge's partition leases stopped on an error")
        finally:
            self._shutdown()

    # -- one round -------------------------------------------------------------------

    def _round(self) -> None:
        now = time.monotonic()
        self._reap(now)
        view = self._renew(now)
        if view is None:
            return
        for partition, until in list(self._avoid.items()):
            if until <= now:
                del self._avoid[partition]
        decided = plan(view, self.me, self.count, self.only, avoid=set(self._avoid))
        if decided.conflict != self._conflict:
            self._conflict = decided.conflict
            if decided.conflict is not None:
                log.error("bridge instance %s takes no partition: %s", self.me, decided.conflict)
        for partition in decided.release:
            self._hand_over(partition)
        for partition in decided.take:
            if self._stop.is_set():
                break
            if time.monotonic() - self._renewed_at > self._interval_s:  # a slow start: renew the others first
                self._renew(time.monotonic())
            self._take(partition)
        self.metrics.partitions_held.set(len(self._held))

    def _renew(self, now: float) -> View | None:
        """Heartbeat, renewals and the table, in one transaction; None if the database failed."""
        held = {p: (h.epoch, h.bridge.is_connected()) for p, h in self._held.items()}
        try:
            with self._sessions.begin() as session:
                if self.only is None:
                    table.heartbeat(session, self.me, self.count, self._ttl_ms)
                kept = table.renew(session, self.me, held, self._ttl_ms)
                view = table.read_view(session, self.count)
        except SQLAlchemyError as exc:
            self._unreachable(now, exc)
            return None
        self._renewed_at, self._warned_at = now, float("-inf")
        for partition in sorted(set(held) - kept):
            self._lose(partition, "its lease was taken over")
        return view

    def _unreachable(self, now: float, exc: SQLAlchemyError) -> None:
        if now - self._warned_at >= WARN_EVERY_S:  # not every round of an outage
            self._warned_at = now
            log.warning("bridge instance %s could not renew its leases: %s", self.me, exc)
        if self._held and now - self._renewed_at >= self._ttl_s - self._interval_s:
            for partition in sorted(self._held):  # another instance may take them any moment now
                self._lose(partition, "the database was unreachable for nearly a lease's lifetime")

    def _reap(self, now: float) -> None:
        """Partitions whose Bridge stopped on its own: a lost lease (the fence), or an error."""
        for partition, held in list(self._held.items()):
            if held.bridge.is_alive():
                continue
            del self._held[partition]
            if isinstance(held.bridge.failure, LeaseLost):  # its batch's fence found the row changed
                self.metrics.lease_changes.labels("lost").inc()
            else:
                log.error("the bridge of partition %s stopped on its own; its lease is released", held.partition)
                self._avoid[partition] = now + AVOID_AFTER_FAILURE_S
            self._release(held)  # if the row is still this epoch's (a no-op after a takeover)

    def _lose(self, partition: int, why: str) -> None:
        """Stop the partition's Bridge at once, without waiting for it here: its batch in flight
        fails its fence (or commits before the takeover does, which waits for it)."""
        held = self._held.pop(partition)
        log.warning("bridge instance %s lost partition %s (epoch %d): %s; its bridge stops now",
                    self.me, held.partition, held.epoch, why)
        self.metrics.lease_changes.labels("lost").inc()
        stopping = threading.Thread(target=held.bridge.stop, name=f"bridge-stop-{partition}", daemon=True)
        stopping.start()
        self._stopping = [t for t in self._stopping if t.is_alive()] + [stopping]

    def _hand_over(self, partition: int) -> None:
        """Gracefully: the Bridge commits and acks its batch in flight and stops, then the lease goes."""
        held = self._held.pop(partition)
        log.info("bridge instance %s hands partition %s over (over its fair share)", self.me, held.partition)
        held.bridge.stop()
        if self._release(held):
            self.metrics.lease_changes.labels("released").inc()

    def _release(self, held: Held) -> bool:
        try:
            with self._sessions.begin() as session:
                return table.release(session, self.me, held.partition.index, held.epoch)
        except SQLAlchemyError as exc:
            log.warning("could not release partition %s (it expires on its own): %s", held.partition, exc)
            return False

    def _take(self, index: int) -> None:
        try:
            with self._sessions.begin() as session:
                epoch = table.claim(session, self.me, index, self.count, self._ttl_ms)
        except SQLAlchemyError as exc:
            log.warning("could not claim partition %d/%d: %s", index, self.count, exc)
            return
        if epoch is None:
            return  # another instance was quicker
        partition = Partition(index, self.count)
        bridge = self._make_bridge(partition, self._fence(index, epoch))
        held = Held(partition, epoch, bridge)
        try:
            bridge.start()
        except RuntimeError:
            log.exception("the bridge of partition %s did not start; its lease is released", partition)
            self._avoid[index] = time.monotonic() + AVOID_AFTER_FAILURE_S
            self._release(held)
            return
        self._held[index] = held
        self.metrics.lease_changes.labels("taken").inc()
        log.info("bridge instance %s took partition %s (epoch %d)", self.me, partition, epoch)

    def _fence(self, index: int, epoch: int) -> Fence:
        me, count = self.me, self.count

        def fence(session: Session) -> None:
            if not table.holds(session, me, index, epoch):
                raise LeaseLost(f"the lease of partition {index}/{count} (epoch {epoch}) is no longer this bridge's")

        return fence

    # -- stopping --------------------------------------------------------------------

    def _shutdown(self) -> None:
        """Every Bridge stops (its batch in flight committed), then the leases are handed back."""
        for partition in sorted(self._held):
            held = self._held[partition]
            try:
                held.bridge.stop()
            except Exception:  # noqa: BLE001 - logged; the others still stop
                log.exception("stopping the bridge of partition %s failed", held.partition)
        self._held.clear()
        try:
            with self._sessions.begin() as session:
                table.leave(session, self.me)
        except SQLAlchemyError as exc:
            log.warning("could not hand the leases back (they expire on their own): %s", exc)
        for stopping in self._stopping:
            stopping.join()
        self.metrics.partitions_held.set(0)
        if self._stop_metrics is not None:
            self._stop_metrics()
            self._stop_metrics = None
