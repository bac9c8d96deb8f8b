"""Benchmark: render personalised HTML emails and SMS from one compiled template.

Prints messages per second per core (CPU time of this single-threaded process, so other
work on a shared machine does not count against it; wall-clock rates are printed too; the
median of --repeat measurements, and the best, which is what the code does when it has
the core to itself) for

- an HTML email (subject, HTML and a text part generated from the HTML; every link rewritten
  into a tracked link; the List-Unsubscribe headers) and an SMS (opt-out text appended,
  tracked link, GSM-7/UCS-2 length), each rendered from a template compiled once;
- the same, compiling the template for every message, measured in the same run.

Pure: no database, no Django.

    python bench/render.py [--messages N] [--repeat R]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from campaigns.rendering import (  # noqa: E402 (after the path is set)
    CustomerData,
    OfferData,
    SegmentData,
    ShopData,
    compile_template,
    message_context,
)

SUBJECT = "{{ customer.first_name }}, {{ offer.discount }} off your next order at {{ shop.name }}"

# A typical marketing email: table layout, inline styles, a logo, a conditional block, three
# product cards, a footer with social links: 11 distinct tracked links, 3.5 KB rendered.
HTML = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{ shop.name }}</title>
<style>
body { margin: 0; background: #f4f4f4; font-family: Helvetica, Arial, sans-serif; color: #222; }
.wrap { width: 100%; background: #f4f4f4; } .card { max-width: 600px; margin: 0 auto; background: #fff; }
.btn { display: inline-block; background: #0a7c59; color: #fff; padding: 14px 24px; border-radius: 4px;
       text-decoration: none; font-weight: bold; } .muted { color: #888; font-size: 12px; }
</style></head>
<body><table class="wrap" width="100%" cellpadding="0" cellspacing="0" role="presentation"><tr><td align="center">
<table class="card" width="600" cellpadding="24" cellspacing="0" role="presentation">
<tr><td><a href="https://shop.example.com/?utm_source=email&amp;utm_medium=campaign">
<img src="https://shop.example.com/static/logo.png" width="160" alt="{{ shop.name }}"></a></td></tr>
<tr><td>
<h1 style="font-size:24px;margin:0 0 16px">Hello {{ customer.first_name|default('there', true) }},</h1>
<p style="font-size:16px;line-height:24px">You are one of our {{ segment.name|lower }}: {{ customer.frequency }} orders
and {{ '%.2f'|format(customer.monetary) }} spent with {{ shop.name }} so far. Thank you for shopping with us.</p>
{% if customer.frequency > 5 %}
<p style="font-size:16px;line-height:24px">As a thank-you for your loyalty, here is <strong>{{ offer.discount }}</strong>
off everything in the new collection.</p>
{% else %}
<p style="font-size:16px;line-height:24px">We would love to see you again: here is <strong>{{ offer.discount }}</strong>
off your next order.</p>
{% endif %}
<p style="font-size:16px;line-height:24px">Use the code <strong style="letter-spacing:1px">{{ offer.code }}</strong>
at checkout before {{ offer.expires_at }}.</p>
<p style="text-align:center;margin:32px 0">
<a class="btn" href="https://shop.example.com/new?utm_source=email&amp;utm_campaign={{ segment.key }}">Shop the new collection</a></p>
<table width="100%" cellpadding="8" cellspacing="0" role="presentation"><tr>
<td width="33%" align="center" style="font-size:14px"><a href="https://shop.example.com/p/linen-shirt?utm_source=email">
<img src="https://shop.example.com/static/p/linen-shirt.jpg" width="160" alt="Linen shirt"></a><br>
<a href="https://shop.example.com/p/linen-shirt?utm_source=email" style="color:#222">Linen shirt</a><br>£45</td>
<td width="33%" align="center" style="font-size:14px"><a href="https://shop.example.com/p/canvas-tote?utm_source=email">
<img src="https://shop.example.com/static/p/canvas-tote.jpg" width="160" alt="Canvas tote"></a><br>
<a href="https://shop.example.com/p/canvas-tote?utm_source=email" style="color:#222">Canvas tote</a><br>£25</td>
<td width="33%" align="center" style="font-size:14px"><a href="https://shop.example.com/p/wool-scarf?utm_source=email">
<img src="https://shop.example.com/static/p/wool-scarf.jpg" width="160" alt="Wool scarf"></a><br>
<a href="https://shop.example.com/p/wool-scarf?utm_source=email" style="color:#222">Wool scarf</a><br>£30</td>
</tr></table>
<p style="font-size:14px;line-height:20px"><a href="https://shop.example.com/sale">See the sale</a> &middot;
<a href="https://shop.example.com/account/orders">Your orders</a> &middot;
<a href="https://shop.example.com/help">Help</a></p>
</td></tr>
<tr><td class="muted" align="center"><a href="https://instagram.com/exampleshop">Instagram</a> &middot;
<a href="https://facebook.com/exampleshop">Facebook</a> &middot; <a href="https://pinterest.com/exampleshop">Pinterest</a></td></tr>
<tr><td class="muted">You receive this email because you bought from {{ shop.name }}.
If you would rather not hear from us, <a href="{{ links.unsubscribe }}">unsubscribe</a> with one click.<br>
{{ shop.name }}, 1 High Street, London</td></tr>
</table></td></tr></table></body></html>"""

SMS = (
    "{{ shop.name }}: hi {{ customer.first_name }}, {{ offer.discount }} off with code {{ offer.code }} "
    "until {{ offer.expires_at }}: {{ links.shop }}"
)

FIRST_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Dennis", "Frances", "Ken"]


def contexts(count: int, seed: int = 1) -> list[dict]:
    """Distinct recipients sharing one segment, offer and shop, as a campaign run has them."""
    rng = random.Random(seed)
    segment = SegmentData(name="Champions", description="Buy often, spend most", key="champions")
    offer = OfferData(code="VIP10", discount="10%", expires_at="31 December 2026")
    shop = ShopData(name="Example Shop")
    return [
        message_context(
            customer=CustomerData(
                first_name=rng.choice(FIRST_NAMES),
                last_name="Smith",
                email=f"customer{i}@example.com",
                phone=f"+4477009{i % 100000:05d}",
                country="GB",
                recency_days=rng.randint(1, 400),
                frequency=rng.randint(1, 20),
                monetary=round(rng.uniform(10, 2000), 2),
                r_score=rng.randint(1, 5),
                f_score=rng.randint(1, 5),
                m_score=rng.randint(1, 5),
            ),
            segment=segment,
            offer=offer,
            links={"unsubscribe": f"https://shop.example.com/u/{i:08d}-signature", "shop": "https://shop.example.com/"},
            shop=shop,
        )
        for i in range(count)
    ]


def track(url: str, index: int) -> str:
    # The Django side signs (message id, link index); the benchmark only formats the URL.
    return f"https://shop.example.com/t/0123456789abcdef/{index}"


def rate(render, recipients: list[dict]) -> tuple[float, float]:
    """(messages per CPU second, messages per wall-clock second)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for context in recipients:
        render(context)
    return len(recipients) / (time.process_time() - cpu), len(recipients) / (time.perf_counter() - wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=30_000, help="messages per measurement (compiled once)")
    parser.add_argument("--repeat", type=int, default=5, help="measurements per figure; the median is printed")
    args = parser.parse_args()
    recipients = contexts(args.messages)
    few = recipients[: max(args.messages // 100, 200)]

    email = compile_template("email", subject=SUBJECT, html=HTML)
    sms = compile_template("sms", body=SMS)
    sample = email.render(recipients[0], track=track)
    text = sms.render(recipients[0], track=track)
    html_size, text_size = len(sample.html), len(sample.text)
    print(f"email: {html_size:,} characters of HTML, {text_size:,} of text, {len(sample.links)} tracked links")
    print(f"sms: {text.length}")

    cases = {
        "HTML email, compiled once": lambda c: email.render(c, track=track),
        "HTML email, compiled per message": lambda c: compile_template("email", subject=SUBJECT, html=HTML).render(
            c, track=track
        ),
        "SMS, compiled once": lambda c: sms.render(c, track=track),
        "SMS, compiled per message": lambda c: compile_template("sms", body=SMS).render(c, track=track),
    }
    figures = {}
    for name, render in cases.items():
        batch = few if "per message" in name else recipients
        runs = [rate(render, batch) for _ in range(args.repeat)]
        cpu = statistics.median(r[0] for r in runs)
        best = max(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        figures[name] = cpu
        print(
            f"{name:34s} {cpu:>9,.0f} /s per core (best {best:,.0f})   "
            f"{wall:,.0f} /s wall clock   {len(batch):,} messages x {args.repeat}"
        )

    for channel, target in (("HTML email", 15_000), ("SMS", 50_000)):
        once, each = figures[f"{channel}, compiled once"], figures[f"{channel}, compiled per message"]
        verdict = "meets" if once >= target else "MISSES"
        print(f"{channel}: {once / each:,.0f}x faster than compiling per message; {verdict} the {target:,}/s target")


if __name__ == "__main__":
    main()
