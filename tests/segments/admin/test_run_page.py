"""A finished run's page as a marketer reads it: cards first, then sizes and movement, then the technical details."""

import json
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from segments import playbook, selectors
from segments.admin import run_page
from segments.models import Segment

from .conftest import run_url, segment_now

SNAKE_CASE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


def visible_text(html):
    """What a reader sees: no scripts, styles, comments or tags."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<!--.*?-->", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def card_colours(html):
    """Segment name -> the colour of its card."""
    return dict(
        (name, colour)
        for colour, name in re.findall(
            r'<article class="segcampaign-card" style="--segment-colour: (#[0-9a-f]{6})">\s*<h3>.*?<a href="[^"]*">([^<]+)</a>',
            html,
            re.S,
        )
    )


def figure(html, element_id):
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_the_segment_cards_come_first_and_the_technical_details_last(admin_client, segmented):
    html = admin_client.get(run_url(segmented)).content.decode()

    cards, sizes, movement = html.index('id="segments"'), html.index('id="sizes"'), html.index('id="movement"')
    technical = html.index('<details class="segcampaign-technical" id="technical-details">')
    assert cards < sizes < movement < technical
    for marker in ('id="plot-elbow"', 'id="plot-projection-2d"', 'id="plot-projection-3d"', "Quality scores",
                   'id="run-settings"', 'id="transitions"'):
        assert html.index(marker) > technical, marker
    # The technical details are closed until someone opens them.
    assert '<details class="segcampaign-technical" id="technical-details" open' not in html


def test_each_card_says_size_shares_who_they_are_and_what_to_do(admin_client, segmented):
    html = admin_client.get(run_url(segmented)).content.decode()

    for profile in segmented.profiles:
        segment = Segment.objects.get(key=profile["key"])
        action = playbook.suggested_action(segment.key, segment.name, profile)
        assert escape(segment.name) in html
        assert f"<dd>{profile['size']:,}</dd>" in html
        assert f"<dd>{round(profile['share'] * 100)}%</dd>" in html
        assert escape(profile["description"]) in html
        assert f"<strong>{escape(action.action)}</strong>: {escape(action.detail)}" in html
    assert "Share of revenue" in html and "Suggested action" in html and "Who they are" in html


def test_the_page_has_no_snake_case_and_no_segment_keys_in_what_it_shows(admin_client, segmented):
    text = visible_text(admin_client.get(run_url(segmented)).content.decode())

    assert SNAKE_CASE.findall(text) == []
    assert "Days since last order" in text and "Total spend (£)" in text and "Kept from last run" in text
    for key in Segment.objects.values_list("key", flat=True):
        assert f"({key})" not in text and f" {key} " not in text.replace(key.capitalize(), "")


def test_plotly_js_is_named_once_fetched_after_the_page_and_no_form_scripts(admin_client, segmented):
    html = admin_client.get(run_url(segmented)).content.decode()

    assert html.count("plotly.min.js") == 1
    assert re.search(r'<meta name="segcampaign-plotly-js" content="/static/plotly/plotly\.min\.js\?v=[0-9.]+">', html)
    assert not re.search(r"<script[^>]*plotly", html)  # no script tag: fetched after the load event
    assert 'window.addEventListener("load"' in html
    # The change form's scripts serve forms; this page has none (and its catalog was a request to the server).
    assert "/admin/jsi18n/" not in html and "jquery" not in html and "prepopulate" not in html
    assert 'name="_save"' not in html and "<fieldset" not in html


def test_a_segment_has_one_colour_on_its_card_and_in_every_figure(admin_client, segmented):
    html = admin_client.get(run_url(segmented)).content.decode()

    cards = card_colours(html)
    assert set(cards) == set(Segment.objects.filter(last_run=segmented).values_list("name", flat=True))
    bars = dict(
        (name.strip(), colour)
        for colour, name in re.findall(r'<tr><td><span class="segcampaign-swatch" style="--segment-colour: (#[0-9a-f]{6})"[^>]*></span>([^<]+)</td>\s*<td class="bar">', html)
    )
    assert bars == cards
    for trace in figure(html, "plot-projection-2d")["data"]:
        assert trace["marker"]["color"] == cards[trace["name"]]


def test_dates_and_settings_are_written_in_words(admin_client, segmented):
    text = visible_text(admin_client.get(run_url(segmented)).content.decode())

    assert "Segments asked for" in text and "Chosen automatically" in text
    assert "Customer figures used" in text and "Started by" in text
    assert re.search(r"Finished\s+\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}", text)


def test_an_older_run_without_revenue_shares_gets_them_from_one_query(admin_client, segmented):
    segmented.profiles = [{**p, "revenue_share": None} for p in segmented.profiles]
    segmented.save(update_fields=["profiles"])

    with CaptureQueriesContext(connection) as queries:
        shares = selectors.revenue_shares(segmented)
    assert len(queries) == 1  # read now: the request below empties the query log
    html = admin_client.get(run_url(segmented)).content.decode()

    assert abs(sum(shares.values()) - 1) < 1e-9
    champions = max(shares, key=shares.get)
    assert f"<dd>{round(shares[champions] * 100)}%</dd>" in html
    assert "<dt>Share of revenue</dt><dd>–</dd>" not in html


def test_figures_are_built_once_per_run_and_what_they_show(segmented, monkeypatch):
    built = []
    original = run_page.plots.run_figures
    monkeypatch.setattr(run_page.plots, "run_figures", lambda **kwargs: built.append(1) or original(**kwargs))

    run_page.context(segmented)
    run_page.context(segmented)
    renamed = Segment.objects.filter(last_run=segmented).first()
    renamed.name = "Renamed"
    renamed.save()
    run_page.context(segmented)

    assert len(built) == 2  # the rename shows in the figures' legends: built again
