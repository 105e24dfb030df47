from django.conf import settings


def storefront(request):
    return {"STORE_NAME": settings.STORE_NAME}
