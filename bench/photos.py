"""``python -m bench.photos``: the time to make a product photo's sized variants
(``orders.photos``) from a large JPEG, decoding it at a reduced scale (``draft``, as the store
does) against decoding it whole, median of ``--rounds``; prints both and their ratio."""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time


def _variants_seconds(data: bytes, *, draft: bool) -> float:
    from PIL import Image, ImageOps

    from orders.photos import _draft, _render_webp, variant_widths

    started = time.perf_counter()
    with Image.open(io.BytesIO(data)) as raw:
        if draft:
            _draft(raw)
        image = ImageOps.exif_transpose(raw).convert("RGB")
        for width in variant_widths(image.width):
            _render_webp(image, width)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")
    os.environ.setdefault("DJANGO_READ_DOT_ENV", "false")
    import django

    django.setup()
    from PIL import Image

    buffer = io.BytesIO()
    photo = Image.effect_noise((args.width, args.height), 64).convert("RGB")
    photo.save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    whole = statistics.median(_variants_seconds(data, draft=False) for _ in range(args.rounds))
    drafted = statistics.median(_variants_seconds(data, draft=True) for _ in range(args.rounds))
    print(f"photo: {args.width} x {args.height} JPEG, {len(data) / 1e6:.1f} MB")
    print(f"variants, decoded whole:        {whole:.2f} s (median of {args.rounds})")
    print(f"variants, decoded at a scale:   {drafted:.2f} s (median of {args.rounds})")
    print(f"ratio: {whole / drafted:.1f}x faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
