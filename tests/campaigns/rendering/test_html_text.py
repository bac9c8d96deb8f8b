"""The text part generated from an email's HTML."""

from campaigns.rendering import html_to_text


def test_blocks_become_paragraphs_and_lines():
    html = (
        "<html><head><title>T</title><style>p { color: red }</style></head><body>"
        "<h1>Welcome</h1><p>First  paragraph\n spans\tlines.</p><div>A line</div><div>Another</div>"
        "<ul><li>One</li><li>Two</li></ul><p>Before<br>after</p><hr><p>End</p>"
        "<script>alert(1)</script></body></html>"
    )

    assert html_to_text(html) == (
        "Welcome\n\nFirst paragraph spans lines.\n\nA line\nAnother\n\n- One\n- Two\n\nBefore\nafter\n\n----\n\nEnd"
    )


def test_links_keep_their_urls_after_their_labels():
    html = (
        '<p><a href="https://shop.example.com/sale?a=1&amp;b=2">Shop now</a>, '
        '<a href="https://shop.example.com/">https://shop.example.com/</a>, '
        '<a href="mailto:help@shop.example.com">write to us</a>, '
        '<a href="#top">top</a>, <a href="https://x.example/"><img src="logo.png" alt="Logo"></a></p>'
    )

    assert html_to_text(html) == (
        "Shop now (https://shop.example.com/sale?a=1&b=2), https://shop.example.com/, "
        "write to us (help@shop.example.com), top, Logo (https://x.example/)"
    )


def test_entities_are_decoded_and_tables_read_in_rows():
    html = "<table><tr><td>Code</td><td>&euro;5 &amp; more</td></tr><tr><td>A&nbsp;B</td></tr></table>"

    assert html_to_text(html) == "Code €5 & more\nA\u00a0B"


def test_jinja_tags_pass_through_and_comments_are_dropped():
    html = (
        "<p>Hi {{ customer.first_name }}{# greeting #}</p>"
        "{% if offer.code %}<p>Code <b>{{ offer.code }}</b></p>{% endif %}"
        '<p><a href="{{ links.shop }}">Shop</a></p>'
        "<head>{% if x %}<title>x</title>{% endif %}</head>"
    )

    text = html_to_text(html)

    assert text == (
        "Hi {{ customer.first_name }}{% if offer.code %}\n\nCode {{ offer.code }}{% endif %}\n\n"
        "Shop ({{ links.shop }}){% if x %}{% endif %}"
    )


def test_link_urls_can_be_marked_for_tracking():
    html = '<a href="https://a.example/">A</a> <a href="https://b.example/">https://b.example/</a>'

    assert html_to_text(html, mark_links=True) == "A (\x02https://a.example/\x03) \x02https://b.example/\x03"
