"""banq's widget page (`/widget/`), the iframe of the <checkout-widget> web component."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import requests

from tests.emulator.conftest import create_link

pytestmark = pytest.mark.integration

SHOP = "https://shop.example"
APP_CONFIG = '{"mode":"payment-flow","themeMode":"light"}'


@pytest.fixture
def link(banq_emulator, api_token) -> dict:
    return create_link(banq_emulator, api_token, funds=19.9, comment="Blue teapot").json()["data"]


def _component_query(payment_link: str, origin: str = SHOP) -> dict[str, str]:
    """The query the web component builds, in its order, with empty stored values."""
    return {
        "refreshToken": "",
        "settings": "",
        "origin": origin,
        "windowWidth": "1280",
        "windowHeight": "720",
        "appConfig": APP_CONFIG,
        "tips": "false",
        "paymentLink": payment_link,
    }


def _widget(banq_emulator, path: str = "/widget/", **params: str) -> requests.Response:
    return requests.get(f"{banq_emulator.url}{path}", params=params, timeout=5)


@pytest.mark.parametrize("path", ["/widget/", "/widget"])
def test_widget_page_shows_the_links_payment_page(banq_emulator, link, path):
    response = _widget(banq_emulator, path, **_component_query(link["url"]))

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "X-Frame-Options" not in response.headers
    page = response.text
    assert "Emulator Goods LLC" in page
    assert "$19.90" in page
    assert "Blue teapot" in page
    assert "Pay $19.90" in page
    code = link["url"].rsplit("/", 1)[1]
    assert f"/link/{code}/pay" in page
    assert f"/app/approve/{code}" in page


def test_widget_page_posts_styles_to_the_origin_only(banq_emulator, link):
    page = _widget(banq_emulator, **_component_query(link["url"])).text

    assert 'var ORIGIN="https://shop.example"' in page
    assert "window.parent.postMessage(msg,ORIGIN)" in page
    assert '"type": "styles"' in page
    assert "successPayment" not in page
    assert '"*"' not in page
    assert "'*'" not in page
    # The component's window size sizes the frame.
    assert '"width": 1280, "height": 720' in page


def test_widget_page_tolerates_a_bare_query_and_a_url_encoded_link(banq_emulator, link):
    encoded = f"{banq_emulator.url}/widget/?paymentLink={quote(link['url'], safe='')}"

    response = requests.get(encoded, timeout=5)

    assert response.status_code == 200
    assert "var ORIGIN=null" in response.text  # no origin: no messages at all
    assert "Pay $19.90" in response.text


def test_widget_page_finds_the_link_by_its_code_whatever_the_host(banq_emulator, link):
    code = link["url"].rsplit("/", 1)[1]

    response = _widget(banq_emulator, **_component_query(f"https://link.banq.com/{code}"))

    assert response.status_code == 200
    assert "Pay $19.90" in response.text


def test_widget_page_without_a_link_is_a_clear_400_page(banq_emulator):
    response = _widget(banq_emulator, origin=SHOP)

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert "No payment link" in response.text
    assert "Traceback" not in response.text
    # Still framed properly: it can be sized and closed.
    assert '"type": "styles"' in response.text
    assert "type:'close'" in response.text


@pytest.mark.parametrize(
    "payment_link",
    [
        "http://127.0.0.1:1/link/AAAAAAAAAAA",
        "not a url at all",
        "http://[::1",
        "https://link.banq.com/",
        "%%%",
    ],
)
def test_widget_page_with_an_unknown_or_broken_link_is_a_clear_404_page(
    banq_emulator, payment_link
):
    response = _widget(banq_emulator, **_component_query(payment_link))

    assert response.status_code == 404
    assert "Unknown link" in response.text
    assert "Pay $" not in response.text


@pytest.mark.parametrize(
    "origin",
    ["javascript:alert(1)", "*", "null", "https://shop.example/path", "ftp://shop.example", ""],
)
def test_widget_page_with_a_malformed_origin_posts_nothing(banq_emulator, link, origin):
    page = _widget(banq_emulator, **_component_query(link["url"], origin=origin)).text

    assert "var ORIGIN=null" in page
    assert "if(ORIGIN&&window.parent!==window)" in page  # every message goes through that gate
    assert page.count("postMessage(") == 1


def test_pay_in_the_widget_posts_styles_then_success_payment(banq_emulator, api_token, link):
    page = _widget(banq_emulator, **_component_query(link["url"])).text
    hidden = dict(re.findall(r"<input type='hidden' name='(\w+)' value='([^']*)'>", page))

    response = requests.post(
        f"{link['url']}/pay",
        data={**hidden, "email": "shopper@example.test", "password": "demo"},
        timeout=5,
    )

    assert hidden["widget"] == "1"
    assert hidden["origin"] == SHOP
    assert response.status_code == 200
    text = response.text
    assert "Payment complete" in text
    success = f'{{"type": "successPayment", "payload": {{"paymentId": "{link["id"]}"}}}}'
    assert success in text
    # styles is posted (banqSize() runs) before successPayment
    assert text.index("banqSize();") < text.index(success)
    assert 'var ORIGIN="https://shop.example"' in text
    assert banq_emulator.payment(link["id"])["status"] == "completed"


def test_decline_in_the_widget_posts_styles_and_no_success(banq_emulator, link):
    response = requests.post(
        f"{link['url']}/decline",
        data={"origin": SHOP, "widget": "1", "reason": "TierPlanLimits"},
        timeout=5,
    )

    assert response.status_code == 200
    assert '"type": "styles"' in response.text
    assert "successPayment" not in response.text
    assert "type:'close'" in response.text


def test_the_store_page_flow_posts_no_styles(banq_emulator, link):
    page = requests.get(link["url"], params={"origin": SHOP}, timeout=5).text
    paid = requests.post(
        f"{link['url']}/pay", data={"email": "a@b.test", "password": "x", "origin": SHOP}, timeout=5
    ).text

    assert '"type": "styles"' not in page
    assert '"type": "styles"' not in paid
    assert '"type": "successPayment"' in paid


def test_escape_in_the_framed_page_is_forwarded_as_close(banq_emulator, link):
    for page in (
        _widget(banq_emulator, **_component_query(link["url"])).text,
        requests.get(link["url"], params={"origin": SHOP}, timeout=5).text,
    ):
        assert "e.key==='Escape'" in page
        assert "banqClose()" in page


def test_head_of_the_widget_page_has_no_body(banq_emulator, link):
    response = requests.head(
        f"{banq_emulator.url}/widget/", params={"paymentLink": link["url"]}, timeout=5
    )

    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) > 1000
