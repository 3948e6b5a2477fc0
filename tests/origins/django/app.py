"""Django (URL resolver, class-based views, runserver) with django-method-override's
middleware: `_method` in a POST body or the X-HTTP-Method-Override header."""
import json
import sys

from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="origins-test-not-a-secret",
    MIDDLEWARE=["method_override.middleware.MethodOverrideMiddleware"],
    INSTALLED_APPS=[],
)

from django.http import JsonResponse  # noqa: E402
from django.urls import path, re_path  # noqa: E402
from django.views import View  # noqa: E402


def answer(request, route, status=200):
    dispatched = {"method": request.method, "route": route, "framework": "django"}
    response = JsonResponse(dispatched, status=status)
    response["X-Dispatched"] = json.dumps(dispatched)
    # runserver (wsgiref) keeps no raw target: Django's own re-encoding of what it parsed.
    response["X-Target"] = request.get_full_path()
    return response


class Routed(View):
    route = None

    def respond(self, request, *args, **kwargs):
        return answer(request, self.route)

    def http_method_not_allowed(self, request, *args, **kwargs):
        return answer(request, None, 405)


class Contacts(Routed):
    route = "/v1/contacts"
    get = post = delete = Routed.respond


class Contact(Routed):
    route = "/v1/contacts/{id}"
    get = put = patch = delete = Routed.respond


class Reports(Routed):
    route = "/v1/reports/*"
    get = Routed.respond


urlpatterns = [
    path("v1/contacts", Contacts.as_view()),
    path("v1/contacts/<str:id>", Contact.as_view()),
    re_path(r"^v1/reports(?:/.*)?$", Reports.as_view()),
]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0], "runserver", "--noreload", f"127.0.0.1:{sys.argv[1]}"])
