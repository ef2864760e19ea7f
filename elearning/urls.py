from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.views import me

from .api import not_found
from .health import healthz
from .pages import home

api_patterns: list[URLPattern | URLResolver] = [
    path("auth/token/", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("me/", me, name="me"),
    path("", include("courses.urls")),
    path("", include("notifications.urls")),
    path("", include("chat.urls")),
    path("", include("presence.urls")),
    path("", include("videos.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("api/", include(api_patterns)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("videos.page_urls")),
    # Processed media is served by Django on the embedded default; production serves
    # it from Cloudinary or the proxy.
    path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}),
]

handler404 = not_found
