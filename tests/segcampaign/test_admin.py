"""The project's admin site: what every admin page refuses before it runs."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/segments/customer/?country=%00",
        "/admin/segments/segmentationrun/?status__exact=a%00b",
        "/admin/segments/importjob/?kind__exact=%00",
        "/admin/segments/segment/?algorithm__exact=%00",
        "/admin/segments/customer/?%00=1",
    ],
)
def test_a_nul_character_in_a_query_parameter_is_a_bad_request(admin_client, url):
    # PostgreSQL refuses NUL in text: the filter's query would end in a 500 page.
    response = admin_client.get(url)

    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_ordinary_filters_still_work(admin_client):
    assert admin_client.get("/admin/segments/customer/?country=Germany").status_code == 200
