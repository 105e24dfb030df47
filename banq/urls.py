from django.urls import path

from banq.views import GeneratePaymentLinkView, OrderConfirmView

app_name = "banq"

urlpatterns = [
    path("generate-payment-link", GeneratePaymentLinkView.as_view(), name="generate-payment-link"),
    path("generate-payment-link/", GeneratePaymentLinkView.as_view()),
    path("orders/<str:public_id>/confirm", OrderConfirmView.as_view(), name="order-confirm"),
    path("orders/<str:public_id>/confirm/", OrderConfirmView.as_view()),
]
