"""Provider rate limits shared by every worker: the achieved rate stays at the cap."""

import threading
import time

import pytest
import redis

from campaigns.ratelimit import RateLimiter


def rate_achieved(limiters, messages_each, step=5):
    """Messages per second when every limiter sends `messages_each` in steps, concurrently."""

    def send(limiter):
        for _ in range(messages_each // step):
            limiter.acquire(step)

    threads = [threading.Thread(target=send, args=(limiter,)) for limiter in limiters]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(limiters) * messages_each / (time.perf_counter() - started)


def test_no_limit_never_waits():
    limiter = RateLimiter("email", 0)
    started = time.perf_counter()
    limiter.acquire(10_000)
    assert time.perf_counter() - started < 0.05


def test_one_process_keeps_to_the_cap():
    limiter = RateLimiter("email", 200)  # a burst of a tenth of a second's worth: 20
    rate = rate_achieved([limiter], 420)

    # 420 messages: the first 20 at once, the other 400 at 200 a second, in 2 s.
    assert rate == pytest.approx(210, rel=0.05)


@pytest.mark.redis
def test_two_workers_share_one_budget_through_redis(redis_url):
    redis.Redis.from_url(redis_url).delete("segcampaign:rate:sms-test")
    workers = [RateLimiter("sms-test", 100, redis_url=redis_url) for _ in range(2)]

    rate = rate_achieved(workers, 150)

    # Each alone would send 100 a second: together they still send about 100, not 200.
    assert rate == pytest.approx(100, rel=0.1)


@pytest.mark.parametrize("shared", [False, pytest.param(True, marks=pytest.mark.redis)])
def test_a_worker_that_oversleeps_its_wait_loses_no_budget(shared, redis_url, monkeypatch):
    # On a loaded host sleep() returns late. Waiting for a whole burst's tokens and then
    # oversleeping let the bucket fill past its capacity, and the tokens beyond it were lost.
    if shared:
        redis.Redis.from_url(redis_url).delete("segcampaign:rate:email-late")
    real_sleep = time.sleep
    monkeypatch.setattr("campaigns.ratelimit.time.sleep", lambda seconds: real_sleep(seconds * 1.5))
    limiter = RateLimiter("email-late", 200, redis_url=redis_url if shared else None)  # burst 20

    rate = rate_achieved([limiter], 420, step=20)

    assert rate == pytest.approx(210, rel=0.05)  # was ~140: 20 tokens every 0.15 s
