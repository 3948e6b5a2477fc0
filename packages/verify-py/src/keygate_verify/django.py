"""Django middleware. In settings.py, first in ``MIDDLEWARE``::

    MIDDLEWARE = ["keygate_verify.django.KeygateMiddleware", ...]
    KEYGATE_SIGNING_SECRETS = [os.environ["KEYGATE_SIGNING_SECRET"]]  # newest first
    # optional: KEYGATE_MAX_BODY_BYTES, KEYGATE_ALLOW_UNSIGNED_BODY, KEYGATE_HOST
    # in a view: request.keygate.identity.key_id

Preferred over wrapping ``wsgi.py``'s application in ``keygate_verify.wsgi``: it works the
same under WSGI and ASGI servers and in Django's test client, which calls no ``wsgi.py``.
The same checks and refusals as the WSGI middleware. The body is read through
``request.body`` once its declared length is within the bound (under WSGI, Django never reads
past CONTENT_LENGTH), so the view's ``request.body`` and ``request.POST`` are the very bytes
that were hashed. One ``ReplayCache`` per process.
"""

from django.conf import settings
from django.http import HttpResponse

from ._middleware import DEFAULT_MAX_BODY_BYTES, Checks, environ_headers, environ_target, problem
from .asgi import scope_target
from .errors import VerifyError


class KeygateMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.checks = Checks(
            settings.KEYGATE_SIGNING_SECRETS,
            max_body_bytes=getattr(settings, "KEYGATE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            allow_unsigned_body=getattr(settings, "KEYGATE_ALLOW_UNSIGNED_BODY", False),
            host=getattr(settings, "KEYGATE_HOST", None),
        )

    def __call__(self, request):
        meta = request.META
        # An ASGIRequest keeps its scope (with the raw path); a WSGIRequest's META is the environ.
        scope = getattr(request, "scope", None)
        try:
            signed = self.checks.check_headers(
                request.method,
                meta.get("HTTP_HOST", ""),
                scope_target(scope) if scope is not None else environ_target(meta),
                environ_headers(meta),
            )
            body = None
            if signed.body_signed:
                self.checks.declared_length(meta.get("CONTENT_LENGTH"))
                body = request.body
            request.keygate = self.checks.finish(signed, body)
        except VerifyError as error:
            _, _, payload = problem(error)
            response = HttpResponse(payload, status=error.status, content_type="application/problem+json")
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)
