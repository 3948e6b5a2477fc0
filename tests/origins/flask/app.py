"""Flask (Werkzeug routing and dev server) with the method-override middleware from
Flask's documentation ("Adding HTTP Method Overrides"), as apps copy it."""
import json
import sys

from flask import Flask, request, jsonify


class HTTPMethodOverrideMiddleware:
    allowed_methods = frozenset(["GET", "HEAD", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"])
    bodyless_methods = frozenset(["GET", "HEAD", "OPTIONS", "DELETE"])

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        method = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", "").upper()
        if method in self.allowed_methods:
            environ["REQUEST_METHOD"] = method
        if method in self.bodyless_methods:
            environ["CONTENT_LENGTH"] = "0"
        return self.app(environ, start_response)


app = Flask(__name__)
app.wsgi_app = HTTPMethodOverrideMiddleware(app.wsgi_app)


def answer(route, status=200):
    dispatched = {"method": request.method, "route": route, "framework": "flask"}
    response = jsonify(dispatched)
    response.headers["X-Dispatched"] = json.dumps(dispatched)
    response.headers["X-Target"] = request.environ.get("RAW_URI", "")
    return response, status


@app.route("/v1/contacts", methods=["GET", "POST", "DELETE"])
def contacts():
    return answer("/v1/contacts")


@app.route("/v1/contacts/<id>", methods=["GET", "PUT", "PATCH", "DELETE"])
def contact(id):
    return answer("/v1/contacts/{id}")


@app.route("/v1/reports", methods=["GET"])
@app.route("/v1/reports/<path:rest>", methods=["GET"])
def reports(rest=None):
    return answer("/v1/reports/*")


@app.errorhandler(404)
@app.errorhandler(405)
@app.errorhandler(400)
def nothing_dispatched(error):
    return answer(None, error.code)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
