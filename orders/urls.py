from django.urls import path

from orders import views

app_name = "orders"
urlpatterns = [
    path("", views.home, name="catalog"),
    path("products/<slug:slug>/", views.home, name="product-detail"),
    path("orders/<str:public_id>/", views.home, name="order-detail"),
]
