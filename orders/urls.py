from django.urls import path

from orders import views

app_name = "orders"
urlpatterns = [
    path("", views.CatalogView.as_view(), name="catalog"),
    path("products/<slug:slug>/", views.ProductDetailView.as_view(), name="product-detail"),
    path("cart/", views.CartView.as_view(), name="cart"),
    path("cart/add/", views.CartAddView.as_view(), name="cart-add"),
    path("cart/update/", views.CartUpdateView.as_view(), name="cart-update"),
    path("cart/remove/", views.CartRemoveView.as_view(), name="cart-remove"),
    path("checkout/", views.CheckoutView.as_view(), name="checkout"),
    path("orders/<str:public_id>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:public_id>/status", views.OrderStatusView.as_view(), name="order-status"),
    path("orders/<str:public_id>/status/", views.OrderStatusView.as_view()),
    path("orders/<str:public_id>/cancel", views.OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<str:public_id>/cancel/", views.OrderCancelView.as_view()),
    path("orders/<str:public_id>/cancel-plan", views.PlanCancelView.as_view(), name="plan-cancel"),
    path("orders/<str:public_id>/cancel-plan/", views.PlanCancelView.as_view()),
]
