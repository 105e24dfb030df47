"""Product photos: the checks an upload passes before anything is stored, and the sized variants
made once when it is stored.

An upload is read by Pillow, never trusted by its name or its declared type: it must be a JPEG,
PNG, WebP or GIF (``photo_check``), no larger than ``PRODUCT_PHOTO_MAX_BYTES``, with at most
``PRODUCT_PHOTO_MAX_PIXELS`` pixels (checked from the header, before a pixel is decoded), and
Pillow's decompression-bomb guard turned from a warning into a refusal. It must also decode
whole: a truncated or corrupt file is refused. Each refusal is a ``ValidationError`` with a
message for the merchant; the admin's form shows it and nothing is written.

A stored photo (``Product.photo``, under ``products/<random>/``) gets WebP variants at the widths
of ``PHOTO_WIDTHS`` no wider than the photo itself (``product_photo_variants_make``), saved beside
it through the default storage (``STORAGES``: the file system or an S3 bucket), and listed on the
product (``photo_variants``: width, height, name). Pages build ``srcset`` from that list
(``orders.templatetags.shop.product_picture``); no page ever resizes.
"""

from __future__ import annotations

import io
import logging
import posixpath
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageOps, UnidentifiedImageError

from orders.models import Product

logger = logging.getLogger(__name__)

# Pillow format -> the extension the stored original gets (from its content, not its name).
PHOTO_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
# The catalog shows photos 160 px wide and the product page 280 px: 1x, 2x and 3x of both fit.
PHOTO_WIDTHS = (160, 320, 480, 640, 960)
WEBP_QUALITY = 82
NOT_AN_IMAGE = "This file is not a JPEG, PNG, WebP or GIF image (its content was checked)."


def photo_upload_body_limit() -> int:
    """The largest request the product form takes: the photo's limit, plus room for the other
    fields (``storefront.limits`` reads it before the body is read)."""
    return int(settings.PRODUCT_PHOTO_MAX_BYTES) + 1024 * 1024


@contextmanager
def _guarded() -> Iterator[None]:
    """Pillow's decompression-bomb warning (over ``Image.MAX_IMAGE_PIXELS``) becomes an error,
    as its error (over twice that) already is."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def photo_check(upload: IO[bytes] | Any) -> str:
    """Check an uploaded file (size, then content) and return its format's extension (``jpg``,
    ``png``, ``webp``, ``gif``). Raises ``ValidationError`` with the merchant's message; reads
    the file from its start and leaves it at its start."""
    size = getattr(upload, "size", None)
    limit = int(settings.PRODUCT_PHOTO_MAX_BYTES)
    if size is not None and size > limit:
        raise ValidationError(
            f"The photo is {filesizeformat(size)}: at most {filesizeformat(limit)} is accepted.",
            code="photo_too_large",
        )
    max_pixels = int(settings.PRODUCT_PHOTO_MAX_PIXELS)
    upload.seek(0)
    try:
        with _guarded(), Image.open(upload, formats=list(PHOTO_FORMATS)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ValidationError(
                    f"The photo is {width} x {height} pixels: at most {max_pixels:,} pixels "
                    "are accepted.",
                    code="photo_too_many_pixels",
                )
            _draft(image)
            image.load()  # decodes it whole: a truncated or corrupt file fails here
            extension = PHOTO_FORMATS[str(image.format)]
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError(
            "The photo has too many pixels to be opened safely.", code="photo_too_many_pixels"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, KeyError) as exc:
        raise ValidationError(NOT_AN_IMAGE, code="photo_not_an_image") from exc
    finally:
        upload.seek(0)
    return extension


def variant_widths(width: int) -> list[int]:
    """The widths made for a photo ``width`` pixels wide: each of ``PHOTO_WIDTHS`` below it, and
    the photo's own (capped at the largest)."""
    widths = [w for w in PHOTO_WIDTHS if w < width]
    return sorted({*widths, min(width, PHOTO_WIDTHS[-1])})


def _draft(image: Image.Image) -> None:
    """A JPEG is decoded at the smallest 1/2, 1/4 or 1/8 scale still at least as large as the
    largest variant: a 24-megapixel photo's variants take about a quarter of the time
    (``python -m bench.photos``), and the whole file is still read. Other formats are decoded as
    they are."""
    image.draft(None, (PHOTO_WIDTHS[-1], PHOTO_WIDTHS[-1]))


def _render_webp(image: Image.Image, width: int) -> tuple[bytes, int]:
    height = max(1, round(image.height * width / image.width))
    resized = image.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    resized.save(out, "WEBP", quality=WEBP_QUALITY, method=4)  # no EXIF: no camera, no place
    return out.getvalue(), height


def _photo_variants_store(name: str) -> list[dict[str, Any]]:
    """Open the stored photo ``name``, store its variants beside it, return their list. Deletes
    what it stored and raises if any step fails."""
    directory = posixpath.dirname(name)
    stored: list[dict[str, Any]] = []
    try:
        with default_storage.open(name, "rb") as source, _guarded(), Image.open(source) as raw:
            _draft(raw)
            image = ImageOps.exif_transpose(raw)  # as the camera was held
            image = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
            for width in variant_widths(image.width):
                data, height = _render_webp(image, width)
                saved = default_storage.save(f"{directory}/w{width}.webp", ContentFile(data))
                stored.append({"width": width, "height": height, "name": saved})
    except Exception:
        for variant in stored:
            default_storage.delete(variant["name"])
        raise
    return stored


def photo_files(*, name: str, variants: list[dict[str, Any]]) -> list[str]:
    return [n for n in [name, *(v.get("name", "") for v in variants or [])] if n]


def product_photo_variants_make(
    *, product: Product, replaced: tuple[str, list[dict[str, Any]]] | None = None
) -> Product:
    """After ``product.photo`` was saved (a new upload, or cleared): make and store its variants,
    record them on the product, and delete the files of the ``replaced`` photo (its name and
    variants) once the change is committed. A photo that can't be processed is deleted with
    whatever was made of it, and the error raised."""
    variants: list[dict[str, Any]] = []
    name = product.photo.name or ""
    if name:
        try:
            variants = _photo_variants_store(name)
        except Exception:
            logger.exception("Product %s: the photo could not be processed", product.pk)
            default_storage.delete(name)
            raise
    product.photo_variants = variants
    product.save(update_fields=["photo_variants", "updated_at"])
    if replaced is not None:
        old = photo_files(name=replaced[0], variants=replaced[1])
        current = set(photo_files(name=name, variants=variants))
        transaction.on_commit(lambda: _delete_files([n for n in old if n not in current]))
    return product


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # a photo left behind costs some bytes; the change is made
            logger.exception("A replaced product photo could not be deleted: %s", name)
