"""The Postmark stand-in answers like Postmark's API (the rest is covered by test_email.py)."""

import time

import requests

from campaigns.channels.standin import PostmarkStandIn


def post(standin, path, payload, token=None):
    headers = {"X-Postmark-Server-Token": token or standin.token, "Accept": "application/json"}
    return requests.post(standin.url + path, json=payload, headers=headers, timeout=5)


def test_the_batch_endpoint_answers_each_message():
    with PostmarkStandIn(inactive={"gone@example.com"}) as standin:
        answer = post(standin, "email/batch", [{"To": "a@example.com"}, {"To": "Gone <gone@example.com>"}])

    assert answer.status_code == 200
    first, second = answer.json()
    assert (first["ErrorCode"], first["To"]) == (0, "a@example.com")
    assert second["ErrorCode"] == 406 and "gone@example.com" in second["Message"]


def test_a_wrong_token_is_refused_like_postmark_does():
    with PostmarkStandIn() as standin:
        answer = post(standin, "email", {"To": "a@example.com"}, token="wrong")

    assert (answer.status_code, answer.json()["ErrorCode"]) == (401, 10)


def test_answers_wait_for_the_latency():
    with PostmarkStandIn(latency=0.1) as standin:
        started = time.monotonic()
        post(standin, "email", {"To": "a@example.com"})

    assert time.monotonic() - started >= 0.1


def test_a_kept_alive_connection_gets_its_answers_without_waiting_for_delayed_acks():
    # Before the stand-in turned Nagle's algorithm off, each answer's body waited for the
    # client's delayed ACK: ~20-40 ms a request, which a benchmark took for the provider's.
    with PostmarkStandIn() as standin, requests.Session() as session:
        headers = {"X-Postmark-Server-Token": standin.token, "Accept": "application/json"}
        session.post(standin.url + "email", json={"To": "a@example.com"}, headers=headers, timeout=5)
        started = time.monotonic()
        for n in range(30):
            session.post(standin.url + "email", json={"To": f"c{n}@example.com", "HtmlBody": "x" * 4000},
                         headers=headers, timeout=5)
        elapsed = time.monotonic() - started

    assert len(standin.connections) == 1
    assert elapsed < 0.3  # 30 answers; with the delayed ACKs at least 0.6 s
