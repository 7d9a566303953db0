"""A Django login with django.contrib.auth, in one file.

    python3 app.py default   database sessions (login() cycles the key)
    python3 app.py signed    the signed_cookies session backend
"""

import os
import sys
import tempfile

from django.conf import settings

ENGINES = {
    "default": "django.contrib.sessions.backends.db",
    "signed": "django.contrib.sessions.backends.signed_cookies",
}

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.urandom(32).hex(),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(tempfile.mkdtemp(), "db.sqlite3"),
        }
    },
    SESSION_ENGINE=ENGINES[sys.argv[1] if len(sys.argv) > 1 else "default"],
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    USE_TZ=True,
)

import django  # noqa: E402

django.setup()

from django.contrib.auth import authenticate, login, logout  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.middleware.csrf import get_token  # noqa: E402
from django.shortcuts import redirect  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils.html import escape  # noqa: E402
from django.views.decorators.http import require_POST  # noqa: E402


def login_page(request, error=""):
    return HttpResponse(
        "<!doctype html><title>Log in</title>"
        + (f"<p>{escape(error)}</p>" if error else "")
        + '<form method="post" action="/login">'
        + f'<input type="hidden" name="csrfmiddlewaretoken" value="{get_token(request)}">'
        + '<input name="username"> <input name="password" type="password">'
        + "<button>Log in</button></form>"
    )


def index(request):
    return HttpResponse('<!doctype html><a href="/login">Log in</a>')


def login_view(request):
    if request.method == "POST":
        user = authenticate(
            request,
            username=request.POST.get("username", ""),
            password=request.POST.get("password", ""),
        )
        if user is None:
            return login_page(request, "Invalid username or password")
        login(request, user)
        return redirect("/profile")
    return login_page(request)


def profile(request):
    if not request.user.is_authenticated:
        return redirect("/login")
    return HttpResponse(
        "<!doctype html><title>Profile</title>"
        + f"<p>Welcome, {escape(request.user.username)}</p>"
        + '<form method="post" action="/logout">'
        + f'<input type="hidden" name="csrfmiddlewaretoken" value="{get_token(request)}">'
        + "<button>Log out</button></form>"
    )


@require_POST
def logout_view(request):
    logout(request)
    return redirect("/login")


urlpatterns = [
    path("", index),
    path("login", login_view),
    path("profile", profile),
    path("logout", logout_view),
]

if __name__ == "__main__":
    from django.contrib.auth.models import User
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    User.objects.create_user("alice", password="pw-secret-123")
    User.objects.create_user("mallory", password="pw-mallory-789")
    call_command("runserver", f"127.0.0.1:{os.environ['PORT']}", use_reloader=False, verbosity=0)
