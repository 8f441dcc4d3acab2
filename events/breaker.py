"""A circuit breaker for the outbox relay's publishing."""

import time
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `cooldown` seconds
    lets one probe through (half-open); a success closes it again, a failure
    re-opens it with the cooldown doubled (up to `max_cooldown`)."""

    def __init__(
        self, threshold: int = 5, cooldown: float = 1.0, max_cooldown: float = 30.0
    ) -> None:
        self.threshold = threshold
        self.base_cooldown = cooldown
        self.max_cooldown = max_cooldown
        self._cooldown = cooldown
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if time.monotonic() - self._opened_at >= self._cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allows(self) -> bool:
        return self.state is not BreakerState.OPEN

    def wait_time(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._cooldown - (time.monotonic() - self._opened_at))

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._cooldown = self.base_cooldown

    def failed(self) -> None:
        self._failures += 1
        if self._opened_at is not None:  # the half-open probe failed
            self._cooldown = min(self.max_cooldown, self._cooldown * 2)
            self._opened_at = time.monotonic()
        elif self._failures >= self.threshold:
            self._opened_at = time.monotonic()
