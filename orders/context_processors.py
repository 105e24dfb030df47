from functools import cache

from django.conf import settings

from orders.selectors import cart_item_count


def storefront(request):
    """Store name, and the cart count for the header.

    ``cart_count`` is a callable: templates call it only when they show it, so pages that don't
    pay nothing, and pages that do pay one query however big the cart is.
    """
    session = getattr(request, "session", None)

    @cache
    def cart_count() -> int:
        return cart_item_count(session_key=session.session_key if session is not None else None)

    return {"STORE_NAME": settings.STORE_NAME, "cart_count": cart_count}
