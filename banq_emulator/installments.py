"""The installment clock (`--installment-clock SECONDS`, or the control API's installment-clock):
a background thread that charges the next installment of every paid recurring payment once per
clock period, a period being that many real seconds. Off by default: installments then come only
from `POST /_emulator/api/payments/<id>/next-installment` (and the dashboard's buttons).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from banq_emulator.state import EmulatorState

logger = logging.getLogger(__name__)


class InstallmentClock:
    def __init__(self, state: EmulatorState, fire: Callable[[str], None]):
        self.state = state
        self.fire = fire  # charges the next installment of one payment and queues its webhook
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="installment-clock", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        with self.state.lock:
            self.state.clock_changed.notify_all()

    def _run(self) -> None:
        state = self.state
        while True:
            with state.lock:
                if self.stopping.is_set():
                    return
                due, wait = state.clock_due(time.monotonic())
                if not due:
                    # Woken early by a new clock setting, a reset, a newly paid payment or stop.
                    state.clock_changed.wait(wait)
                    continue
            for payment_id in due:
                if self.stopping.is_set():
                    return
                try:
                    self.fire(payment_id)
                except Exception:  # one bad payment must not stop the clock for the others
                    logger.exception("Installment clock: payment %s failed", payment_id)
                    if self.stopping.wait(1.0):
                        return
