"""``/favicon.ico``: browsers ask for it on every page without an icon link (the admin, the error
pages); it is the shop's icon, not a 404."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_favicon_is_served_with_a_day_of_caching(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an .ico
    assert "max-age=86400" in response["Cache-Control"]


@pytest.mark.django_db
def test_favicon_takes_no_posts(client):
    assert client.post("/favicon.ico").status_code == 405
