from django.urls import path

from banq.views import GeneratePaymentLinkView

app_name = "banq"

urlpatterns = [
    path("generate-payment-link", GeneratePaymentLinkView.as_view(), name="generate-payment-link"),
    path("generate-payment-link/", GeneratePaymentLinkView.as_view()),
]
