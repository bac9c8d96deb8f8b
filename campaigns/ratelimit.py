"""Provider rate limits kept by all workers together.

Celery's own `rate_limit` is per worker process, so two workers would send twice the rate. A
token bucket shared through Redis (one atomic Lua script per take) holds the budget for every
worker on every host; without Redis (the single-process embedded default) the bucket lives in
the process. `RateLimiter.acquire(n)` blocks until n messages may go.
"""

from __future__ import annotations

import threading
import time

import redis
from django.conf import settings

# KEYS[1] the bucket; ARGV: rate per second, capacity, tokens wanted, now (seconds).
# Takes the tokens at once, into debt if need be, and returns the seconds the taker must wait
# before using them (0: now). Reserving ahead keeps the rate when a taker oversleeps its wait:
# waiting for the tokens to be there instead lost every token beyond the small capacity that
# came while it slept (a loaded host sent 20% under the cap).
_TAKE = """
local rate, capacity, wanted, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or capacity, tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate) - wanted
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], 3600)
if tokens >= 0 then return '0' end
return tostring(-tokens / rate)
"""


class RateLimiter:
    """At most `rate` messages per second over time, in bursts of at most `burst`."""

    def __init__(self, name: str, rate: float, *, burst: float | None = None, redis_url: str | None = None):
        self.name, self.rate, self.redis_url = name, rate, redis_url or ""
        self.burst = burst if burst is not None else max(1.0, rate / 10)  # a tenth of a second's worth
        self._client = redis.Redis.from_url(redis_url) if redis_url else None
        self._script = self._client.register_script(_TAKE) if self._client else None
        self._lock = threading.Lock()
        self._tokens, self._at = self.burst, time.monotonic()

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0

    def acquire(self, n: int = 1) -> None:
        """Wait until `n` messages may be sent (taken in steps of at most the burst)."""
        if self.unlimited:
            return
        while n > 0:
            step = min(n, int(self.burst)) or 1
            wait = self._take(step)  # taken; usable after `wait` seconds
            if wait > 0:
                time.sleep(wait)
            n -= step

    def _take(self, n: int) -> float:
        if self._script is not None:
            # Redis' own clock, so that hosts whose clocks differ still share one budget.
            seconds, micros = self._client.time()
            now = seconds + micros / 1e6
            return float(self._script(keys=[f"segcampaign:rate:{self.name}"], args=[self.rate, self.burst, n, now]))
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= n
            return max(0.0, -self._tokens / self.rate)


_limiters: dict[str, RateLimiter] = {}


def limiter_for(channel: str) -> RateLimiter:
    """The shared limiter of a channel, from EMAIL_RATE_LIMIT / SMS_RATE_LIMIT."""
    rate = {"email": settings.EMAIL_RATE_LIMIT, "sms": settings.SMS_RATE_LIMIT}[channel]
    limiter = _limiters.get(channel)
    if limiter is None or (limiter.rate, limiter.redis_url) != (rate, settings.RATE_LIMIT_REDIS_URL):
        limiter = _limiters[channel] = RateLimiter(channel, rate, redis_url=settings.RATE_LIMIT_REDIS_URL)
    return limiter
