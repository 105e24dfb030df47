"""Product photos uploaded in the admin: checked from their content (not their name), a size
and a pixel limit, Pillow's decompression-bomb guard; a bad file is a form error and nothing is
stored; sized WebP variants made once, at upload; pages show them with ``srcset``, width and
height; the demo illustrations stay the fallback; media through ``STORAGES``."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from orders.models import Product
from orders.photos import PHOTO_WIDTHS, variant_widths
from storefront.limits import body_limit_for_path
from tests.factories import product_create
from tests.production.test_settings import clean_env, manage, settings_of

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/orders/product/add/"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


def image_bytes(size=(800, 600), fmt="PNG", mode="RGB", colour=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour if mode != "1" else 0).save(out, fmt)
    return out.getvalue()


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def product_form(photo: SimpleUploadedFile | None, **fields) -> dict:
    data = {
        "name": "Enamel mug",
        "slug": "enamel-mug",
        "description": "",
        "price": "12.50",
        "currency": "USD",
        "stock": "",
        "is_active": "on",
        "image": "",
        "frequency": "once",
        "periods": "",
        "plan_end_date": "",
        **fields,
    }
    if photo is not None:
        data["photo"] = photo
    return data


def test_an_uploaded_photo_is_stored_with_its_webp_sizes_made_once(admin_client, media_root):
    upload = SimpleUploadedFile("mug.png", image_bytes((800, 600)), content_type="image/png")

    response = admin_client.post(ADD_URL, product_form(upload))

    assert response.status_code == 302, response.content.decode()[-2000:]
    product = Product.objects.get(slug="enamel-mug")
    assert re.fullmatch(r"products/[0-9a-f]{32}/original\.png", product.photo.name)
    assert [v["width"] for v in product.photo_variants] == [160, 320, 480, 640, 800]
    for variant in product.photo_variants:
        with default_storage.open(variant["name"]) as f, Image.open(f) as image:
            assert image.format == "WEBP"
            assert image.size == (variant["width"], variant["height"])
            assert variant["height"] == round(600 * variant["width"] / 800)
    assert len(stored_files(media_root)) == 1 + 5


def test_a_large_jpeg_gets_full_quality_variants(admin_client):
    upload = SimpleUploadedFile("big.jpg", image_bytes((4000, 3000), "JPEG"), "image/jpeg")

    response = admin_client.post(ADD_URL, product_form(upload))

    assert response.status_code == 302
    product = Product.objects.get(slug="enamel-mug")
    assert [(v["width"], v["height"]) for v in product.photo_variants] == [
        (160, 120),
        (320, 240),
        (480, 360),
        (640, 480),
        (960, 720),
    ]
    with default_storage.open(product.photo.name) as f, Image.open(f) as original:
        assert original.size == (4000, 3000)  # kept as uploaded


def test_the_catalog_and_the_product_page_show_the_photo_with_srcset(admin_client, client):
    upload = SimpleUploadedFile("mug.jpg", image_bytes((1000, 500), "JPEG"), "image/jpeg")
    admin_client.post(ADD_URL, product_form(upload))
    product = Product.objects.get(slug="enamel-mug")
    urls = {v["width"]: default_storage.url(v["name"]) for v in product.photo_variants}

    catalog = client.get("/").content.decode()
    detail = client.get(product.get_absolute_url()).content.decode()

    img = re.search(r"<img [^>]*srcset=[^>]*>", catalog).group(0)
    expected = ", ".join(f"{urls[w]} {w}w" for w in (160, 320, 480, 640, 960))
    assert f'srcset="{expected}"' in img
    assert f'src="{urls[160]}"' in img
    assert 'width="160" height="80"' in img
    assert 'sizes="160px"' in img
    assert 'loading="lazy"' in img
    img = re.search(r"<img [^>]*srcset=[^>]*>", detail).group(0)
    assert f'src="{urls[320]}"' in img
    assert 'width="280" height="140"' in img
    assert 'alt="Enamel mug"' in img
    # The photo itself is served (by the store in development).
    served = client.get(urls[160])
    assert served.status_code == 200
    assert b"".join(served.streaming_content)[:4] == b"RIFF"


def test_a_product_without_a_photo_keeps_its_illustration(client):
    product_create(name="Demo mug", image="orders/products/mug.svg")

    html = client.get("/").content.decode()

    assert re.search(r'<img src="/static/orders/products/mug.svg" width="160" height="160"', html)
    assert "srcset" not in html


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.png", b"just some text, not a picture\n" * 20),
        ("fake.jpg", b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 50),
        ("page.gif", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"),
        ("cut.png", image_bytes((400, 400))[:300]),  # a PNG cut short
        ("cut.jpg", image_bytes((2400, 1800), "JPEG")[:2000]),  # a JPEG cut short
    ],
)
def test_a_file_that_is_not_an_image_is_a_form_error_and_nothing_is_stored(
    admin_client, media_root, name, content
):
    upload = SimpleUploadedFile(name, content, content_type="image/png")

    response = admin_client.post(ADD_URL, product_form(upload))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "not a JPEG, PNG, WebP or GIF image" in str(errors["photo"])
    assert not Product.objects.filter(slug="enamel-mug").exists()
    assert stored_files(media_root) == []


def test_an_image_in_another_format_is_refused(admin_client, media_root):
    upload = SimpleUploadedFile("photo.png", image_bytes((100, 100), "BMP"), "image/png")

    response = admin_client.post(ADD_URL, product_form(upload))

    assert "not a JPEG, PNG, WebP or GIF image" in str(
        response.context["adminform"].form.errors["photo"]
    )
    assert stored_files(media_root) == []


def test_a_photo_over_the_size_limit_is_refused_and_nothing_is_stored(
    admin_client, media_root, settings
):
    settings.PRODUCT_PHOTO_MAX_BYTES = 10_000
    data = image_bytes((300, 300), "BMP")  # 270 KB, whatever its type
    upload = SimpleUploadedFile("big.png", data, content_type="image/png")

    response = admin_client.post(ADD_URL, product_form(upload))

    assert response.status_code == 200
    error = str(response.context["adminform"].form.errors["photo"])
    assert "The photo is 263.7\xa0KB: at most 9.8\xa0KB is accepted." in error
    assert not Product.objects.filter(slug="enamel-mug").exists()
    assert stored_files(media_root) == []


def test_a_decompression_bomb_is_refused_before_it_is_decoded(admin_client, media_root):
    bomb = image_bytes((7_000, 7_000), "PNG", mode="1")  # 49 megapixels in a few KB
    assert len(bomb) < 100_000

    response = admin_client.post(ADD_URL, product_form(SimpleUploadedFile("b.png", bomb)))

    assert response.status_code == 200
    assert "at most 40,000,000 pixels" in str(response.context["adminform"].form.errors["photo"])
    assert stored_files(media_root) == []


def test_pillows_own_bomb_guard_is_an_error_not_a_warning(admin_client, media_root, settings):
    settings.PRODUCT_PHOTO_MAX_PIXELS = 10**10  # only Pillow's guard is left
    bomb = image_bytes((10_000, 10_000), "PNG", mode="1")  # over Image.MAX_IMAGE_PIXELS

    response = admin_client.post(ADD_URL, product_form(SimpleUploadedFile("b.png", bomb)))

    assert response.status_code == 200
    assert "too many pixels to be opened safely" in str(
        response.context["adminform"].form.errors["photo"]
    )
    assert stored_files(media_root) == []


def test_replacing_a_photo_deletes_the_old_files_after_the_commit(
    admin_client, media_root, django_capture_on_commit_callbacks
):
    admin_client.post(ADD_URL, product_form(SimpleUploadedFile("a.png", image_bytes((400, 300)))))
    product = Product.objects.get(slug="enamel-mug")
    old = {product.photo.name, *(v["name"] for v in product.photo_variants)}
    url = f"/admin/orders/product/{product.pk}/change/"

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, product_form(SimpleUploadedFile("b.webp", image_bytes((200, 100), "WEBP")))
        )

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.photo.name.endswith("/original.webp")  # named from its content
    assert [v["width"] for v in product.photo_variants] == [160, 200]
    remaining = {str(p.relative_to(media_root)) for p in stored_files(media_root)}
    assert remaining == {product.photo.name, *(v["name"] for v in product.photo_variants)}
    assert not old & remaining


def test_clearing_the_photo_goes_back_to_the_illustration(
    admin_client, client, media_root, django_capture_on_commit_callbacks
):
    admin_client.post(
        ADD_URL,
        product_form(
            SimpleUploadedFile("a.png", image_bytes((400, 300))), image="orders/products/mug.svg"
        ),
    )
    product = Product.objects.get(slug="enamel-mug")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            f"/admin/orders/product/{product.pk}/change/",
            product_form(None, image="orders/products/mug.svg", **{"photo-clear": "on"}),
        )

    product.refresh_from_db()
    assert not product.photo
    assert product.photo_variants == []
    assert stored_files(media_root) == []
    assert "/static/orders/products/mug.svg" in client.get("/").content.decode()


def test_variant_widths_never_upscale():
    assert variant_widths(100) == [100]
    assert variant_widths(160) == [160]
    assert variant_widths(500) == [160, 320, 480, 500]
    assert variant_widths(5000) == list(PHOTO_WIDTHS)


def test_the_product_form_takes_a_body_as_large_as_a_photo(settings):
    settings.PRODUCT_PHOTO_MAX_BYTES = 5 * 1024 * 1024

    assert body_limit_for_path("/admin/orders/product/add/") == 6 * 1024 * 1024
    assert body_limit_for_path("/admin/orders/product/12/change/") == 6 * 1024 * 1024
    assert (
        body_limit_for_path("/admin/orders/order/12/change/")
        == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    )


def test_media_go_to_an_s3_bucket_when_configured():
    env = clean_env(
        MEDIA_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="shop-media",
        AWS_S3_ENDPOINT_URL="https://s3.eu-central-1.example.net",
        AWS_ACCESS_KEY_ID="AKIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY="example-secret-access-key",
    )

    found = settings_of(env, "STORAGES", "CONTENT_SECURITY_POLICY")

    default = found["STORAGES"]["default"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    assert default["OPTIONS"]["bucket_name"] == "shop-media"
    assert default["OPTIONS"]["endpoint_url"] == "https://s3.eu-central-1.example.net"
    assert default["OPTIONS"]["querystring_auth"] is True
    img_src = found["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"]
    assert "https://s3.eu-central-1.example.net" in img_src


def test_media_stay_on_the_file_system_by_default():
    found = settings_of(clean_env(), "STORAGES", "MEDIA_URL", "MEDIA_SERVE")

    assert found["STORAGES"]["default"]["BACKEND"] == (
        "django.core.files.storage.FileSystemStorage"
    )
    assert found["MEDIA_URL"] == "/media/"
    assert found["MEDIA_SERVE"] is True  # emulator mode: the store serves them itself


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"MEDIA_STORAGE": "ftp"}, "storefront.E020"),
        ({"MEDIA_STORAGE": "s3"}, "storefront.E021"),
    ],
)
def test_a_media_storage_that_cant_work_is_an_error_of_check(env, error):
    result = manage("check", env=clean_env(**env))

    assert result.returncode != 0
    assert error in result.stderr + result.stdout


def test_with_an_s3_bucket_pages_link_the_photos_there_signed(client, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "shop-media",
                "endpoint_url": "https://s3.example.net",
                "region_name": "eu-central-1",
                "access_key": "AKIAEXAMPLE",
                "secret_key": "example-secret-access-key",
                "querystring_auth": True,
            },
        },
    }
    product = product_create(name="Bucket mug")
    Product.objects.filter(pk=product.pk).update(
        photo="products/abc/original.png",
        photo_variants=[
            {"width": 160, "height": 100, "name": "products/abc/w160.webp"},
            {"width": 320, "height": 200, "name": "products/abc/w320.webp"},
        ],
    )

    html = client.get("/").content.decode()

    img = re.search(r"<img [^>]*srcset=[^>]*>", html).group(0)
    signed = r"https://s3\.example\.net/shop-media/products/abc/w{}\.webp\?[^ \"]*X-Amz-Signature="
    assert re.search(signed.format(160), img)
    assert re.search(signed.format(320), img)
    assert "example-secret-access-key" not in html
