"""A Flask origin behind keygate_verify's WSGI middleware, on Werkzeug's server."""

import sys

from flask import Flask, jsonify, request

from common import VERIFIERS, answer
from keygate_verify.wsgi import ENVIRON_KEY, KeygateWSGIMiddleware

app = Flask(__name__)


@app.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@app.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def anything(rest):
    headers = [(name.lower(), value) for name, value in request.headers.items()]
    return jsonify(answer("flask", request.environ[ENVIRON_KEY], request.environ["RAW_URI"], headers, request.get_data()))


verified_apps = {name: KeygateWSGIMiddleware(app.wsgi_app, secrets=secrets) for name, secrets in VERIFIERS.items()}


def dispatch(environ, start_response):
    """Test plumbing: the X-Test-Verifier header picks which secrets verify this request."""
    return verified_apps[environ.get("HTTP_X_TEST_VERIFIER", "a")](environ, start_response)


if __name__ == "__main__":
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", int(sys.argv[1]), dispatch, threaded=True)
