from django.http import HttpResponse


def home(request, **kwargs):
    return HttpResponse("banq storefront")
