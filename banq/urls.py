app_name = "banq"
urlpatterns: list = []
