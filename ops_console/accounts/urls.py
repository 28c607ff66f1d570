from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from ops_console.ui.access import public

app_name = "accounts"
urlpatterns = [
    path("login/", public(auth_views.LoginView.as_view(redirect_authenticated_user=True)), name="login"),
    path("logout/", public(auth_views.LogoutView.as_view()), name="logout"),
    path("users/", views.users, name="users"),
    path("users/<int:user_id>/role", views.set_role, name="set_role"),
    path("tokens/", views.api_tokens, name="api_tokens"),
    path("tokens/<int:pk>/revoke", views.revoke_api_token, name="revoke_api_token"),
]
